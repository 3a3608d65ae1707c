//! The options of BOHB's model, with HpBandSter's defaults.

use crate::CoreError;

/// Options of the BOHB model (HpBandSter's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BohbOptions {
    /// N_min: a budget needs at least this many observations for a model. `0` means the
    /// default, the number of dimensions + 1; smaller values are raised to that (as HpBandSter
    /// does), because a KDE needs more rows than dimensions.
    pub min_points_in_model: usize,
    /// Percentage of the observations (by loss) that form the good set, in `1..=99`.
    pub top_n_percent: u32,
    /// Candidates drawn from the good KDE per model-based proposal (>= 1).
    pub num_samples: usize,
    /// Probability of a uniformly random proposal once a model exists, in `[0, 1]`.
    pub random_fraction: f64,
    /// Factor (> 0) on the continuous bandwidths when drawing candidates.
    pub bandwidth_factor: f64,
    /// Floor (> 0) on every bandwidth.
    pub min_bandwidth: f64,
}

impl Default for BohbOptions {
    fn default() -> Self {
        BohbOptions {
            min_points_in_model: 0,
            top_n_percent: 15,
            num_samples: 64,
            random_fraction: 1.0 / 3.0,
            bandwidth_factor: 3.0,
            min_bandwidth: 1e-3,
        }
    }
}

fn bad(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

impl BohbOptions {
    pub fn validate(&self) -> Result<(), CoreError> {
        if !(1..=99).contains(&self.top_n_percent) {
            return Err(bad(format!(
                "top_n_percent must be an integer in [1, 99], got {}",
                self.top_n_percent
            )));
        }
        if self.num_samples == 0 {
            return Err(bad("num_samples must be >= 1".into()));
        }
        if !(0.0..=1.0).contains(&self.random_fraction) {
            return Err(bad(format!(
                "random_fraction must be in [0, 1], got {}",
                self.random_fraction
            )));
        }
        if !(self.bandwidth_factor.is_finite() && self.bandwidth_factor > 0.0) {
            return Err(bad(format!(
                "bandwidth_factor must be finite and > 0, got {}",
                self.bandwidth_factor
            )));
        }
        if !(self.min_bandwidth.is_finite() && self.min_bandwidth > 0.0) {
            return Err(bad(format!(
                "min_bandwidth must be finite and > 0, got {}",
                self.min_bandwidth
            )));
        }
        Ok(())
    }

    /// The effective N_min for `d` dimensions: `max(min_points_in_model, d + 1)`.
    pub fn n_min(&self, d: usize) -> usize {
        self.min_points_in_model.max(d + 1)
    }
}
