//! Multi-objective building blocks of the TPE split, as Optuna 5.0 computes them.
//!
//! All points are loss vectors (every objective minimised; maximised objectives are negated by
//! the caller), stored row-major in a flat `&[f64]` of `n * m` values.
//!
//! - [`points`]: validation and the lexicographic de-duplication `np.unique(axis=0)` performs.
//! - [`nondominated`]: non-domination ranks (O(n log n) for two objectives), with Optuna's
//!   truncation after the best `n_below` points and its penalty-based ranking of infeasible
//!   points.
//! - [`hypervolume`]: exact hypervolume (2-D sweep, 3-D O(n²) grid, WFG for 4+ objectives).
//! - [`hssp`]: greedy hypervolume subset selection with Optuna's tie-breaking and lazy updates.
//! - [`split`]: the reference point and the below/above split of complete trials.

pub mod hssp;
pub mod hypervolume;
pub mod nondominated;
pub mod points;
pub mod split;

pub use hssp::solve_hssp;
pub use hypervolume::compute_hypervolume;
pub use nondominated::{nondomination_ranks, nondomination_ranks_with_penalty};
pub use split::{reference_point, split_below};
