//! BOHB's configuration model (Falkner, Klein and Hutter, ICML 2018), as HpBandSter's
//! `config_generators/bohb.py` builds it, on configurations encoded as HpBandSter encodes them
//! (every non-categorical parameter mapped to [0, 1], categoricals as their choice index).
//!
//! One concept per file:
//! - [`options`]: the options (`min_points_in_model`, `top_n_percent`, ...) and their checks.
//! - [`kde`]: a product-kernel density estimate with the normal-reference bandwidth (Gaussian
//!   kernels for continuous dimensions, Aitchison–Aitken kernels for categorical ones).
//! - [`model`]: the choice of the model budget and the good/bad split.
//! - [`propose`]: one proposal (random fraction, candidates from the good KDE, `l/g` scoring).
//!
//! Every random number comes from the numpy-compatible [`crate::rng::Mt19937`] stream through
//! `random_sample()` only, in an order documented in [`propose`], so the pure-Python twin
//! (`ferrotune/_bohb_py.py`) reproduces every proposal bit for bit.

pub mod kde;
pub mod model;
pub mod options;
pub mod propose;

pub use kde::Kde;
pub use model::{fit_model, model_budget, Model, Observations};
pub use options::BohbOptions;
pub use propose::{propose, Proposal, Source};
