//! erf, erfc, Φ and log Φ evaluated the way Optuna's `_erf.py` / `_truncnorm.py` evaluate them.
//!
//! Optuna has two error functions and picks one by *batch size*:
//! - fewer than [`ERF_POLY_MIN_BATCH`] elements: Python's `math.erf` per element, which on Linux
//!   is the C library's `erf` (glibc here) — reproduced by calling that same `erf`;
//! - from [`ERF_POLY_MIN_BATCH`] on: numpy code evaluating the rational approximations of
//!   FreeBSD's `s_erf.c` (without its `SET_LOW_WORD` refinement), reproduced by
//!   [`erf_polynomial`] with numpy's evaluation order (Horner from the highest coefficient,
//!   numerator and denominator separately, no fused multiply-add).
//!
//! Both agree to within a few ulps but not bit for bit, so every batched caller must pass the
//! batch it would have had in Optuna. All functions here are bit-exact against Optuna 5.0 /
//! numpy 2.4 on this machine for non-NaN results (checked by `tests/numerics_golden.rs`); for
//! NaN results only NaN-ness is reproduced, not the payload.

/// Bindings to the C math library (glibc on Linux, which std already links).
mod libm {
    extern "C" {
        pub fn erf(x: f64) -> f64;
        pub fn erfc(x: f64) -> f64;
        pub fn pow(x: f64, y: f64) -> f64;
    }
}

/// Batches at least this long go through the polynomial erf in Optuna's `_erf.erf`.
pub const ERF_POLY_MIN_BATCH: usize = 2000;

/// Python's `2 ** 0.5` (the correctly rounded √2).
const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// Python's `1 / 2 ** 0.5`: one ulp below the correctly rounded 1/√2 (hence not `FRAC_1_SQRT_2`).
const INV_SQRT_2: f64 = 0.707_106_781_186_547_5;
/// Python's `0.5 * math.log(2 * math.pi)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// The C library's `erf` (what Python's `math.erf` calls).
#[inline]
pub fn erf(x: f64) -> f64 {
    // SAFETY: `erf` from the C math library is a pure function of one `double` (it may set
    // `errno`, which is thread-local); it has no pointer arguments or other preconditions.
    unsafe { libm::erf(x) }
}

/// The C library's `erfc` (what Python's `math.erfc` calls).
#[inline]
pub fn erfc(x: f64) -> f64 {
    // SAFETY: as for `erf`: a pure libm function of one `double`, no preconditions.
    unsafe { libm::erfc(x) }
}

/// The C library's `pow`, as Python's `float ** float` calls it.
///
/// Used for Python's `a ** 2`, which glibc does not always round like `a * a`. The exponent goes
/// through `black_box` because LLVM would otherwise rewrite `pow(x, 2.0)` into `x * x`.
#[inline]
fn c_pow(x: f64, y: f64) -> f64 {
    let y = std::hint::black_box(y);
    // SAFETY: `pow` from the C math library is a pure function of two `double`s (it may set the
    // thread-local `errno`); no pointer arguments or other preconditions.
    unsafe { libm::pow(x, y) }
}

/// Coefficients of FreeBSD's `s_erf.c` (Sun Microsystems, 1993; freely redistributable),
/// written with the digits published there (more than an f64 holds, hence the lint allowance;
/// they parse to the same doubles as in Optuna's `_erf.py`). Each polynomial is listed from the
/// constant term up; a denominator's leading 1.0 is kept explicit because numpy's `Polynomial`
/// adds it like any other term.
#[allow(clippy::excessive_precision)]
mod coef {
    /// erx = (float)0.84506291151.
    pub(super) const ERX: f64 = 8.45062911510467529297e-01;
    /// 2/√π - 1, the slope used for tiny arguments.
    pub(super) const EFX: f64 = 1.28379167095512586316e-01;

