//! erf, erfc, Φ and log Φ evaluated the way Optuna's `_erf.py` / `_truncnorm.py` evaluate them. STUB.

/// The C library's `erf` (what Python's `math.erf` calls).
pub fn erf(x: f64) -> f64 {
    let _ = x;
    unimplemented!()
}
/// The C library's `erfc` (what Python's `math.erfc` calls).
pub fn erfc(x: f64) -> f64 {
    let _ = x;
    unimplemented!()
}
/// Optuna's `_erf.erf` on a batch: `math.erf` per element below 2000 elements, the vectorised
/// FreeBSD polynomial from 2000 on.
pub fn erf_batch(x: &[f64]) -> Vec<f64> {
    let _ = x;
    unimplemented!()
}
/// Optuna's `_ndtr` on a batch: `0.5 + 0.5 * erf_batch(a / sqrt(2))`.
pub fn ndtr_batch(a: &[f64]) -> Vec<f64> {
    let _ = a;
    unimplemented!()
}
/// Optuna's `_ndtr_single`.
pub fn ndtr_single(a: f64) -> f64 {
    let _ = a;
    unimplemented!()
}
/// Optuna's `_log_ndtr_single` (element-wise `_log_ndtr`).
pub fn log_ndtr(a: f64) -> f64 {
    let _ = a;
    unimplemented!()
}
