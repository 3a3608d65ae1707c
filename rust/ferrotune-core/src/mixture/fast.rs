//! The fast evaluation of the continuous terms (see the documentation of [`super`]).
//!
//! The log density of a point `x` under component `k` is
//! `row_k + (constant_k - s_k/2)` with `s_k = Σ_j t_j²`, `t_j = (x_j - μ_kj)·(1/σ_kj)` summed
//! over the continuous dimensions in order (`row_k` holds the categorical and discrete terms,
//! zero without such dimensions). The kernel evaluates `s` for a tile of [`TILE`] points and a
//! block of [`LANES`] components at a time with all partial sums in registers; the centres and
//! reciprocal bandwidths are stored block by block (`LANES` centres of dimension 0, their
//! `LANES` reciprocal bandwidths, then dimension 1, ...) so that a block is one contiguous
//! stream. The portable and the AVX2 kernels perform the same IEEE operations in the same order
//! (never FMA), so the result does not depend on the CPU.

use std::cell::RefCell;

use super::{Buf, NumericalKernels, LOG_SQRT_2PI};
use crate::numpy_ops;
use crate::special::ErfKernel;
use crate::truncnorm;

/// Components per block (two AVX2 vectors).
pub(super) const LANES: usize = 8;
/// Points per tile.
pub(super) const TILE: usize = 4;

/// Components more than this below the maximum are left out of the log-sum-exp (each would add
/// less than `e^-60 ≈ 9e-27` relative).
const FAST_GAP: f64 = 60.0;

/// The continuous numerical dimensions of a mixture, prepared for the fast evaluation.
#[derive(Clone, Debug, Default)]
pub(super) struct ContFast {
    /// Search-space index of each continuous dimension, in order.
    pub(super) dims: Vec<usize>,
    /// Per component: `log w + Σ_j (-log√(2π) - log_gauss_mass(a_j, b_j) - log σ_j)`, padded
    /// with `-inf` to a multiple of [`LANES`] components.
    constant: Buf<f64>,
    /// Per block of [`LANES`] components and continuous dimension `j`: the `LANES` centres,
    /// then the `LANES` reciprocal bandwidths (padding: centre 0, reciprocal 0).
    blocks: Buf<f64>,
    /// The fast evaluation applies (to points inside every continuous dimension's truncation
    /// bounds): every bandwidth finite and positive, every interval non-degenerate, no
    /// constant NaN or `+inf` (`-inf`, from a zero weight, is fine).
    pub(super) usable: bool,
}

impl ContFast {
    /// Prepares the continuous dimensions `cont` (search-space indices `dims`) of a mixture
    /// with normalised `weights`.
    pub(super) fn build(dims: Vec<usize>, cont: &[&NumericalKernels], weights: &[f64]) -> Self {
        let k = weights.len();
        let dc = cont.len();
        let padded = k.div_ceil(LANES) * LANES;
        let mut usable = cont
            .iter()
            .all(|num| num.mu.len() == k && num.sigma.len() == k);
        if dc == 0 || k == 0 || !usable {
            return ContFast {
                dims,
                usable: false,
                ..ContFast::default()
            };
        }
        // One pass over the kernels, block by block, writes the blocked layout and the
        // bandwidth products, counts the central truncation intervals and lists the kernels
        // whose interval is not saturated; the log masses of those are computed afterwards,
        // with the erf kernel the count selects (saturated intervals have log mass -0.0 with
        // either kernel).
        for num in cont {
            usable &= num.adapted_low < num.adapted_high;
        }
        let mut blocks = Buf::with_capacity(padded * dc * 2);
        let mut prod = Buf::filled(k, 1.0);
        let mut rest = Vec::new();
        let scan = scan_kernels(cont, &mut blocks, &mut prod, &mut rest);
        usable &= scan.usable;
        let central = scan.central;
        // constant_k = log(w_k / Π_j σ_kj) - dc·log√(2π) - Σ_j log_mass_kj, the masses
        // subtracted in dimension order (subtracting a saturated -0.0 changes nothing: the
        // constant is never -0.0).
        let kernel = ErfKernel::for_batch_len(central);
        let mut constant = Buf::filled(padded, -(dc as f64) * LOG_SQRT_2PI);
        let (ra, rb): (Vec<f64>, Vec<f64>) = rest
            .iter()
            .map(|&(j, comp)| {
                let num = cont[j];
                let inv = 1.0 / num.sigma[comp];
                (
                    (num.adapted_low - num.mu[comp]) * inv,
                    (num.adapted_high - num.mu[comp]) * inv,
                )
            })
            .unzip();
        let mut masses = vec![0.0; rest.len()];
        truncnorm::log_gauss_mass_staged(kernel, &ra, &rb, &mut masses);
        for (&(_, comp), &m) in rest.iter().zip(&masses) {
            if let Some(c) = constant.get_mut(comp) {
                *c -= m;
            }
        }
        for (comp, ((c, &p), &w)) in constant
            .iter_mut()
            .zip(prod.iter())
            .zip(weights)
            .enumerate()
        {
            let q = w / p;
            let log_q = if q.is_normal() || q == 0.0 {
                q.ln()
            } else {
                // Under- or overflow: sum the logarithms instead.
                w.ln() - cont.iter().map(|num| num.sigma[comp].ln()).sum::<f64>()
            };
            *c += log_q;
            usable &= !(c.is_nan() || *c == f64::INFINITY);
        }
        for c in constant[k..].iter_mut() {
            *c = f64::NEG_INFINITY;
        }
        ContFast {
            dims,
            constant,
            blocks,
            usable,
        }
    }

