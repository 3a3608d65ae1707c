//! Truncated-normal maths as Optuna's `_truncnorm.py` computes them (batch semantics included). STUB.

/// `_log_gauss_mass(a, b)` over equal-length batches (the central-case subset goes through
/// `ndtr_batch`, so its size decides which erf is used, as in Optuna).
pub fn log_gauss_mass(a: &[f64], b: &[f64]) -> Vec<f64> {
    let _ = (a, b);
    unimplemented!()
}
/// `_ndtri_exp(y)` with Optuna's shared Newton stopping rule over the whole batch.
pub fn ndtri_exp(y: &[f64]) -> Vec<f64> {
    let _ = y;
    unimplemented!()
}
/// `ppf(q, a, b)` over equal-length batches (left and right cases solved as separate batches).
pub fn ppf(q: &[f64], a: &[f64], b: &[f64]) -> Vec<f64> {
    let _ = (q, a, b);
    unimplemented!()
}
/// `logpdf(x[:, None, :], a, b, loc, scale)` with Optuna's broadcasting: `x` is `n_x * d`
/// row-major, `a`, `b`, `loc`, `scale` are `k * d` row-major; the result is `n_x * k * d`
/// row-major (not yet summed over `d`). `_log_gauss_mass` is evaluated once on the `k * d` grid.
pub fn logpdf_grid(
    x: &[f64],
    a: &[f64],
    b: &[f64],
    loc: &[f64],
    scale: &[f64],
    n_x: usize,
    k: usize,
    d: usize,
) -> Vec<f64> {
    let _ = (x, a, b, loc, scale, n_x, k, d);
    unimplemented!()
}