    /// Numerator on [2**-28, 0.84375), in z = x².
    pub(super) const PP: [f64; 5] = [
        1.28379167095512558561e-01,
        -3.25042107247001499370e-01,
        -2.84817495755985104766e-02,
        -5.77027029648944159157e-03,
        -2.37630166566501626084e-05,
    ];
    /// Denominator on [2**-28, 0.84375), in z = x².
    pub(super) const QQ: [f64; 6] = [
        1.0,
        3.97917223959155352819e-01,
        6.50222499887672944485e-02,
        5.08130628187576562776e-03,
        1.32494738004321644526e-04,
        -3.96022827877536812320e-06,
    ];
    /// Numerator on [0.84375, 1.25), in s = x - 1.
    pub(super) const PA: [f64; 7] = [
        -2.36211856075265944077e-03,
        4.14856118683748331666e-01,
        -3.72207876035701323847e-01,
        3.18346619901161753674e-01,
        -1.10894694282396677476e-01,
        3.54783043256182359371e-02,
        -2.16637559486879084300e-03,
    ];
    /// Denominator on [0.84375, 1.25), in s = x - 1.
    pub(super) const QA: [f64; 7] = [
        1.0,
        1.06420880400844228286e-01,
        5.40397917702171048937e-01,
        7.18286544141962662868e-02,
        1.26171219808761642112e-01,
        1.36370839120290507362e-02,
        1.19844998467991074170e-02,
    ];
    /// Numerator of the erfc correction on [1.25, 1/0.35), in s = 1/x².
    pub(super) const RA: [f64; 8] = [
        -9.86494403484714822705e-03,
        -6.93858572707181764372e-01,
        -1.05586262253232909814e01,
        -6.23753324503260060396e01,
        -1.62396669462573470355e02,
        -1.84605092906711035994e02,
        -8.12874355063065934246e01,
        -9.81432934416914548592e00,
    ];
    /// Denominator of the erfc correction on [1.25, 1/0.35), in s = 1/x².
    pub(super) const SA: [f64; 9] = [
        1.0,
        1.96512716674392571292e01,
        1.37657754143519042600e02,
        4.34565877475229228821e02,
        6.45387271733267880336e02,
        4.29008140027567833386e02,
        1.08635005541779435134e02,
        6.57024977031928170135e00,
        -6.04244152148580987438e-02,
    ];
    /// Numerator of the erfc correction on [1/0.35, 6), in s = 1/x².
    pub(super) const RB: [f64; 7] = [
        -9.86494292470009928597e-03,
        -7.99283237680523006574e-01,
        -1.77579549177547519889e01,
        -1.60636384855821916062e02,
        -6.37566443368389627722e02,
        -1.02509513161107724954e03,
        -4.83519191608651397019e02,
    ];
    /// Denominator of the erfc correction on [1/0.35, 6), in s = 1/x².
    pub(super) const SB: [f64; 8] = [
        1.0,
        3.03380607434824582924e01,
        3.25792512996573918826e02,
        1.53672958608443695994e03,
        3.19985821950859553908e03,
        2.55305040643316442583e03,
        4.74528541206955367215e02,
        -2.24409524465858183362e01,
    ];
}
use coef::{EFX, ERX, PA, PP, QA, QQ, RA, RB, SA, SB};

/// Lower edges of the polynomial erf's ranges (of |x|).
const TINY_EDGE: f64 = 3.725_290_298_461_914e-9; // 2**-28
const SMALL2_EDGE: f64 = 0.84375;
const MED1_EDGE: f64 = 1.25;
/// Python's `1 / 0.35`.
const MED2_EDGE: f64 = 1.0 / 0.35;
const BIG_EDGE: f64 = 6.0;