    /// Number of components rounded up to a multiple of [`LANES`]: the length of a density row.
    pub(super) fn padded_len(&self) -> usize {
        self.constant.len()
    }

    /// The log densities of the [`TILE`] points `xt` (continuous values in the working space,
    /// dimension-major: `xt[j * TILE + q]`) under every component, into
    /// `dens[q * padded_len()..][..padded_len()]` (padding components get `-inf`), adding
    /// `rows[q]` (categorical and discrete terms, `padded_len()` values each, zero padding)
    /// when given. Returns per point its largest density and whether its row contains a NaN;
    /// `None`, having written nothing useful, if the lengths do not fit.
    pub(super) fn densities(
        &self,
        xt: &[f64],
        rows: Option<[&[f64]; TILE]>,
        dens: &mut [f64],
    ) -> Option<[RowSummary; TILE]> {
        let kp = self.padded_len();
        let dc = self.dims.len();
        let fits = kp.is_multiple_of(LANES)
            && self.blocks.len() == kp * dc * 2
            && xt.len() == dc * TILE
            && dens.len() == TILE * kp
            && rows.is_none_or(|r| r.iter().all(|r| r.len() == kp));
        if !fits || dc == 0 {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if crate::simd::use_avx2() {
                // SAFETY: the CPU supports AVX2 (`use_avx2` checked it) and the lengths were
                // checked against each other above, as `densities_avx2` requires.
                return Some(unsafe {
                    densities_avx2(&self.blocks, &self.constant, dc, xt, rows, dens)
                });
            }
        }
        Some(densities_portable(
            &self.blocks,
            &self.constant,
            dc,
            xt,
            rows,
            dens,
        ))
    }
}

/// What [`ContFast::densities`] reports for one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct RowSummary {
    /// The largest density (`-inf` if all are, meaningless if `nan`).
    pub(super) max: f64,
    /// Whether a density is NaN.
    pub(super) nan: bool,
}

/// What [`scan_kernels`] found.
struct Scan {
    /// Number of central truncation intervals (neither `a > 0` nor `b <= 0`, NaN included).
    central: usize,
    /// Every bandwidth finite and positive, and every centre within `1e12·(hi - lo)` of both
    /// bounds (farther, `a == b` could happen in floating point; left to the exact path).
    usable: bool,
}

/// Whether the truncation interval `[a, b]` is central (neither `a > 0` nor `b <= 0`, NaN
/// included), as Optuna's `_log_gauss_mass` splits its batch.
#[inline(always)]
fn is_central(a: f64, b: f64) -> bool {
    !(a > 0.0 || b <= 0.0)
}

/// Whether both bounds of `[a, b]` are beyond [`truncnorm::POLY_SATURATED`] (then the interval
/// is central and its log mass is `-0.0` with either erf kernel).
#[inline(always)]
fn is_saturated(a: f64, b: f64) -> bool {
    a <= -truncnorm::POLY_SATURATED && b >= truncnorm::POLY_SATURATED
}

/// One pass over the kernels of the continuous dimensions `cont` (all with `prod.len()`
/// components), block of [`LANES`] components by block: appends the blocked layout (per block
/// and dimension the centres, then the reciprocal bandwidths; padding 0) to `blocks`,
/// multiplies each component's bandwidths into `prod` in dimension order, and classifies the
/// standardised truncation intervals `a = (lo - μ)·(1/σ)`, `b = (hi - μ)·(1/σ)`: counts the
/// central ones and appends `(dimension, component)` to `rest` for every interval that is not
/// saturated, the dimensions of a component in increasing order.
fn scan_kernels(
    cont: &[&NumericalKernels],
    blocks: &mut Vec<f64>,
    prod: &mut [f64],
    rest: &mut Vec<(usize, usize)>,
) -> Scan {
    let k = prod.len();
    if cont
        .iter()
        .any(|num| num.mu.len() != k || num.sigma.len() != k)
    {
        return Scan {
            central: 0,
            usable: false,
        };
    }
    let usable = cont
        .iter()
        .all(|num| bandwidths_usable(&num.mu, &num.sigma, num.adapted_low, num.adapted_high));
    let start = rest.len();
    let full = k / LANES;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() {
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it) and every kernel array has
            // `k = prod.len()` components (checked above), as `scan_blocks_avx2` requires.
            unsafe { scan_blocks_avx2(cont, full, blocks, prod, rest) };
            done = full;
        }
    }
    for b in done..k.div_ceil(LANES) {
        scan_block_portable(cont, b, blocks, prod, rest);
    }
    // Saturated intervals are central; of the others, count.
    let listed = &rest[start.min(rest.len())..];
    let central = k * cont.len() - listed.len()
        + listed
            .iter()
            .filter(|&&(j, c)| {
                let num = cont[j];
                let inv = 1.0 / num.sigma[c];
                let a = (num.adapted_low - num.mu[c]) * inv;
                let b = (num.adapted_high - num.mu[c]) * inv;
                is_central(a, b)
            })
            .count();
    Scan { central, usable }
}

