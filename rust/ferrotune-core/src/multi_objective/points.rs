//! Flat row-major point sets: shape checks and `np.unique(axis=0)`-style de-duplication.

use crate::CoreError;
use std::cmp::Ordering;

/// Checks that `data` holds `n` rows of `m` values and returns `n`.
pub fn n_rows(data: &[f64], m: usize) -> Result<usize, CoreError> {
    if m == 0 {
        return Err(CoreError::InvalidArgument(
            "points must have at least one objective".into(),
        ));
    }
    if !data.len().is_multiple_of(m) {
        return Err(CoreError::InvalidArgument(format!(
            "{} values cannot be split into rows of {m} objectives",
            data.len()
        )));
    }
    Ok(data.len() / m)
}

/// Rejects NaN coordinates (objective values of complete trials are never NaN in Optuna).
pub fn check_no_nan(data: &[f64], what: &str) -> Result<(), CoreError> {
    if data.iter().any(|v| v.is_nan()) {
        return Err(CoreError::InvalidArgument(format!(
            "{what} must not contain NaN"
        )));
    }
    Ok(())
}

/// Lexicographic comparison of two rows (`-0.0 == 0.0`; NaN, not expected, sorts last).
#[inline]
pub fn cmp_rows(a: &[f64], b: &[f64]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.partial_cmp(y) {
            Some(Ordering::Equal) => continue,
            Some(o) => return o,
            None => match (x.is_nan(), y.is_nan()) {
                (true, false) => return Ordering::Greater,
                (false, true) => return Ordering::Less,
                _ => continue,
            },
        }
    }
    Ordering::Equal
}

/// The unique rows of a point set in lexicographic order, as `np.unique(data, axis=0,
/// return_index=True, return_inverse=True)` gives them.
pub struct UniqueRows {
    /// The unique rows, lexicographically sorted, flat.
    pub values: Vec<f64>,
    /// For each unique row, the index of its first occurrence in the input.
    pub first_index: Vec<usize>,
    /// For each input row, the position of its value among the unique rows.
    pub inverse: Vec<usize>,
}

impl UniqueRows {
    pub fn len(&self) -> usize {
        self.first_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first_index.is_empty()
    }
}

pub fn unique_rows(data: &[f64], m: usize) -> UniqueRows {
    let n = data.len() / m;
    let row = |i: usize| &data[i * m..(i + 1) * m];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| cmp_rows(row(a), row(b))); // stable: first occurrences come first
    let mut values = Vec::with_capacity(data.len());
    let mut first_index = Vec::new();
    let mut inverse = vec![0usize; n];
    for (k, &i) in order.iter().enumerate() {
        let is_new = k == 0 || cmp_rows(row(order[k - 1]), row(i)) != Ordering::Equal;
        if is_new {
            values.extend_from_slice(row(i));
            first_index.push(i);
        }
        inverse[i] = first_index.len() - 1;
    }
    UniqueRows {
        values,
        first_index,
        inverse,
    }
}

/// numpy's `argmax`: the first maximum, or the first NaN if there is one. `None` when empty.
pub fn argmax(values: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            return Some(i);
        }
        match best {
            Some(b) if v <= values[b] => {}
            _ => best = Some(i),
        }
    }
    best
}
