//! argsort with a pluggable order for tied values.
//!
//! Optuna computes Parzen bandwidths from `np.argsort(mus)`, numpy's default (unstable) sort.
//! When no two values are equal every correct sort yields the same permutation, so the core
//! uses its own fast stable sort. Only when a dimension contains ties does the order of the
//! tied entries matter (tied kernels get different bandwidths); the estimator then asks an
//! injected [`ArgSort`] for the permutation, so that the Python bindings can hand the question to
//! numpy itself. (With the magic clip, ties whose order cannot change any bandwidth are not
//! referred to it: tied centres well inside a cluster all get the clip's minimum.)

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
/// Each value's order key has its lowest bits replaced by its index, so one unstable sort of
/// distinct `u64` words orders the values by their truncated keys (ties by index); an
/// insertion pass over the full values then repairs the rare groups whose keys agree in all
/// but those low bits (and is nearly free otherwise: every comparison says "in order"). If the
/// repair needs too many moves (values packed extremely closely), the order is recomputed from
/// full 128-bit `(key, index)` words instead. (Measured faster here than bucket and radix
/// sorts, whose scatters and data-dependent branches cost more at these sizes.)
pub(crate) fn stable_argsort_into(values: &[f64], keys: &mut Vec<u64>, order: &mut Vec<usize>) {
    let n = values.len();
    order.clear();
    if n < 32 {
        order.extend(0..n);
        insertion_sort(values, order);
        return;
    }
    let bits = usize::BITS - (n - 1).leading_zeros();
    if bits >= 24 {
        return wide_argsort_into(values, order);
    }
    let low: u64 = (1u64 << bits) - 1;
    keys.clear();
    keys.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (order_key(v) & !low) | i as u64),
    );
    keys.sort_unstable();
    order.extend(keys.iter().map(|&k| (k & low) as usize));
    // Repair with a stable insertion sort by value (ties keep index order, which is the
    // current order within a group of equal truncated keys).
    let budget = 4 * n + 64;
    let mut moves = 0usize;
    for i in 1..n {
        let cur = order[i];
        let v = values[cur];
        if !greater(values[order[i - 1]], v) {
            continue;
        }
        let mut j = i;
        while j > 0 && greater(values[order[j - 1]], v) {
            order[j] = order[j - 1];
            j -= 1;
            moves += 1;
        }
        order[j] = cur;
        if moves > budget {
            return wide_argsort_into(values, order);
        }
    }
}

/// Stable insertion sort of the indices in `seg` by value (equal values keep their order).
fn insertion_sort(values: &[f64], seg: &mut [usize]) {
    for i in 1..seg.len() {
        let cur = seg[i];
        let v = values[cur];
        let mut j = i;
        while j > 0 && greater(values[seg[j - 1]], v) {
            seg[j] = seg[j - 1];
            j -= 1;
        }
        seg[j] = cur;
    }
}

/// `a > b` in numpy's sort order (NaN after everything, NaNs equal to each other).
#[inline]
fn greater(a: f64, b: f64) -> bool {
    if a.is_nan() {
        !b.is_nan()
    } else {
        a > b
    }
}

/// The plain version of [`stable_argsort_into`]: sorts `(key << 64) | index` words.
fn wide_argsort_into(values: &[f64], order: &mut Vec<usize>) {
    let mut wide: Vec<u128> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (u128::from(order_key(v)) << 64) | i as u128)
        .collect();
    wide.sort_unstable();
    order.clear();
    order.extend(wide.iter().map(|&k| (k as u64) as usize));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_keeps_ties_in_input_order() {
        let v = [
            3.0,
            -1.0,
            2.0,
            -1.0,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            2.0,
        ];
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
    fn agrees_with_a_reference_stable_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for &n in &[2usize, 3, 10, 100, 975, 1024, 1025, 5000] {
            for kind in 0..6 {
                let v: Vec<f64> = (0..n)
                    .map(|_| {
                        let r = next();
                        match kind {
                            // spread values
                            0 => (r >> 11) as f64 / (1u64 << 53) as f64 * 15.0 - 5.0,
                            // values agreeing in all but the lowest mantissa bits
                            1 => f64::from_bits(0x3ff0_0000_0000_0000 | (r % 4096)),
                            // many exact ties
                            2 => (r % 7) as f64,
                            // clustered: most values in a tiny part of the range
                            4 => {
                                let u = (r >> 11) as f64 / (1u64 << 53) as f64;
                                if r % 10 == 0 {
                                    u * 100.0
                                } else {
                                    50.0 + u * 1e-6
                                }
                            }
                            // with NaNs and infinities (not expected, must not panic)
                            5 if r % 97 == 0 => f64::INFINITY,
                            5 => (r % 1000) as f64 - 500.0,
                            // everything equal but a few
                            _ => {
                                if r % 50 == 0 {
                                    -1.0
                                } else {
                                    1.0 + f64::EPSILON * (r % 3) as f64
                                }
                            }
                        }
                    })
                    .collect();
                let mut reference: Vec<usize> = (0..n).collect();
                reference
                    .sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap_or(std::cmp::Ordering::Equal));
                assert_eq!(StableArgSort.argsort(&v), reference, "n={n} kind={kind}");
            }
        }
    }

    #[test]
    fn empty_and_single() {
        assert!(StableArgSort.argsort(&[]).is_empty());
        assert_eq!(StableArgSort.argsort(&[4.0]), vec![0]);
    }
}