/// [`scan_kernels`] for block `b` (possibly partial, or past the end: then nothing), element by
/// element.
fn scan_block_portable(
    cont: &[&NumericalKernels],
    b: usize,
    blocks: &mut Vec<f64>,
    prod: &mut [f64],
    rest: &mut Vec<(usize, usize)>,
) {
    let k = prod.len();
    let start = b * LANES;
    if start >= k {
        return;
    }
    let end = (start + LANES).min(k);
    for (c, p) in prod.iter_mut().enumerate().take(end).skip(start) {
        for (j, num) in cont.iter().enumerate() {
            let (m, s) = (num.mu[c], num.sigma[c]);
            let inv = 1.0 / s;
            *p *= s;
            let a = (num.adapted_low - m) * inv;
            let bb = (num.adapted_high - m) * inv;
            if !is_saturated(a, bb) {
                rest.push((j, c));
            }
        }
    }
    let mut seg = [0.0f64; 2 * LANES];
    for num in cont {
        seg.fill(0.0);
        for c in start..end {
            seg[c - start] = num.mu[c];
            seg[LANES + c - start] = 1.0 / num.sigma[c];
        }
        blocks.extend_from_slice(&seg);
    }
}

/// [`scan_kernels`] for the full blocks `0..full`, eight components (two vectors) at a time.
/// Most bandwidths of a dimension are equal (the magic clip's minimum): a vector of four equal
/// to the last one divided reuses its reciprocal instead of dividing again (the same value).
///
/// # Safety
///
/// The CPU must support AVX2 and every kernel array must have at least
/// `max(prod.len(), full * LANES)` components.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_blocks_avx2(
    cont: &[&NumericalKernels],
    full: usize,
    blocks: &mut Vec<f64>,
    prod: &mut [f64],
    rest: &mut Vec<(usize, usize)>,
) {
    use std::arch::x86_64::*;
    let dc = cont.len();
    let sat_lo = _mm256_set1_pd(-truncnorm::POLY_SATURATED);
    let sat_hi = _mm256_set1_pd(truncnorm::POLY_SATURATED);
    let len = full * dc * 2 * LANES;
    blocks.reserve(len);
    let start = blocks.len();
    let mut out = blocks.as_mut_ptr().add(start);
    // Per dimension: the last bandwidth divided and its reciprocal.
    let mut last_sigma = vec![f64::NAN; dc];
    let mut last_inv = vec![0.0f64; dc];
    for b in 0..full {
        let c = b * LANES;
        let mut p0 = _mm256_set1_pd(1.0);
        let mut p1 = p0;
        for j in 0..dc {
            let num = cont[j];
            let (lo, hi) = (
                _mm256_set1_pd(num.adapted_low),
                _mm256_set1_pd(num.adapted_high),
            );
            for h in 0..2 {
                // In bounds: c + 4 * h + 4 <= full * LANES <= the kernel arrays' length.
                let m = _mm256_loadu_pd(num.mu.as_ptr().add(c + 4 * h));
                let s = _mm256_loadu_pd(num.sigma.as_ptr().add(c + 4 * h));
                let same = _mm256_cmp_pd::<_CMP_EQ_OQ>(s, _mm256_set1_pd(last_sigma[j]));
                let inv = if _mm256_movemask_pd(same) == 0b1111 {
                    _mm256_set1_pd(last_inv[j])
                } else {
                    let inv = _mm256_div_pd(_mm256_set1_pd(1.0), s);
                    let mut lanes = [0.0f64; 4];
                    _mm256_storeu_pd(lanes.as_mut_ptr(), inv);
                    last_sigma[j] = *num.sigma.as_ptr().add(c + 4 * h + 3);
                    last_inv[j] = lanes[3];
                    inv
                };
                // In bounds: `out` advances by 2 * LANES per dimension and block, up to
                // `len` elements past `start`, within the reserved capacity.
                _mm256_storeu_pd(out.add(4 * h), m);
                _mm256_storeu_pd(out.add(LANES + 4 * h), inv);
                if h == 0 {
                    p0 = _mm256_mul_pd(p0, s);
                } else {
                    p1 = _mm256_mul_pd(p1, s);
                }
                let a = _mm256_mul_pd(_mm256_sub_pd(lo, m), inv);
                let bb = _mm256_mul_pd(_mm256_sub_pd(hi, m), inv);
                let sat = _mm256_movemask_pd(_mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_LE_OQ>(a, sat_lo),
                    _mm256_cmp_pd::<_CMP_GE_OQ>(bb, sat_hi),
                ));
                if sat != 0b1111 {
                    push_unsaturated(rest, sat, j, c + 4 * h);
                }
            }
            out = out.add(2 * LANES);
        }
        // The products start from 1.0 and multiply the bandwidths in dimension order, as the
        // portable path does; `prod` holds 1.0 here.
        // In bounds: c + LANES <= full * LANES <= prod.len().
        let pp = prod.as_mut_ptr().add(c);
        _mm256_storeu_pd(pp, _mm256_mul_pd(_mm256_loadu_pd(pp), p0));
        _mm256_storeu_pd(pp.add(4), _mm256_mul_pd(_mm256_loadu_pd(pp.add(4)), p1));
    }
    // SAFETY (set_len): the `len` slots after `start` were all written above.
    blocks.set_len(start + len);
}