/// A polynomial evaluated like numpy's `Polynomial.__call__` with the default domain/window:
/// start from the highest coefficient (numpy adds `x * 0`, which is `+0.0` for the finite
/// arguments used here and so changes nothing) and apply Horner's rule downwards, rounding the
/// product and the sum separately.
#[inline(always)]
fn horner<const N: usize>(c: &[f64; N], x: f64) -> f64 {
    let mut acc = 0.0;
    let mut first = true;
    for &ci in c.iter().rev() {
        if first {
            acc = ci;
            first = false;
        } else {
            acc = ci + acc * x;
        }
    }
    acc
}

/// numpy's `np.sign` for a float: 1, -1, 0 for either zero, NaN stays NaN.
#[inline(always)]
fn np_sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// FreeBSD's approximation on [0, 2**-28): `(1 + efx) * x`.
#[inline(always)]
fn erf_tiny(a: f64) -> f64 {
    (1.0 + EFX) * a
}

/// FreeBSD's approximation on [2**-28, 0.84375): `x * (1 + pp(x²) / qq(x²))`.
#[inline(always)]
fn erf_small1(a: f64) -> f64 {
    let z = a * a;
    a * (1.0 + horner(&PP, z) / horner(&QQ, z))
}

/// FreeBSD's approximation on [0.84375, 1.25): `erx + pa(x - 1) / qa(x - 1)`.
#[inline(always)]
fn erf_small2(a: f64) -> f64 {
    let s = a - 1.0;
    ERX + horner(&PA, s) / horner(&QA, s)
}

/// The exponent of the erfc form on [1.25, 1/0.35): `-x² - 0.5625 + ra(1/x²) / sa(1/x²)`.
#[inline(always)]
fn erf_med1_exponent(a: f64) -> f64 {
    let z = a * a;
    let s = 1.0 / z;
    -z - 0.5625 + horner(&RA, s) / horner(&SA, s)
}

/// The exponent of the erfc form on [1/0.35, 6): `-x² - 0.5625 + rb(1/x²) / sb(1/x²)`.
#[inline(always)]
fn erf_med2_exponent(a: f64) -> f64 {
    let z = a * a;
    let s = 1.0 / z;
    -z - 0.5625 + horner(&RB, s) / horner(&SB, s)
}

/// The erfc form on [1.25, 6) from its exponent: `1 - exp(e) / x`.
#[inline(always)]
fn erf_med_finish(a: f64, exponent: f64) -> f64 {
    1.0 - exponent.exp() / a
}

/// erf of a non-negative, non-NaN argument below 6 by FreeBSD's rational approximations.
#[inline(always)]
fn erf_poly_abs(a: f64) -> f64 {
    if a < TINY_EDGE {
        erf_tiny(a)
    } else if a < SMALL2_EDGE {
        erf_small1(a)
    } else if a < MED1_EDGE {
        erf_small2(a)
    } else if a < MED2_EDGE {
        erf_med_finish(a, erf_med1_exponent(a))
    } else {
        erf_med_finish(a, erf_med2_exponent(a))
    }
}

/// One element of Optuna's vectorised erf (the path taken for batches of at least
/// [`ERF_POLY_MIN_BATCH`] elements): `sign(x) * f(|x|)` with `f` FreeBSD's approximation on
/// `|x| < 6` and 1 above. Note that `sign(±0) = 0`, so `-0.0` maps to `+0.0` here.
#[inline]
pub fn erf_polynomial(x: f64) -> f64 {
    let a = x.abs();
    if a.is_nan() {
        return x;
    }
    let mag = if a < BIG_EDGE { erf_poly_abs(a) } else { 1.0 };
    np_sign(x) * mag
}

/// [`erf_polynomial`] over a slice into `out` (only `min(x.len(), out.len())` elements).
///
/// numpy evaluates each approximation range as a separate vectorised pass; since every element
/// goes through the same operations either way, a plain element-wise loop gives the same bits.
/// (Grouping by range here measured no faster.)
pub fn erf_polynomial_into(x: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = erf_polynomial(v);
    }
}

