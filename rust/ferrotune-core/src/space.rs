//! Search-space dimensions in the internal representation.

use crate::CoreError;

/// One dimension. Observations of a categorical dimension are choice indices stored as f64.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// Float or int distribution. `low`/`high` are the distribution's own bounds (not
    /// log-transformed); `step` is `None` for continuous floats, `Some(step)` for stepped floats
    /// and for ints (int step >= 1).
    Numerical {
        low: f64,
        high: f64,
        step: Option<f64>,
        log: bool,
    },
    Categorical {
        n_choices: usize,
    },
}

impl Dim {
    /// A continuous float dimension.
    pub fn float(low: f64, high: f64, log: bool) -> Self {
        Dim::Numerical {
            low,
            high,
            step: None,
            log,
        }
    }

    /// A stepped float or int dimension.
    pub fn stepped(low: f64, high: f64, step: f64, log: bool) -> Self {
        Dim::Numerical {
            low,
            high,
            step: Some(step),
            log,
        }
    }

    /// A categorical dimension with `n_choices` choices.
    pub fn categorical(n_choices: usize) -> Self {
        Dim::Categorical { n_choices }
    }

    pub fn is_categorical(&self) -> bool {
        matches!(self, Dim::Categorical { .. })
    }

    /// Checks that the dimension can be handled: finite bounds with `low <= high`, a finite
    /// positive step, positive (step-widened) bounds on a log scale, at least one choice.
    /// `index` only appears in the error message.
    pub fn validate(&self, index: usize) -> Result<(), CoreError> {
        let bad = |m: String| {
            Err(CoreError::InvalidSearchSpace(format!(
                "dimension {index}: {m}"
            )))
        };
        match *self {
            Dim::Categorical { n_choices } => {
                if n_choices == 0 {
                    return bad("a categorical dimension needs at least one choice".into());
                }
            }
            Dim::Numerical {
                low,
                high,
                step,
                log,
            } => {
                if !low.is_finite() || !high.is_finite() {
                    return bad(format!("bounds must be finite, got low={low}, high={high}"));
                }
                if low > high {
                    return bad(format!(
                        "low must not exceed high, got low={low}, high={high}"
                    ));
                }
                if let Some(s) = step {
                    if !(s.is_finite() && s > 0.0) {
                        return bad(format!("step must be positive and finite, got {s}"));
                    }
                }
                if log {
                    let widened_low = match step {
                        Some(s) => low - s / 2.0,
                        None => low,
                    };
                    if widened_low.is_nan() || widened_low <= 0.0 {
                        return bad(match step {
                            Some(s) => format!(
                                "a log-scale dimension needs low - step/2 > 0, got low={low}, step={s}"
                            ),
                            None => format!("a log-scale dimension needs low > 0, got low={low}"),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks one value of this dimension in the internal representation: finite; for a
    /// categorical dimension an integral choice index in range; for a log-scale dimension
    /// positive. `what` names the value in the error message.
    pub fn validate_value(&self, value: f64, what: &dyn Fn() -> String) -> Result<(), CoreError> {
        if !value.is_finite() {
            return Err(CoreError::InvalidArgument(format!(
                "{} must be finite, got {value}",
                what()
            )));
        }
        match *self {
            Dim::Categorical { n_choices } => {
                if value < 0.0 || value.fract() != 0.0 || value >= n_choices as f64 {
                    return Err(CoreError::InvalidArgument(format!(
                        "{} must be a choice index in 0..{n_choices}, got {value}",
                        what()
                    )));
                }
            }
            Dim::Numerical { log: true, .. } => {
                if value <= 0.0 {
                    return Err(CoreError::InvalidArgument(format!(
                        "{} is on a log scale and must be positive, got {value}",
                        what()
                    )));
                }
            }
            Dim::Numerical { log: false, .. } => {}
        }
        Ok(())
    }
}

impl Dim {
    /// Checks a whole column of values of this dimension (see [`Dim::validate_value`]); `what`
    /// names value `j` in the error message.
    pub fn validate_column(
        &self,
        values: &[f64],
        what: &dyn Fn(usize) -> String,
    ) -> Result<(), CoreError> {
        let bad = match *self {
            Dim::Categorical { n_choices } => {
                let k = n_choices as f64;
                values
                    .iter()
                    .position(|&v| !(v >= 0.0 && v < k && v.fract() == 0.0))
            }
            Dim::Numerical { log: true, .. } => {
                values.iter().position(|&v| !(v.is_finite() && v > 0.0))
            }
            Dim::Numerical { log: false, .. } => values.iter().position(|v| !v.is_finite()),
        };
        match bad {
            Some(j) => self.validate_value(values[j], &|| what(j)),
            None => Ok(()),
        }
    }
}

/// Validates every dimension of a search space (which must not be empty).
pub fn validate_dims(dims: &[Dim]) -> Result<(), CoreError> {
    if dims.is_empty() {
        return Err(CoreError::InvalidSearchSpace(
            "the search space has no dimensions".into(),
        ));
    }
    for (i, dim) in dims.iter().enumerate() {
        dim.validate(i)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Dim::float(0.0, 1.0, false).validate(0).is_ok());
        assert!(Dim::float(1.0, 1.0, false).validate(0).is_ok());
        assert!(Dim::float(1.0, 0.0, false).validate(0).is_err());
        assert!(Dim::float(f64::NAN, 1.0, false).validate(0).is_err());
        assert!(Dim::float(0.0, 1.0, true).validate(0).is_err());
        assert!(Dim::float(1e-3, 1.0, true).validate(0).is_ok());
        assert!(Dim::stepped(1.0, 9.0, 1.0, true).validate(0).is_ok());
        assert!(Dim::stepped(0.5, 9.0, 1.0, true).validate(0).is_err());
        assert!(Dim::stepped(0.0, 9.0, 0.0, false).validate(0).is_err());
        assert!(Dim::stepped(0.0, 9.0, -1.0, false).validate(0).is_err());
        assert!(Dim::stepped(0.0, 9.0, f64::NAN, false).validate(0).is_err());
        assert!(Dim::categorical(0).validate(0).is_err());
        assert!(Dim::categorical(1).validate(0).is_ok());
        assert!(validate_dims(&[]).is_err());
    }

    #[test]
    fn value_validation() {
        let w = || "x".to_string();
        let c = Dim::categorical(3);
        assert!(c.validate_value(2.0, &w).is_ok());
        assert!(c.validate_value(3.0, &w).is_err());
        assert!(c.validate_value(-1.0, &w).is_err());
        assert!(c.validate_value(0.5, &w).is_err());
        let l = Dim::float(1.0, 10.0, true);
        assert!(l.validate_value(0.0, &w).is_err());
        assert!(l.validate_value(f64::NAN, &w).is_err());
        assert!(Dim::float(0.0, 1.0, false).validate_value(-5.0, &w).is_ok());
        let name = |j: usize| format!("v[{j}]");
        assert!(c.validate_column(&[0.0, 1.0, 2.0], &name).is_ok());
        let e = c.validate_column(&[0.0, 1.0, 2.5], &name);
        assert!(matches!(e, Err(CoreError::InvalidArgument(m)) if m.contains("v[2]")));
        assert!(c.validate_column(&[f64::NAN], &name).is_err());
        assert!(l.validate_column(&[1.0, -1.0], &name).is_err());
        assert!(l.validate_column(&[1.0, f64::INFINITY], &name).is_err());
        let f = Dim::float(0.0, 1.0, false);
        assert!(f.validate_column(&[1.0, -7.0], &name).is_ok());
        assert!(f.validate_column(&[1.0, f64::NEG_INFINITY], &name).is_err());
    }
}
