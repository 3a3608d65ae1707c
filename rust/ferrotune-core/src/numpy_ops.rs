//! numpy's exact operation order for reductions and a few element-wise ufuncs. STUB.

/// `np.add.reduce` of a contiguous float64 array (numpy's pairwise summation).
pub fn pairwise_sum(x: &[f64]) -> f64 {
    let _ = x;
    unimplemented!()
}

/// `np.logaddexp(x, y)`.
pub fn logaddexp(x: f64, y: f64) -> f64 {
    let _ = (x, y);
    unimplemented!()
}