/// Which erf Optuna's `_erf.erf` uses for a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErfKernel {
    /// `math.erf` per element (batches shorter than [`ERF_POLY_MIN_BATCH`]).
    Libm,
    /// The vectorised FreeBSD polynomial (batches of [`ERF_POLY_MIN_BATCH`] or more).
    Polynomial,
}

impl ErfKernel {
    /// The kernel Optuna picks for a batch of `len` elements.
    #[inline]
    pub fn for_batch_len(len: usize) -> Self {
        if len < ERF_POLY_MIN_BATCH {
            ErfKernel::Libm
        } else {
            ErfKernel::Polynomial
        }
    }

    /// erf of one element with this kernel.
    #[inline]
    pub fn erf(self, x: f64) -> f64 {
        match self {
            ErfKernel::Libm => erf(x),
            ErfKernel::Polynomial => erf_polynomial(x),
        }
    }

    /// Optuna's `_ndtr` formula for one element with this kernel: `0.5 + 0.5 * erf(a / √2)`.
    #[inline]
    pub fn ndtr(self, a: f64) -> f64 {
        0.5 + 0.5 * self.erf(a / SQRT_2)
    }
}

/// Optuna's `_erf.erf` on a batch: `math.erf` per element below 2000 elements, the vectorised
/// FreeBSD polynomial from 2000 on.
pub fn erf_batch(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    erf_batch_into(x, &mut out);
    out
}

/// [`erf_batch`] into a caller-provided buffer. The kernel is chosen by `x.len()`; only
/// `min(x.len(), out.len())` elements are written.
pub fn erf_batch_into(x: &[f64], out: &mut [f64]) {
    match ErfKernel::for_batch_len(x.len()) {
        ErfKernel::Libm => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = erf(v);
            }
        }
        ErfKernel::Polynomial => erf_polynomial_into(x, out),
    }
}

/// Optuna's `_ndtr` on a batch: `0.5 + 0.5 * erf_batch(a / sqrt(2))`.
pub fn ndtr_batch(a: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len()];
    ndtr_batch_into(a, &mut out);
    out
}

/// [`ndtr_batch`] into a caller-provided buffer (kernel chosen by `a.len()`; only
/// `min(a.len(), out.len())` elements are written).
pub fn ndtr_batch_into(a: &[f64], out: &mut [f64]) {
    match ErfKernel::for_batch_len(a.len()) {
        ErfKernel::Libm => {
            for (o, &v) in out.iter_mut().zip(a) {
                *o = ErfKernel::Libm.ndtr(v);
            }
        }
        ErfKernel::Polynomial => {
            for (o, &v) in out.iter_mut().zip(a) {
                *o = ErfKernel::Polynomial.ndtr(v);
            }
        }
    }
}

/// Optuna's `_ndtr_single`: Φ(a) from `erfc` in the tails and `erf` in the middle.
#[inline]
pub fn ndtr_single(a: f64) -> f64 {
    let x = a / SQRT_2;
    if x < -INV_SQRT_2 {
        0.5 * erfc(-x)
    } else if x < INV_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        1.0 - 0.5 * erfc(x)
    }
}

/// Optuna's `_log_ndtr_single` (element-wise `_log_ndtr`).
///
/// `a > 6`: `-Φ(-a)` (log(1 - t) ≈ -t); `-20 < a <= 6`: `log Φ(a)`; otherwise (including NaN
/// and -inf) the asymptotic series of log Φ summed until successive partial sums differ by at
/// most machine epsilon. For `a < -1.3e154` Python raises `OverflowError` on `a ** 2`; here the
/// result is just `-inf`.
#[inline]
pub fn log_ndtr(a: f64) -> f64 {
    if a > 6.0 {
        return -ndtr_single(-a);
    }
    if a > -20.0 {
        return ndtr_single(a).ln();
    }
    log_ndtr_asymptotic(a)
}

