//! argsort with a pluggable order for tied values.
//!
//! Optuna computes Parzen bandwidths from `np.argsort(mus)`, numpy's default (unstable) sort.
//! When no two values are equal every correct sort yields the same permutation, so the core
//! uses its own fast stable sort. Only when a dimension contains ties does the order of the
//! tied entries matter (tied kernels get different bandwidths); the estimator then asks an
//! injected [`ArgSort`] for the permutation, so that the Python bindings can hand the question to
//! numpy itself.

/// Something that can produce a sorting permutation of a slice of floats.
///
/// Implementations must return a permutation of `0..values.len()` that orders `values`
/// ascending. Callers validate the result and report an error instead of panicking when it is
/// not a permutation or does not sort the values.
pub trait ArgSort: Sync {
    fn argsort(&self, values: &[f64]) -> Vec<usize>;
}

/// A stable ascending argsort: equal values keep their input order, `-0.0` and `0.0` compare
/// equal, and NaNs (not expected) go last in input order, as numpy places them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StableArgSort;

impl ArgSort for StableArgSort {
    fn argsort(&self, values: &[f64]) -> Vec<usize> {
        let mut keys = Vec::new();
        let mut order = Vec::with_capacity(values.len());
        stable_argsort_into(values, &mut keys, &mut order);
        order
    }
}

/// Maps a float onto an unsigned key with the same order (`-0.0` is folded onto `0.0`, every
/// NaN onto the largest key).
#[inline]
fn order_key(v: f64) -> u64 {
    if v.is_nan() {
        return u64::MAX;
    }
    // `v + 0.0` turns -0.0 into +0.0 and leaves every other value unchanged.
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1u64 << 63)
    }
}

/// Stable argsort into `order`, using `keys` as scratch (both are cleared first).
///
/// Each entry is packed as `(order key << 64) | index`; indices are distinct, so an unstable
/// sort of the packed words is a stable sort of the values.
pub(crate) fn stable_argsort_into(values: &[f64], keys: &mut Vec<u128>, order: &mut Vec<usize>) {
    keys.clear();
    keys.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (u128::from(order_key(v)) << 64) | i as u128),
    );
    keys.sort_unstable();
    order.clear();
    // The low 64 bits hold the index, which came from a `usize`.
    order.extend(keys.iter().map(|&k| (k as u64) as usize));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_keeps_ties_in_input_order() {
        let v = [3.0, -1.0, 2.0, -1.0, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 2.0];
        let o = StableArgSort.argsort(&v);
        assert_eq!(o, vec![7, 1, 3, 4, 5, 2, 8, 0, 6]);
    }

    #[test]
    fn nan_goes_last_without_panicking() {
        let v = [f64::NAN, 1.0, -f64::NAN, 0.5];
        let o = StableArgSort.argsort(&v);
        assert_eq!(o, vec![3, 1, 0, 2]);
    }

    #[test]
    fn empty_and_single() {
        assert!(StableArgSort.argsort(&[]).is_empty());
        assert_eq!(StableArgSort.argsort(&[4.0]), vec![0]);
    }
}