/// Appends `(j, first + l)` to `rest` for each lane `l` of the 4-bit mask `saturated` that is
/// clear (kept out of line: the hot loop rarely gets here).
#[cold]
#[inline(never)]
fn push_unsaturated(rest: &mut Vec<(usize, usize)>, saturated: i32, j: usize, first: usize) {
    for l in 0..4 {
        if saturated & (1 << l) == 0 {
            rest.push((j, first + l));
        }
    }
}

/// Whether every bandwidth is finite and positive and every centre within `1e12·(hi - lo)` of
/// both bounds (see [`Scan::usable`]).
fn bandwidths_usable(mu: &[f64], sigma: &[f64], lo: f64, hi: f64) -> bool {
    if mu.len() != sigma.len() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() {
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it); the lengths are equal.
            return unsafe { bandwidths_usable_avx2(mu, sigma, lo, hi) };
        }
    }
    bandwidths_usable_portable(mu, sigma, lo, hi)
}

fn bandwidths_usable_portable(mu: &[f64], sigma: &[f64], lo: f64, hi: f64) -> bool {
    let lim = 1e12 * (hi - lo);
    mu.iter().zip(sigma).all(|(&m, &s)| {
        s > 0.0 && s < f64::INFINITY && (lo - m).abs() <= lim && (hi - m).abs() <= lim
    })
}

/// [`bandwidths_usable`] from the extremes of the bandwidths and centres, which is exact: the
/// rounded `bound - μ` is monotone in μ, so its magnitude is largest at an extreme centre.
///
/// # Safety
///
/// The CPU must support AVX2 and `mu.len() == sigma.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bandwidths_usable_avx2(mu: &[f64], sigma: &[f64], lo: f64, hi: f64) -> bool {
    use std::arch::x86_64::*;
    let n = mu.len();
    let full = n - n % 4;
    let (mut s_min, mut s_max) = (
        _mm256_set1_pd(f64::INFINITY),
        _mm256_set1_pd(f64::NEG_INFINITY),
    );
    let (mut m_min, mut m_max) = (s_min, s_max);
    let mut nan = _mm256_setzero_pd();
    let mut i = 0;
    while i < full {
        // In bounds: i + 4 <= full <= n.
        let m = _mm256_loadu_pd(mu.as_ptr().add(i));
        let s = _mm256_loadu_pd(sigma.as_ptr().add(i));
        s_min = _mm256_min_pd(s_min, s);
        s_max = _mm256_max_pd(s_max, s);
        m_min = _mm256_min_pd(m_min, m);
        m_max = _mm256_max_pd(m_max, m);
        nan = _mm256_or_pd(nan, _mm256_cmp_pd::<_CMP_UNORD_Q>(s, m));
        i += 4;
    }
    if _mm256_movemask_pd(nan) != 0 {
        return false;
    }
    let mut lanes = [[0.0f64; 4]; 4];
    for (out, v) in lanes.iter_mut().zip([s_min, s_max, m_min, m_max]) {
        _mm256_storeu_pd(out.as_mut_ptr(), v);
    }
    let lim = 1e12 * (hi - lo);
    let near = |m: f64| (lo - m).abs() <= lim && (hi - m).abs() <= lim;
    let vectors_fine = (0..4).all(|l| {
        // Lanes that saw nothing keep their infinite start values.
        let empty = full == 0;
        empty
            || (lanes[0][l] > 0.0
                && lanes[1][l] < f64::INFINITY
                && near(lanes[2][l])
                && near(lanes[3][l]))
    });
    vectors_fine && bandwidths_usable_portable(&mu[full..], &sigma[full..], lo, hi)
}