/// The `a <= -20` branch of [`log_ndtr`]:
/// log Φ(a) = -a²/2 - log(-a) - log(2π)/2 + log(1 - 1/a² + 3/a⁴ - 15/a⁶ + ...).
#[cold]
fn log_ndtr_asymptotic(a: f64) -> f64 {
    let a_sq = c_pow(a, 2.0);
    let log_lhs = -0.5 * a_sq - (-a).ln() - HALF_LN_2PI;
    let mut last_total = 0.0f64;
    let mut total = 1.0f64;
    let mut numerator = 1.0f64;
    let mut denom_factor = 1.0f64;
    let denom_cons = 1.0 / a_sq;
    let mut sign = 1.0f64;
    let mut i = 0.0f64;
    // The series is asymptotic: for a <= -20 its terms fall below epsilon within ~15 terms and
    // the loop stops (a NaN comparison also stops it). The cap is only a guard and never binds.
    let mut guard = 0u32;
    while (last_total - total).abs() > f64::EPSILON && guard < 100_000 {
        guard += 1;
        i += 1.0;
        last_total = total;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2.0 * i - 1.0;
        total += sign * numerator * denom_factor;
    }
    log_lhs + total.ln()
}

/// [`log_ndtr`] of every element of `a` into `out` (only `min(a.len(), out.len())` elements),
/// in two stages: Φ of every element first (the C library's `erf`/`erfc`), then the
/// logarithms, so that the library calls of consecutive elements are independent and
/// overlap. The same operations as [`log_ndtr`], element by element.
pub(crate) fn log_ndtr_staged(a: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(a) {
        *o = if v > 6.0 {
            -ndtr_single(-v)
        } else if v > -20.0 {
            ndtr_single(v)
        } else {
            log_ndtr_asymptotic(v)
        };
    }
    for (o, &v) in out.iter_mut().zip(a) {
        if v <= 6.0 && v > -20.0 {
            *o = ln_out_of_line(*o);
        }
    }
}

/// `x.ln()` out of line (see `numpy_ops::exp_call`: kept from being evaluated for every
/// element of a loop whose condition selects only some).
#[inline(never)]
fn ln_out_of_line(x: f64) -> f64 {
    x.ln()
}

/// Element-wise [`log_ndtr`] into `out` (only `min(a.len(), out.len())` elements are written).
pub fn log_ndtr_into(a: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(a) {
        *o = log_ndtr(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_python() {
        assert_eq!(MED2_EDGE.to_bits(), 0x4006_db6d_b6db_6db7);
        assert_eq!(TINY_EDGE, 2f64.powi(-28));
        assert_eq!(SQRT_2.to_bits(), 0x3ff6_a09e_667f_3bcd);
        assert_eq!(INV_SQRT_2, 1.0 / SQRT_2);
        assert_eq!(INV_SQRT_2.to_bits(), 0x3fe6_a09e_667f_3bcc);
        assert_eq!(HALF_LN_2PI.to_bits(), 0x3fed_67f1_c864_beb4);
    }

    #[test]
    fn polynomial_specials() {
        assert_eq!(erf_polynomial(-0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(erf_polynomial(f64::INFINITY), 1.0);
        assert_eq!(erf_polynomial(f64::NEG_INFINITY), -1.0);
        assert!(erf_polynomial(f64::NAN).is_nan());
        assert_eq!(erf(-0.0).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn log_ndtr_specials() {
        assert_eq!(log_ndtr(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(log_ndtr(f64::INFINITY).to_bits(), (-0.0f64).to_bits());
        assert!(log_ndtr(f64::NAN).is_nan());
        assert!(log_ndtr(-1e300) == f64::NEG_INFINITY || log_ndtr(-1e300).is_nan());
    }

    #[test]
    fn kernels_agree_closely() {
        let mut x = -7.0;
        while x < 7.0 {
            let d = (erf(x) - erf_polynomial(x)).abs();
            assert!(d <= 4.0 * f64::EPSILON, "x={x} diff={d}");
            x += 0.001_3;
        }
    }
}
