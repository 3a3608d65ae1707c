//! Search-space dimensions in the internal representation. STUB (owned by the estimator work).

/// One dimension. Observations of a categorical dimension are choice indices stored as f64.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// Float or int distribution. `low`/`high` are the distribution's own bounds (not
    /// log-transformed); `step` is `None` for continuous floats, `Some(step)` for stepped floats
    /// and for ints (int step >= 1).
    Numerical { low: f64, high: f64, step: Option<f64>, log: bool },
    Categorical { n_choices: usize },
}