/// [`ContFast::densities`] without SIMD intrinsics (the same operations, element by element).
fn densities_portable(
    blocks: &[f64],
    constant: &[f64],
    dc: usize,
    xt: &[f64],
    rows: Option<[&[f64]; TILE]>,
    dens: &mut [f64],
) -> [RowSummary; TILE] {
    let kp = constant.len();
    let mut sum = [RowSummary {
        max: f64::NEG_INFINITY,
        nan: false,
    }; TILE];
    for (b, block) in blocks.chunks_exact(dc * 2 * LANES).enumerate() {
        for (q, sum) in sum.iter_mut().enumerate() {
            let mut s = [0.0f64; LANES];
            for (j, seg) in block.chunks_exact(2 * LANES).enumerate() {
                let x = xt[j * TILE + q];
                let (mu, inv) = seg.split_at(LANES);
                for ((s, &m), &is) in s.iter_mut().zip(mu).zip(inv) {
                    let t = (x - m) * is;
                    *s += t * t;
                }
            }
            let start = b * LANES;
            let out = &mut dens[q * kp + start..q * kp + start + LANES];
            for (l, (o, &s)) in out.iter_mut().zip(&s).enumerate() {
                let mut d = constant[start + l] - 0.5 * s;
                if let Some(rows) = rows {
                    d += rows[q][start + l];
                }
                *o = d;
                if d > sum.max {
                    sum.max = d;
                }
                sum.nan |= d.is_nan();
            }
        }
    }
    sum
}

/// [`densities_portable`] with AVX2 intrinsics: per block, the `TILE × LANES` partial sums
/// stay in eight registers while the block's dimensions stream past; the points' values are
/// broadcast to vectors once, read as memory operands, and `(μ - x)·(1/σ)` (exactly minus
/// `(x - μ)·(1/σ)`, so the same square) is formed.
///
/// # Safety
///
/// The CPU must support AVX2, and the lengths must be as [`ContFast::densities`] checks them:
/// `constant.len()` a multiple of [`LANES`], `blocks.len() == constant.len() * dc * 2`,
/// `xt.len() == dc * TILE`, `dens.len() == TILE * constant.len()`, every row (if any) of
/// length `constant.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn densities_avx2(
    blocks: &[f64],
    constant: &[f64],
    dc: usize,
    xt: &[f64],
    rows: Option<[&[f64]; TILE]>,
    dens: &mut [f64],
) -> [RowSummary; TILE] {
    use std::arch::x86_64::*;
    let kp = constant.len();
    let nb = kp / LANES;
    let half = _mm256_set1_pd(0.5);
    let mut max = [_mm256_set1_pd(f64::NEG_INFINITY); TILE];
    let mut nan = [_mm256_setzero_pd(); TILE];
    let bp = blocks.as_ptr();
    // Every x broadcast to a vector once, read as a memory operand below.
    let xb: Vec<__m256d> = xt.iter().map(|&v| _mm256_set1_pd(v)).collect();
    let xbp = xb.as_ptr();
    let cp = dens.as_mut_ptr();
    for b in 0..nb {
        let mut acc = [[_mm256_setzero_pd(); 2]; TILE];
        for j in 0..dc {
            // In bounds: (b * dc + j + 1) * 2 * LANES <= nb * dc * 2 * LANES = blocks.len().
            let seg = bp.add((b * dc + j) * 2 * LANES);
            let mu0 = _mm256_loadu_pd(seg);
            let mu1 = _mm256_loadu_pd(seg.add(4));
            let iv0 = _mm256_loadu_pd(seg.add(8));
            let iv1 = _mm256_loadu_pd(seg.add(12));
            for (q, acc) in acc.iter_mut().enumerate() {
                // In bounds: j * TILE + q < dc * TILE = xb.len().
                let x = *xbp.add(j * TILE + q);
                // (μ - x)·(1/σ) is exactly minus (x - μ)·(1/σ): the same square.
                let t0 = _mm256_mul_pd(_mm256_sub_pd(mu0, x), iv0);
                let t1 = _mm256_mul_pd(_mm256_sub_pd(mu1, x), iv1);
                acc[0] = _mm256_add_pd(acc[0], _mm256_mul_pd(t0, t0));
                acc[1] = _mm256_add_pd(acc[1], _mm256_mul_pd(t1, t1));
            }
        }
        let start = b * LANES;
        // In bounds: start + LANES <= kp = constant.len().
        let c0 = _mm256_loadu_pd(constant.as_ptr().add(start));
        let c1 = _mm256_loadu_pd(constant.as_ptr().add(start + 4));
        for (q, acc) in acc.iter().enumerate() {
            let mut d0 = _mm256_sub_pd(c0, _mm256_mul_pd(half, acc[0]));
            let mut d1 = _mm256_sub_pd(c1, _mm256_mul_pd(half, acc[1]));
            if let Some(rows) = rows {
                // In bounds: every row has kp elements.
                let rp = rows[q].as_ptr().add(start);
                d0 = _mm256_add_pd(_mm256_loadu_pd(rp), d0);
                d1 = _mm256_add_pd(_mm256_loadu_pd(rp.add(4)), d1);
                // Only the categorical and discrete terms can bring a NaN.
                nan[q] = _mm256_or_pd(nan[q], _mm256_cmp_pd::<_CMP_UNORD_Q>(d0, d1));
            }
            // In bounds: q * kp + start + LANES <= TILE * kp = dens.len().
            let op = cp.add(q * kp + start);
            _mm256_storeu_pd(op, d0);
            _mm256_storeu_pd(op.add(4), d1);
            max[q] = _mm256_max_pd(max[q], _mm256_max_pd(d0, d1));
        }
    }
    let mut out = [RowSummary {
        max: f64::NEG_INFINITY,
        nan: false,
    }; TILE];
    for (q, o) in out.iter_mut().enumerate() {
        let mut lanes = [0.0f64; 4];
        _mm256_storeu_pd(lanes.as_mut_ptr(), max[q]);
        // The order of a maximum does not matter here (no NaN enters the comparison that
        // matters: a NaN row is reported as such), up to the sign of a zero maximum, which
        // cannot change the log-sum-exp.
        for &v in &lanes {
            if v > o.max {
                o.max = v;
            }
        }
        o.nan = _mm256_movemask_pd(nan[q]) != 0;
    }
    out
}

