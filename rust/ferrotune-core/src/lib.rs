//! ferrotune-core: the pure-Rust hot paths of ferrotune (no Python dependency).
//!
//! Layout (one concept per file):
//! - [`rng`]: numpy's legacy `RandomState` (MT19937) stream, bit for bit.
//! - [`numpy_ops`]: reductions and element-wise helpers with numpy's exact operation order.
//! - [`special`]: erf / erfc / Φ / log Φ as Optuna evaluates them.
//! - [`truncnorm`]: truncated-normal mass, ppf, logpdf (Optuna's `_truncnorm`).
//! - [`space`]: the encoding of search-space dimensions.
//! - [`split`]: the below/above split of finished trials and the gathering of observations.
//! - [`sort`]: argsort with a pluggable tie order.
//! - [`parzen`]: Parzen estimators (bandwidths, prior, categorical kernels).
//! - [`mixture`]: sampling from and scoring under a mixture of product kernels.
//! - [`tpe`]: one TPE step (build below/above estimators, draw, score, pick).
//! - [`trial_store`]: a native study's trials as columns, and the TPE step over them.
//! - `simd`: runtime dispatch of plain loops to AVX2-compiled copies.
//! - [`error`]: the error type.
//! - [`hyperband`]: Hyperband / successive-halving bracket arithmetic and rung bookkeeping.
//! - [`multi_objective`]: non-domination ranks, hypervolume, HSSP and the multi-objective split.
//! - [`bohb`]: BOHB's KDE model (budget choice, good/bad split, proposals).
//! - [`evo`]: genetic algorithm, particle swarm and ACO_R operators (GA/PSO/ACO samplers).

pub mod bohb;
pub mod error;
pub mod evo;
pub mod hyperband;
pub mod mixture;
pub mod multi_objective;
pub mod numpy_ops;
pub mod parzen;
pub mod rng;
mod simd;
pub mod sort;
pub mod space;
pub mod special;
pub mod split;
pub mod tpe;
pub mod trial_store;
pub mod truncnorm;

pub use error::CoreError;