/// Number of set bits of each 4-bit lane mask.
const POPCOUNT4: [usize; 16] = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];

/// Scratch of the fast scoring, kept per thread between calls (so that its buffers are not
/// reallocated and refilled for every evaluation).
#[derive(Default)]
pub(super) struct FastWork {
    /// The continuous values of a tile of points, dimension-major.
    pub(super) xt: Vec<f64>,
    /// The densities of a tile of points.
    pub(super) dens: Buf<f64>,
    /// The shifted densities within reach of the maximum, then their exponentials.
    pub(super) near: Vec<f64>,
}

thread_local! {
    static FAST_WORK: RefCell<FastWork> = RefCell::new(FastWork::default());
}

impl FastWork {
    /// This thread's scratch (an empty one if it is in use or unavailable).
    pub(super) fn take() -> FastWork {
        FAST_WORK
            .try_with(|w| {
                w.try_borrow_mut()
                    .map(|mut w| std::mem::take(&mut *w))
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Hands the scratch back to this thread for the next call.
    pub(super) fn give_back(self) {
        let _ = FAST_WORK.try_with(|w| {
            if let Ok(mut slot) = w.try_borrow_mut() {
                *slot = self;
            }
        });
    }

    /// `log Σ_k exp(dens_k)` of one density row whose maximum is `max` (NaN if `nan`), with
    /// Optuna's max shift (a `-inf` maximum replaced by 0), leaving out the components more
    /// than [`FAST_GAP`] below the maximum; the others are exponentiated by
    /// [`exp_nonpositive`] and summed pairwise in component order.
    pub(super) fn log_sum_exp(&mut self, dens: &[f64], max: f64, nan: bool) -> f64 {
        if nan {
            return f64::NAN;
        }
        let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
        self.near.clear();
        gather_near(dens, max, &mut self.near);
        exps_nonpositive(&mut self.near);
        numpy_ops::pairwise_sum(&self.near).ln() + max
    }
}

/// Appends `d - max` for every `d` of `dens` with `d - max >= -FAST_GAP`, in order.
fn gather_near(dens: &[f64], max: f64, near: &mut Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() {
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it).
            unsafe { gather_near_avx2(dens, max, near) };
            return;
        }
    }
    gather_near_portable(dens, max, near)
}

fn gather_near_portable(dens: &[f64], max: f64, near: &mut Vec<f64>) {
    for &d in dens {
        let t = d - max;
        if t >= -FAST_GAP {
            near.push(t);
        }
    }
}

/// For each 4-bit lane mask, the 32-bit lane indices that move the selected 64-bit lanes to
/// the front, in order (for `_mm256_permutevar8x32_ps`).
#[cfg(target_arch = "x86_64")]
const COMPACT: [[u32; 8]; 16] = {
    let mut table = [[0u32; 8]; 16];
    let mut mask = 0;
    while mask < 16 {
        let mut out = 0;
        let mut lane = 0;
        while lane < 4 {
            if mask & (1 << lane) != 0 {
                table[mask][2 * out] = 2 * lane as u32;
                table[mask][2 * out + 1] = 2 * lane as u32 + 1;
                out += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

/// [`gather_near`] without data-dependent branches: each group of four shifted densities is
/// compacted with a lane permutation and stored at the end of `near`, which then grows by the
/// number of kept lanes.
///
/// # Safety
///
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gather_near_avx2(dens: &[f64], max: f64, near: &mut Vec<f64>) {
    use std::arch::x86_64::*;
    let m = _mm256_set1_pd(max);
    let gap = _mm256_set1_pd(-FAST_GAP);
    let chunks = dens.chunks_exact(4);
    let tail = chunks.remainder();
    // Room for every density plus one full vector store past the last kept one.
    near.reserve(dens.len() + 4);
    let start = near.len();
    let dst = near.as_mut_ptr().add(start);
    let mut len = 0usize;
    for c in chunks {
        // In bounds: `c` has 4 elements.
        let t = _mm256_sub_pd(_mm256_loadu_pd(c.as_ptr()), m);
        let keep = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(t, gap)) as usize;
        // In bounds: `keep < 16`.
        let perm = _mm256_loadu_si256(COMPACT[keep & 15].as_ptr().cast());
        let packed = _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(t), perm));
        // In bounds: len <= 4 * (chunks so far) <= dens.len() - 4 before this store, and
        // `near` has room for start + dens.len() + 4 elements.
        _mm256_storeu_pd(dst.add(len), packed);
        len += POPCOUNT4[keep & 15];
    }
    // SAFETY (set_len): the first `len` slots after `start` were written above (the kept
    // lanes, in order), and len <= dens.len() fits the reserved capacity.
    near.set_len(start + len);
    gather_near_portable(tail, max, near);
}

/// `t = exp(t)` for every `t` in `[-FAST_GAP, 0]` ([`exp_nonpositive`]), vectorised (AVX2
/// where available).
fn exps_nonpositive(ts: &mut [f64]) {
    #[inline(always)]
    fn body(ts: &mut [f64]) {
        for t in ts.iter_mut() {
            *t = exp_nonpositive(*t);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn body_avx2(ts: &mut [f64]) {
            body(ts)
        }
        if crate::simd::use_avx2() {
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it).
            unsafe { body_avx2(ts) };
            return;
        }
    }
    body(ts)
}

/// `exp(t)` for `-FAST_GAP <= t <= 0`, within a couple of ulps of the correctly rounded value:
/// `t = k·ln 2 + r` (Cody–Waite, `|r| <= ln 2 / 2`), a degree-13 Taylor polynomial for `e^r`
/// (truncation error below 1e-17), and `2^k` built from its bits (`k >= -87`, so no
/// subnormals). Branch-free, so it vectorises.
#[inline(always)]
fn exp_nonpositive(t: f64) -> f64 {
    // ln 2 split so that k·LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Adding 1.5·2^52 rounds to an integer held in the low mantissa bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const C: [f64; 14] = [
        1.0,
        1.0,
        0.5,
        0.166_666_666_666_666_66,
        0.041_666_666_666_666_664,
        0.008_333_333_333_333_333,
        0.001_388_888_888_888_889,
        0.000_198_412_698_412_698_4,
        2.480_158_730_158_73e-5,
        2.755_731_922_398_589_3e-6,
        2.755_731_922_398_589e-7,
        2.505_210_838_544_172e-8,
        2.087_675_698_786_81e-9,
        1.605_904_383_682_161_3e-10,
    ];
    let y = t * std::f64::consts::LOG2_E + ROUND;
    let kf = y - ROUND;
    let ki = (y.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let r = (t - kf * LN2_HI) - kf * LN2_LO;
    let mut p = C[13];
    for &c in C[..13].iter().rev() {
        p = p * r + c;
    }
    let scale = f64::from_bits((ki.wrapping_add(1023) as u64) << 52);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        let n = 200_000;
        for i in 0..=n {
            let t = -FAST_GAP * (i as f64) / (n as f64);
            let (got, want) = (exp_nonpositive(t), t.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        for t in [
            0.0,
            -0.0,
            -1e-300,
            -1e-17,
            -0.5,
            -0.34657359027997264,
            -FAST_GAP,
        ] {
            let (got, want) = (exp_nonpositive(t), t.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        println!("fast exp: worst relative error {worst:e}");
        assert!(worst < 4.0 * f64::EPSILON, "worst relative error {worst:e}");
        let mut e = [0.0, -1.0, -FAST_GAP];
        exps_nonpositive(&mut e);
        assert_eq!(e[0], 1.0);
        assert!((e[1] - (-1.0f64).exp()).abs() < 1e-16);
        assert!((e[2] / (-FAST_GAP).exp() - 1.0).abs() < 1e-15);
    }

    /// The AVX2 scan of the kernels (where available) agrees with the portable one: the same
    /// blocked layout, products, classification and verdict, including a partial last block,
    /// unsaturated intervals near both bounds and unusable bandwidths.
    #[test]
    fn kernel_scans_agree() {
        let mut state = 0x1357_9bdf_2468_ace0_u64;
        let mut unif = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for (k, dc, bad) in [
            (8, 1, false),
            (29, 3, false),
            (976, 10, false),
            (13, 2, true),
        ] {
            let kernels: Vec<NumericalKernels> = (0..dc)
                .map(|j| {
                    let mu: Vec<f64> = (0..k).map(|_| -5.0 + 15.0 * unif()).collect();
                    let sigma: Vec<f64> = (0..k)
                        .map(|c| match (bad, c % 7) {
                            (true, 3) => 0.0,
                            (_, 0) => 15.0,
                            _ => 0.15 * (1.0 + unif()),
                        })
                        .collect();
                    NumericalKernels::new(
                        Buf::from_slice(&mu),
                        Buf::from_slice(&sigma),
                        -5.0,
                        10.0 + j as f64,
                        None,
                        false,
                    )
                })
                .collect();
            let cont: Vec<&NumericalKernels> = kernels.iter().collect();
            let (mut b1, mut p1, mut r1) = (Vec::new(), vec![1.0; k], Vec::new());
            for b in 0..k.div_ceil(LANES) {
                scan_block_portable(&cont, b, &mut b1, &mut p1, &mut r1);
            }
            let (mut b2, mut p2, mut r2) = (Vec::new(), vec![1.0; k], Vec::new());
            let scan = scan_kernels(&cont, &mut b2, &mut p2, &mut r2);
            assert_eq!(scan.usable, !bad);
            for num in &cont {
                let (lo, hi) = (num.adapted_low, num.adapted_high);
                assert_eq!(
                    bandwidths_usable(&num.mu, &num.sigma, lo, hi),
                    bandwidths_usable_portable(&num.mu, &num.sigma, lo, hi)
                );
            }
            let mut central = 0;
            for num in &cont {
                for c in 0..k {
                    let inv = 1.0 / num.sigma[c];
                    let a = (num.adapted_low - num.mu[c]) * inv;
                    let b = (num.adapted_high - num.mu[c]) * inv;
                    central += usize::from(is_central(a, b));
                }
            }
            assert_eq!(scan.central, central);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&b1), bits(&b2));
            assert_eq!(bits(&p1), bits(&p2));
            // Per component, the dimensions in increasing order (the global order may differ).
            r1.sort_by_key(|&(j, c)| (c, j));
            r2.sort_by_key(|&(j, c)| (c, j));
            assert_eq!(r1, r2);
            assert!(!r1.is_empty());
        }
    }

    /// The AVX2 kernels (where available) agree bit for bit with the portable ones, NaN and
    /// infinite rows included.
    #[test]
    fn kernels_agree() {
        let mut state = 0x243f_6a88_85a3_08d3_u64;
        let mut unif = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for (dc, kp) in [(1, 8), (3, 24), (10, 976usize.div_ceil(LANES) * LANES)] {
            let blocks: Vec<f64> = (0..kp * dc * 2)
                .map(|i| {
                    if (i / LANES).is_multiple_of(2) {
                        unif() * 10.0 - 5.0
                    } else {
                        1.0 / (0.01 + unif())
                    }
                })
                .collect();
            let constant: Vec<f64> = (0..kp)
                .map(|i| {
                    if i % 37 == 5 {
                        f64::NEG_INFINITY
                    } else {
                        -unif() * 50.0
                    }
                })
                .collect();
            let xt: Vec<f64> = (0..dc * TILE).map(|_| unif() * 10.0 - 5.0).collect();
            let row_data: Vec<Vec<f64>> = (0..TILE)
                .map(|q| {
                    (0..kp)
                        .map(|i| match (q, i % 53) {
                            (1, 7) => f64::NAN,
                            (2, 3) => f64::NEG_INFINITY,
                            _ => -unif(),
                        })
                        .collect()
                })
                .collect();
            let rows = [
                &row_data[0][..],
                &row_data[1][..],
                &row_data[2][..],
                &row_data[3][..],
            ];
            for r in [None, Some(rows)] {
                let mut d1 = vec![0.0; TILE * kp];
                let s1 = densities_portable(&blocks, &constant, dc, &xt, r, &mut d1);
                let mut work = FastWork::default();
                let lse = |work: &mut FastWork, d: &[f64], s: &[RowSummary; TILE]| {
                    (0..TILE)
                        .map(|q| {
                            let row = &d[q * kp..(q + 1) * kp];
                            work.log_sum_exp(row, s[q].max, s[q].nan).to_bits()
                        })
                        .collect::<Vec<_>>()
                };
                let want = lse(&mut work, &d1, &s1);
                for q in 0..TILE {
                    let row = &d1[q * kp..(q + 1) * kp];
                    let mut n_port = Vec::new();
                    let mut n_simd = Vec::new();
                    gather_near_portable(row, s1[q].max, &mut n_port);
                    gather_near(row, s1[q].max, &mut n_simd);
                    assert_eq!(n_port.len(), n_simd.len());
                    for (a, b) in n_port.iter().zip(&n_simd) {
                        assert_eq!(a.to_bits(), b.to_bits());
                    }
                }
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") {
                        let mut d2 = vec![0.0; TILE * kp];
                        // SAFETY: AVX2 is available and the lengths are as required.
                        let s2 = unsafe { densities_avx2(&blocks, &constant, dc, &xt, r, &mut d2) };
                        for q in 0..TILE {
                            assert_eq!(s1[q].nan, s2[q].nan);
                            if !s1[q].nan {
                                assert_eq!(s1[q].max.to_bits(), s2[q].max.to_bits());
                            }
                        }
                        for (a, b) in d1.iter().zip(&d2) {
                            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                        }
                        let got = lse(&mut work, &d2, &s2);
                        assert_eq!(want, got);
                    }
                }
            }
        }
    }
}
