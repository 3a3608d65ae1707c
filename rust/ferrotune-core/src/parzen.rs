//! Parzen estimators as Optuna 5.0 builds them (`_ParzenEstimator`): mixture weights with the
//! prior appended, neighbour-gap bandwidths with the endpoint rule and the magic clip, the prior
//! kernel, and categorical kernel rows.
//!
//! Everything here is computed with the same floating-point operations as Optuna, so centres,
//! bandwidths and weights are bit-identical. With the magic clip (the default) the bandwidths
//! are obtained without sorting where possible (see `bucket_bandwidths`): most of them are
//! exactly the clip's minimum, and only the centres next to a gap wider than half of it need
//! their exact neighbour gaps, which are the same subtractions Optuna performs.

use crate::mixture::{Buf, CategoricalKernels, KernelDim, Mixture, NumericalKernels, Scoring};
use crate::numpy_ops;
use crate::rng::Mt19937;
use crate::simd::avx2_dispatch;
use crate::sort::{stable_argsort_into, ArgSort};
use crate::space::{validate_dims, Dim};
use crate::CoreError;

/// Smallest bandwidth when the magic clip is off (Optuna's `EPS`).
pub const EPS: f64 = 1e-12;

/// The estimator settings of `TPESampler` (Optuna's `_ParzenEstimatorParameters` without the
/// weights function, whose output is passed to [`ParzenEstimator::new`] directly).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParzenParams {
    pub prior_weight: f64,
    pub consider_magic_clip: bool,
    pub consider_endpoints: bool,
}

impl Default for ParzenParams {
    /// Optuna 5.0's defaults: `prior_weight=1.0`, magic clip on, endpoints off.
    fn default() -> Self {
        ParzenParams {
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }
}

/// A Parzen estimator over a search space: a [`Mixture`] with one component per observation
/// plus the prior (the last component).
#[derive(Clone, Debug)]
pub struct ParzenEstimator {
    dims: Vec<Dim>,
    mixture: Mixture,
}

impl ParzenEstimator {
    /// Builds the estimator.
    ///
    /// `obs` is `n_obs × d` row-major in the internal representation (floats; categorical =
    /// choice index; log dimensions *not* log-transformed). `weights` are the raw weights of the
    /// `n_obs` observations (what Optuna's weights function returns), before the prior is
    /// appended. `sorter` decides the order of tied centres (see [`crate::sort`]); it is only
    /// consulted for dimensions that contain ties (and, with the magic clip, only when the
    /// order of the tied centres can change a bandwidth).
    ///
    /// Errors: an invalid search space; `obs` or `weights` of the wrong length; non-finite
    /// observations, categorical observations that are not a choice index, non-positive
    /// observations on a log scale; negative, non-finite or all-zero weights; a negative or
    /// non-finite `prior_weight`; a `sorter` result that is not a sorting permutation.
    pub fn new(
        dims: &[Dim],
        obs: &[f64],
        n_obs: usize,
        weights: &[f64],
        params: &ParzenParams,
        sorter: &dyn ArgSort,
    ) -> Result<Self, CoreError> {
        validate_dims(dims)?;
        let d = dims.len();
        let expected = n_obs.checked_mul(d).ok_or_else(|| {
            CoreError::InvalidArgument(format!("n_obs = {n_obs} observations is too large"))
        })?;
        if obs.len() != expected {
            return Err(CoreError::InvalidArgument(format!(
                "observations have {} values, expected n_obs * d = {n_obs} * {d} = {expected}",
                obs.len()
            )));
        }
        let pw = params.prior_weight;
        if !(pw.is_finite() && pw >= 0.0) {
            return Err(CoreError::InvalidArgument(format!(
                "prior_weight must be a finite non-negative number, got {pw}"
            )));
        }
        let mixture_weights = mixture_weights(weights, n_obs, pw)?;

        // The observations by dimension, in one pass over the rows (each column with room for
        // the prior's centre).
        let mut columns: Vec<Buf<f64>> = (0..d).map(|_| Buf::with_capacity(n_obs + 1)).collect();
        transpose_into(obs, n_obs, &mut columns);
        let mut scratch = Scratch::default();
        let mut kernels = Vec::with_capacity(d);
        for (i, (dim, column)) in dims.iter().zip(columns).enumerate() {
            // A continuous or stepped dimension on a linear scale with the magic clip: the
            // bucketed bandwidths check that every centre lies inside the bounds (hence is
            // finite), and only when they do not apply is the column validated (before it is
            // sorted), so the same error is reported.
            let deferred =
                params.consider_magic_clip && matches!(*dim, Dim::Numerical { log: false, .. });
            let plainly_valid = deferred
                || match *dim {
                    Dim::Numerical { log, .. } => numerical_column_valid(&column, log),
                    Dim::Categorical { .. } => false,
                };
            if !plainly_valid {
                dim.validate_column(&column, &|j| format!("observation [{j}, {i}]"))?;
            }
            kernels.push(match *dim {
                Dim::Categorical { n_choices } => KernelDim::Categorical(CategoricalKernels::new(
                    n_choices,
                    // Validated above: integral and in 0..n_choices.
                    {
                        let mut observed = Buf::with_capacity(n_obs);
                        observed.extend(column.iter().map(|&v| v as usize));
                        observed
                    },
                    pw,
                )),
                Dim::Numerical {
                    low,
                    high,
                    step,
                    log,
                } => KernelDim::Numerical(numerical_kernels(
                    low,
                    high,
                    step,
                    log,
                    column,
                    params,
                    sorter,
                    &mut scratch,
                    i,
                    deferred.then_some(dim),
                )?),
            });
        }
        Ok(ParzenEstimator {
            dims: dims.to_vec(),
            mixture: Mixture::new(mixture_weights, kernels),
        })
    }

    /// Draws `size` points, `size × d` row-major in the internal representation, consuming
    /// `rng` exactly as Optuna's `_ParzenEstimator.sample` does.
    pub fn sample(&self, rng: &mut Mt19937, size: usize) -> Vec<f64> {
        self.mixture.sample(rng, size)
    }

    /// Log density at each of the `n` points of `x` (`n × d` row-major, internal
    /// representation). Equal to Optuna's `log_pdf` up to rounding (about 1e-15 relative; see
    /// [`crate::mixture`]); use [`ParzenEstimator::log_pdf_exact`] for bit-identical values.
    pub fn log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf(x, n)
    }

    /// Bit-identical to Optuna's `log_pdf` (slower).
    pub fn log_pdf_exact(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf_exact(x, n)
    }

    /// [`ParzenEstimator::log_pdf`] or [`ParzenEstimator::log_pdf_exact`].
    pub fn log_pdf_mode(&self, x: &[f64], n: usize, mode: Scoring) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf_mode(x, n, mode)
    }

    /// The normalised mixture weights (the prior last).
    pub fn weights(&self) -> &[f64] {
        self.mixture.weights()
    }
    /// Number of mixture components (observations + 1).
    pub fn n_components(&self) -> usize {
        self.mixture.n_components()
    }
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }
    pub fn mixture(&self) -> &Mixture {
        &self.mixture
    }
    /// Kernel centres of numerical dimension `dim` (working space: log-transformed for log
    /// dimensions; the prior last), `None` for a categorical dimension or out of range.
    pub fn mus(&self, dim: usize) -> Option<&[f64]> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Numerical(k) => Some(k.mu()),
            KernelDim::Categorical(_) => None,
        }
    }
    /// Kernel bandwidths of numerical dimension `dim` (working space; the prior last).
    pub fn sigmas(&self, dim: usize) -> Option<&[f64]> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Numerical(k) => Some(k.sigma()),
            KernelDim::Categorical(_) => None,
        }
    }
    /// The `n_components × n_choices` kernel matrix (row-major) of categorical dimension `dim`.
    pub fn categorical_weights(&self, dim: usize) -> Option<Vec<f64>> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Categorical(c) => Some(c.matrix()),
            KernelDim::Numerical(_) => None,
        }
    }
}

/// Fills the `d` empty columns with the row-major `n × d` observations `obs` (nothing is
/// written if the shapes do not match).
fn transpose_into(obs: &[f64], n: usize, columns: &mut [Buf<f64>]) {
    let d = columns.len();
    if d == 0 || obs.len() != n * d || columns.iter().any(|c| !c.is_empty()) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() {
            for c in columns.iter_mut() {
                c.reserve(n);
            }
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it), the shapes were checked just above and every
            // column has room for `n` elements.
            unsafe { transpose_avx2(obs, n, d, columns) };
            return;
        }
    }
    for row in obs.chunks_exact(d) {
        for (column, &v) in columns.iter_mut().zip(row) {
            column.push(v);
        }
    }
}

/// [`transpose_into`] in blocks of four rows by four columns, writing every element of each
/// column before setting its length.
///
/// # Safety
///
/// The CPU must support AVX2, `obs.len() == n * d`, and every column must be empty with
/// capacity for `n` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(obs: &[f64], n: usize, d: usize, columns: &mut [Buf<f64>]) {
    use std::arch::x86_64::*;
    let cols: Vec<*mut f64> = columns.iter_mut().map(|c| c.as_mut_ptr()).collect();
    let (n4, d4) = (n - n % 4, d - d % 4);
    let src = obs.as_ptr();
    let mut r = 0;
    while r < n4 {
        let mut j = 0;
        while j < d4 {
            // In bounds: rows r..r + 4 < n and columns j..j + 4 <= d.
            let p = src.add(r * d + j);
            let (r0, r1) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(d)));
            let (r2, r3) = (_mm256_loadu_pd(p.add(2 * d)), _mm256_loadu_pd(p.add(3 * d)));
            let (t0, t1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
            // In bounds: columns j..j + 4 exist and have rows r..r + 4.
            _mm256_storeu_pd(cols[j].add(r), _mm256_permute2f128_pd::<0x20>(t0, t2));
            _mm256_storeu_pd(cols[j + 1].add(r), _mm256_permute2f128_pd::<0x20>(t1, t3));
            _mm256_storeu_pd(cols[j + 2].add(r), _mm256_permute2f128_pd::<0x31>(t0, t2));
            _mm256_storeu_pd(cols[j + 3].add(r), _mm256_permute2f128_pd::<0x31>(t1, t3));
            j += 4;
        }
        for (jj, &col) in cols.iter().enumerate().skip(d4) {
            for i in 0..4 {
                *col.add(r + i) = obs[(r + i) * d + jj];
            }
        }
        r += 4;
    }
    for rr in n4..n {
        for (jj, &col) in cols.iter().enumerate() {
            *col.add(rr) = obs[rr * d + jj];
        }
    }
    for c in columns.iter_mut() {
        // SAFETY (set_len): all `n` elements of every column were written above.
        c.set_len(n);
    }
}

avx2_dispatch! {
    /// Whether every value of a numerical column is finite (and positive on a log scale), in
    /// which case [`Dim::validate_column`] has nothing to report (it is called otherwise, for
    /// its error message).
    fn numerical_column_valid(values: &[f64], log: bool) -> bool {
        // Four independent lanes, so that the test vectorises: `v * 0` is NaN exactly when `v`
        // is not finite, and a NaN stays in the sum; the smallest value checks the sign.
        let mut nan = [0.0f64; 4];
        let mut low = [f64::INFINITY; 4];
        let chunks = values.chunks_exact(4);
        let tail = chunks.remainder();
        for c in chunks {
            for l in 0..4 {
                let v = c[l];
                nan[l] += v * 0.0;
                low[l] = if v < low[l] { v } else { low[l] };
            }
        }
        for &v in tail {
            nan[0] += v * 0.0;
            low[0] = if v < low[0] { v } else { low[0] };
        }
        let finite = (0..4).all(|l| nan[l] == 0.0);
        finite && (!log || (0..4).all(|l| low[l] > 0.0))
    }
}

/// Validates the raw weights and returns the normalised mixture weights: the raw weights with
/// `prior_weight` appended (`[1.0]` without observations), divided by their pairwise sum.
fn mixture_weights(
    weights: &[f64],
    n_obs: usize,
    prior_weight: f64,
) -> Result<Vec<f64>, CoreError> {
    if weights.len() != n_obs {
        return Err(CoreError::InvalidArgument(format!(
            "got {} weights for {n_obs} observations",
            weights.len()
        )));
    }
    let bad = |w: &f64| !(w.is_finite() && *w >= 0.0);
    if let Some((i, w)) = (!weights_valid(weights))
        .then(|| weights.iter().enumerate().find(|(_, w)| bad(w)))
        .flatten()
    {
        return Err(CoreError::InvalidArgument(format!(
            "weights must be finite and non-negative, got weights[{i}] = {w}"
        )));
    }
    if n_obs > 0 && !weights.iter().any(|&w| w > 0.0) {
        return Err(CoreError::InvalidArgument(
            "weights must not be all zero".into(),
        ));
    }
    let mut w: Vec<f64> = if n_obs == 0 {
        vec![1.0]
    } else {
        let mut w = Vec::with_capacity(n_obs + 1);
        w.extend_from_slice(weights);
        w.push(prior_weight);
        w
    };
    let total = numpy_ops::pairwise_sum(&w);
    if !(total.is_finite() && total > 0.0) {
        return Err(CoreError::InvalidArgument(format!(
            "the weights (with the prior weight) must have a finite positive sum, got {total}"
        )));
    }
    divide_all(&mut w, total);
    Ok(w)
}

avx2_dispatch! {
    /// Whether every weight is finite and non-negative (four lanes, so that it vectorises:
    /// `w * 0` is NaN exactly when `w` is not finite).
    fn weights_valid(weights: &[f64]) -> bool {
        let mut nan = [0.0f64; 4];
        let mut low = [0.0f64; 4];
        let chunks = weights.chunks_exact(4);
        let tail = chunks.remainder();
        for c in chunks {
            for l in 0..4 {
                nan[l] += c[l] * 0.0;
                low[l] = if c[l] < low[l] { c[l] } else { low[l] };
            }
        }
        for &w in tail {
            nan[0] += w * 0.0;
            low[0] = if w < low[0] { w } else { low[0] };
        }
        (0..4).all(|l| nan[l] == 0.0 && low[l] >= 0.0)
    }
}

avx2_dispatch! {
    /// `v /= total` for every element.
    fn divide_all(values: &mut [f64], total: f64) {
        for v in values.iter_mut() {
            *v /= total;
        }
    }
}

#[derive(Default)]
struct Scratch {
    keys: Buf<u64>,
    order: Buf<usize>,
    /// Bucket index of every centre (see [`bucket_bandwidths`]).
    bucket_of: Vec<u32>,
    /// The centres in boundary buckets.
    listed: Vec<u32>,
    buckets: Vec<Bucket>,
}

/// The extremes of one bucket of [`bucket_bandwidths`].
#[derive(Clone, Copy)]
struct Bucket {
    min: f64,
    max: f64,
    arg_min: usize,
    arg_max: usize,
    /// Whether the minimum (maximum) value occurs more than once.
    min_tied: bool,
    max_tied: bool,
}

const EMPTY_BUCKET: Bucket = Bucket {
    min: f64::INFINITY,
    max: f64::NEG_INFINITY,
    arg_min: 0,
    arg_max: 0,
    min_tied: false,
    max_tied: false,
};

/// Buckets per `minsigma` in [`bucket_bandwidths`]: more than 2, so that centres in adjacent
/// buckets are always closer than `minsigma`; small enough that the magic clip's buckets (at
/// most `2.2 · 100 + 2`: its `minsigma` is at least a hundredth of the range) fit
/// [`MAX_BUCKETS`].
const BUCKETS_PER_MINSIGMA: f64 = 2.2;

/// Most buckets [`bucket_bandwidths`] handles (the 256-bit table of [`list_flagged`]); more
/// (only possible with tiny bandwidths) take the sorted path.
const MAX_BUCKETS: usize = 256;

/// Bucket flags of [`bucket_bandwidths`]: an occupied bucket whose left (right) neighbour is
/// empty or does not exist.
const LEFT_OPEN: u8 = 1;
const RIGHT_OPEN: u8 = 2;

/// The bandwidths of [`bandwidths`] without sorting, for the magic clip (`minsigma > 0`) and
/// centres inside `[lo, hi]`, into `sigmas`, which must hold `minsigma` on entry (only the
/// centres whose bandwidth differs are written). Returns `false` (having written nothing
/// useful) when it does not apply; the caller then sorts.
///
/// The centres are spread over buckets of width `minsigma / 2.2` (bucket index
/// `⌊(μ - lo)·2.2/minsigma⌋`, monotone in μ, with a rounding error of a few ulps of the index,
/// far below one bucket as long as there are not billions of buckets; with the magic clip
/// there are at most 222). Two centres in the same or in adjacent buckets are less than
/// `2/2.2·minsigma` apart, so their computed gap is below `minsigma` and clips to `minsigma`. Since `clip(max(g_l, g_r)) = max(clip(g_l), clip(g_r))`,
/// a centre's bandwidth is therefore `minsigma` unless it is the smallest centre of a bucket
/// whose left neighbour bucket is empty (its left gap may be wider), or the largest of a
/// bucket whose right neighbour is empty. Only those extremes are located, and only their
/// outer gap is computed, exactly as Optuna computes it: to the largest centre of the previous
/// non-empty bucket (the smallest of the next, or the bound). The endpoint rule applies to the
/// global extremes. When such an extreme is tied, the order of the tied centres would matter:
/// then this returns `false` and the sorted path (with the injected tie order) decides.
///
/// Apart from the few centres in buckets next to an empty one, every centre costs its bucket
/// index and two stores; nothing depends on a data-dependent branch or on a read-modify-write
/// of shared bucket state.
#[allow(clippy::too_many_arguments)]
fn bucket_bandwidths(
    mus: &[f64],
    lo: f64,
    hi: f64,
    minsigma: f64,
    maxsigma: f64,
    params: &ParzenParams,
    s: &mut Scratch,
    sigmas: &mut [f64],
) -> bool {
    let n = mus.len();
    let range = hi - lo;
    let inv_width = BUCKETS_PER_MINSIGMA / minsigma;
    if n < 16
        || sigmas.len() < n
        || !(range.is_finite() && range > 0.0 && minsigma > 0.0 && inv_width.is_finite())
    {
        return false;
    }
    let n_buckets = (range * inv_width) as usize + 2;
    if n_buckets > MAX_BUCKETS {
        return false;
    }

    s.bucket_of.clear();
    s.bucket_of.resize(n, 0);
    if !bucket_indices(
        mus,
        lo,
        hi,
        inv_width,
        (n_buckets - 1) as f64,
        &mut s.bucket_of,
    ) {
        return false;
    }
    // Occupancy, with an empty bucket of padding on each side (bucket b at index b + 1); the
    // bucket indices are at most n_buckets - 1 <= MAX_BUCKETS - 1, and `min` lets the compiler
    // see that every index is in bounds.
    let mut occupied = [0u8; MAX_BUCKETS + 2];
    for &b in s.bucket_of.iter() {
        occupied[(b as usize).min(MAX_BUCKETS) + 1] = 1;
    }
    // Boundary flags.
    let mut flag_array = [0u8; MAX_BUCKETS];
    for (f, w) in flag_array.iter_mut().zip(occupied.windows(3)) {
        let open = ((w[0] ^ 1) * LEFT_OPEN) | ((w[2] ^ 1) * RIGHT_OPEN);
        *f = w[1] * open;
    }
    let flags = &flag_array[..n_buckets];

    // The centres in boundary buckets, then the extremes of those buckets.
    let count = list_flagged(&s.bucket_of, flags, &mut s.listed);
    let listed = &s.listed[..count.min(s.listed.len())];
    let buckets = &mut s.buckets;
    if buckets.len() < n_buckets {
        buckets.resize(n_buckets, EMPTY_BUCKET);
    }
    for &i in listed {
        buckets[s.bucket_of[i as usize] as usize] = EMPTY_BUCKET;
    }
    for &i in listed {
        let i = i as usize;
        let m = mus[i];
        let b = &mut buckets[s.bucket_of[i] as usize];
        let (new_min, tie_min) = (m < b.min, m == b.min);
        b.min_tied = (b.min_tied && !new_min) || tie_min;
        b.arg_min = if new_min { i } else { b.arg_min };
        b.min = if new_min { m } else { b.min };
        let (new_max, tie_max) = (m > b.max, m == b.max);
        b.max_tied = (b.max_tied && !new_max) || tie_max;
        b.arg_max = if new_max { i } else { b.arg_max };
        b.max = if new_max { m } else { b.max };
    }

    // Walk the boundary buckets in order. The previous non-empty bucket of a left-open bucket
    // is right-open and the next non-empty bucket of a right-open one is left-open, so both
    // are boundary buckets too.
    // The boundary buckets in order (branch-free compaction).
    let mut boundary = [0u16; MAX_BUCKETS];
    let mut n_boundary = 0;
    for (b, &f) in flags.iter().enumerate() {
        boundary[n_boundary.min(MAX_BUCKETS - 1)] = b as u16;
        n_boundary += usize::from(f != 0);
    }
    let boundary = &boundary[..n_boundary.min(MAX_BUCKETS)];
    let (Some(&first), Some(&last)) = (boundary.first(), boundary.last()) else {
        return false;
    };
    let clip = |g: f64| g.max(minsigma).min(maxsigma);
    let inner_only = !params.consider_endpoints && n >= 2;
    let mut prev_max = lo;
    for (t, &b) in boundary.iter().enumerate() {
        let cur = buckets[b as usize];
        let f = flags[b as usize];
        if f & LEFT_OPEN != 0 {
            if cur.min_tied {
                return false;
            }
            if !(inner_only && b == first) {
                let g = clip(cur.min - prev_max);
                sigmas[cur.arg_min] = sigmas[cur.arg_min].max(g);
            }
        }
        if f & RIGHT_OPEN != 0 {
            if cur.max_tied {
                return false;
            }
            if !(inner_only && b == last) {
                // The next boundary bucket, or the upper bound.
                let next_min = boundary
                    .get(t + 1)
                    .map_or(hi, |&nb| buckets[nb as usize].min);
                let g = clip(next_min - cur.max);
                sigmas[cur.arg_max] = sigmas[cur.arg_max].max(g);
            }
            prev_max = cur.max;
        }
    }
    true
}

avx2_dispatch! {
    /// The bucket `⌊(μ - lo)·inv_width⌋` of every centre into `out` (clamped to `[0, top]` in
    /// floating point, so that the conversion vectorises), and whether every centre lies in
    /// `[lo, hi]` (only then are the buckets meaningful). `top < 2^31`.
    fn bucket_indices(
        mus: &[f64],
        lo: f64,
        hi: f64,
        inv_width: f64,
        top: f64,
        out: &mut [u32],
    ) -> bool {
        let mut inside = true;
        for (b, &m) in out.iter_mut().zip(mus) {
            inside &= (lo <= m) & (m <= hi);
            let x = (m - lo) * inv_width;
            // Selects rather than `max`/`min`: a NaN becomes 0.
            let x = if x > 0.0 { x } else { 0.0 };
            let x = if x < top { x } else { top };
            // SAFETY: `x` is not NaN and lies in [0, top] with top < 2^31, so the truncation
            // to i32 is defined.
            *b = unsafe { x.to_int_unchecked::<i32>() } as u32;
        }
        inside
    }
}

/// Writes to `listed` the indices of the centres whose bucket has a non-zero flag, in order,
/// and returns their number (a bucket index past the end of `flags` counts as unflagged).
/// Branch-free: with at most 256 buckets and AVX2, the flags are held as a 256-bit table in a
/// register, looked up eight centres at a time, and the indices compacted with a lane
/// permutation.
fn list_flagged(bucket_of: &[u32], flags: &[u8], listed: &mut Vec<u32>) -> usize {
    listed.clear();
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() && flags.len() <= 256 && bucket_of.len() < i32::MAX as usize {
            let mut table = [0u32; 8];
            for (word, chunk) in table.iter_mut().zip(flags.chunks(32)) {
                *word = chunk
                    .iter()
                    .enumerate()
                    .fold(0, |w, (bit, &f)| w | (u32::from(f != 0) << bit));
            }
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it) and the indices fit in 32 bits.
            if let Some(count) = unsafe { list_flagged_avx2(bucket_of, &table, listed) } {
                return count;
            }
        }
    }
    list_flagged_portable(bucket_of, flags, listed, 0)
}

/// [`list_flagged`] element by element, for the centres from `first` on (appending).
fn list_flagged_portable(
    bucket_of: &[u32],
    flags: &[u8],
    listed: &mut Vec<u32>,
    first: usize,
) -> usize {
    let start = listed.len();
    listed.resize(start + bucket_of.len().saturating_sub(first), 0);
    let mut count = start;
    for (i, &b) in bucket_of.iter().enumerate().skip(first) {
        if let Some(slot) = listed.get_mut(count) {
            *slot = i as u32;
        }
        count += usize::from(flags.get(b as usize).is_some_and(|&f| f != 0));
    }
    listed.truncate(count);
    count
}

/// For each 8-bit lane mask, the lane indices that move the selected 32-bit lanes to the
/// front, in order (for `_mm256_permutevar8x32_epi32`).
#[cfg(target_arch = "x86_64")]
const COMPACT8: [[u32; 8]; 256] = {
    let mut table = [[0u32; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let mut out = 0;
        let mut lane = 0;
        while lane < 8 {
            if mask & (1 << lane) != 0 {
                table[mask][out] = lane as u32;
                out += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

/// Number of set bits of each byte.
#[cfg(target_arch = "x86_64")]
const POPCOUNT8: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u32).count_ones() as u8;
        i += 1;
    }
    table
};

/// [`list_flagged`] eight centres at a time with the flags as a 256-bit table (bit `b` of
/// word `b / 32` set when bucket `b` is flagged); `None` (having written nothing useful) if a
/// bucket index is 256 or more.
///
/// # Safety
///
/// The CPU must support AVX2 and `bucket_of.len()` must fit in an `i32`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn list_flagged_avx2(
    bucket_of: &[u32],
    table: &[u32; 8],
    listed: &mut Vec<u32>,
) -> Option<usize> {
    use std::arch::x86_64::*;
    let n = bucket_of.len();
    if bucket_of.iter().fold(0u32, |m, &b| m.max(b)) >= 256 {
        return None;
    }
    let full = n - n % 8;
    listed.clear();
    // Room for every index plus one full vector store past the last kept one.
    listed.reserve(n + 8);
    let dst = listed.as_mut_ptr();
    let bits = _mm256_loadu_si256(table.as_ptr().cast());
    let low5 = _mm256_set1_epi32(31);
    let eight = _mm256_set1_epi32(8);
    let mut index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut len = 0usize;
    let mut i = 0;
    while i < full {
        // In bounds: i + 8 <= full <= n.
        let b = _mm256_loadu_si256(bucket_of.as_ptr().add(i).cast());
        // The table word of each bucket (b / 32 < 8), shifted so that its bit is the lowest,
        // then moved to the sign bit for the mask.
        let word = _mm256_permutevar8x32_epi32(bits, _mm256_srli_epi32::<5>(b));
        let bit = _mm256_srlv_epi32(word, _mm256_and_si256(b, low5));
        let keep = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(bit))) as usize;
        // In bounds: keep < 256.
        let perm = _mm256_loadu_si256(COMPACT8[keep & 255].as_ptr().cast());
        // In bounds: len <= i and the vector has room for n + 8 elements.
        _mm256_storeu_si256(
            dst.add(len).cast(),
            _mm256_permutevar8x32_epi32(index, perm),
        );
        len += POPCOUNT8[keep & 255] as usize;
        index = _mm256_add_epi32(index, eight);
        i += 8;
    }
    // SAFETY (set_len): the first `len` slots were written above (the kept indices, in order).
    listed.set_len(len);
    // The tail, against the same table.
    for (k, &b) in bucket_of.iter().enumerate().skip(full) {
        if table[(b >> 5) as usize & 7] >> (b & 31) & 1 != 0 {
            listed.push(k as u32);
        }
    }
    Some(listed.len())
}

/// Centres and bandwidths of one numerical dimension, Optuna's
/// `_calculate_numerical_distributions`. `mus` holds the observations (capacity for one more).
/// With `deferred_check`, the observations have not been validated yet (see
/// [`ParzenEstimator::new`]): they are validated against that dimension unless the bucketed
/// bandwidths apply (which implies that they all lie inside the bounds).
#[allow(clippy::too_many_arguments)]
fn numerical_kernels(
    low: f64,
    high: f64,
    step: Option<f64>,
    log: bool,
    mut mus: Buf<f64>,
    params: &ParzenParams,
    sorter: &dyn ArgSort,
    s: &mut Scratch,
    dim_index: usize,
    deferred_check: Option<&Dim>,
) -> Result<NumericalKernels, CoreError> {
    // Working bounds: widened by half a step, then log-transformed.
    let (mut lo, mut hi) = (low, high);
    if let Some(st) = step {
        lo -= st / 2.0;
        hi += st / 2.0;
    }
    if log {
        lo = lo.ln();
        hi = hi.ln();
        for m in mus.iter_mut() {
            *m = m.ln();
        }
    }
    let n = mus.len();
    let maxsigma = hi - lo;
    let minsigma = if params.consider_magic_clip {
        let n_kernels = (n + 1) as f64;
        (hi - lo) / f64::min(100.0, 1.0 + n_kernels)
    } else {
        EPS
    };
    // Filled with the clip's minimum, which most centres keep (see `bucket_bandwidths`).
    let mut sigmas = Buf::filled(n + 1, minsigma);

    let done = params.consider_magic_clip
        && bucket_bandwidths(&mus, lo, hi, minsigma, maxsigma, params, s, &mut sigmas);
    if !done {
        if let Some(dim) = deferred_check {
            dim.validate_column(&mus, &|j| format!("observation [{j}, {dim_index}]"))?;
        }
        // Sort the centres. Without ties any correct sort gives numpy's permutation; with ties
        // the injected sorter decides (and the bandwidths are recomputed in its order).
        stable_argsort_into(&mus, &mut s.keys, &mut s.order);
        let tied = bandwidths(
            &mus,
            &s.order,
            lo,
            hi,
            minsigma,
            maxsigma,
            params,
            &mut sigmas,
        );
        if tied {
            let order = sorter.argsort(&mus);
            check_sorting_permutation(&order, &mus, dim_index)?;
            bandwidths(
                &mus,
                &order,
                lo,
                hi,
                minsigma,
                maxsigma,
                params,
                &mut sigmas,
            );
        }
    }
    // The prior kernel, appended after clipping.
    mus.push(0.5 * (lo + hi));
    sigmas[n] = hi - lo;
    Ok(NumericalKernels::new(mus, sigmas, low, high, step, log))
}

/// Optuna's `compute_sigmas` for the centres `mus` visited in the sorting permutation `order`:
/// with `e = [lo, sorted mus..., hi]`, the bandwidth of a centre is the larger gap to a
/// neighbour, except (endpoints off, two or more centres) that the extreme centres use their
/// inner neighbour only; then clipped to `[minsigma, maxsigma]`. Writes `sigmas[..n]` and
/// returns whether two consecutive sorted centres are equal (a tie).
#[allow(clippy::too_many_arguments)]
fn bandwidths(
    mus: &[f64],
    order: &[usize],
    lo: f64,
    hi: f64,
    minsigma: f64,
    maxsigma: f64,
    params: &ParzenParams,
    sigmas: &mut [f64],
) -> bool {
    let n = order.len();
    let inner_only = !params.consider_endpoints && n >= 2;
    let mut tie = false;
    let mut prev = lo;
    for j in 0..n {
        let cur = mus[order[j]];
        let next = if j + 1 < n { mus[order[j + 1]] } else { hi };
        tie |= j > 0 && prev == cur;
        let sg = if inner_only && j == 0 {
            next - cur
        } else if inner_only && j + 1 == n {
            cur - prev
        } else {
            // np.maximum; the gaps are never NaN (finite centres and bounds), so the
            // branch-free max gives the same value (a signed zero aside, which the clip
            // below turns into minsigma, or which only matters for a zero-width range).
            (cur - prev).max(next - cur)
        };
        // np.clip, branch-free for the same reason.
        sigmas[order[j]] = sg.max(minsigma).min(maxsigma);
        prev = cur;
    }
    tie
}

/// Checks that `order` is a permutation of `0..values.len()` that sorts `values` ascending.
fn check_sorting_permutation(order: &[usize], values: &[f64], dim: usize) -> Result<(), CoreError> {
    let bad = |m: &str| {
        Err(CoreError::InvalidArgument(format!(
            "dimension {dim}: the argsort used for tied values {m}"
        )))
    };
    if order.len() != values.len() {
        return bad("returned the wrong number of indices");
    }
    let mut seen = vec![false; values.len()];
    for &i in order {
        match seen.get_mut(i) {
            Some(slot) if !*slot => *slot = true,
            _ => return bad("did not return a permutation"),
        }
    }
    if order.windows(2).any(|w| values[w[0]] > values[w[1]]) {
        return bad("did not sort the values");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked transposition puts every observation in its column.
    #[test]
    fn transposition_is_correct() {
        for (n, d) in [(0, 3), (1, 1), (5, 4), (9, 10), (976, 10), (7, 3)] {
            let obs: Vec<f64> = (0..n * d).map(|i| i as f64 * 0.5 - 3.0).collect();
            let mut columns: Vec<Buf<f64>> = (0..d).map(|_| Buf::with_capacity(n)).collect();
            transpose_into(&obs, n, &mut columns);
            for (j, c) in columns.iter().enumerate() {
                assert_eq!(c.len(), n);
                for (r, &v) in c.iter().enumerate() {
                    assert_eq!(v, obs[r * d + j], "n={n} d={d} r={r} j={j}");
                }
            }
        }
    }

    /// The vectorised listing of flagged centres agrees with the element-by-element one.
    #[test]
    fn flagged_listing_matches() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (n, n_buckets, density) in [
            (0, 5, 2),
            (7, 5, 2),
            (8, 9, 3),
            (975, 302, 10),
            (975, 256, 10),
            (977, 222, 7),
            (1001, 40, 1),
        ] {
            let bucket_of: Vec<u32> = (0..n).map(|_| (next() % n_buckets) as u32).collect();
            let flags: Vec<u8> = (0..n_buckets)
                .map(|_| {
                    if next() % density == 0 {
                        (next() % 3 + 1) as u8
                    } else {
                        0
                    }
                })
                .collect();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ca = list_flagged_portable(&bucket_of, &flags, &mut a, 0);
            let cb = list_flagged(&bucket_of, &flags, &mut b);
            assert_eq!(ca, cb);
            assert_eq!(a, b);
            let want: Vec<u32> = (0..n as u32)
                .filter(|&i| flags[bucket_of[i as usize] as usize] != 0)
                .collect();
            assert_eq!(a, want);
        }
    }

    /// The bucketed bandwidths agree bit for bit with the sorted computation whenever they
    /// apply.
    #[test]
    fn bucket_bandwidths_match_the_sorted_computation() {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut unif = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut applied = 0;
        for case in 0..600 {
            let n = 1 + (unif() * 400.0) as usize;
            let (lo, hi) = if case % 7 == 0 {
                (1e-3f64.ln(), 10f64.ln())
            } else {
                (-5.0, 10.0 + (case % 3) as f64)
            };
            let mus: Vec<f64> = (0..n)
                .map(|_| match case % 5 {
                    // spread
                    0 => lo + (hi - lo) * unif(),
                    // clustered
                    1 => 0.3 + 1e-3 * unif(),
                    // on a coarse grid (ties)
                    2 => lo + ((hi - lo) * unif() * 8.0).round() / 8.0,
                    // at the bounds sometimes
                    3 => {
                        if unif() < 0.1 {
                            if unif() < 0.5 {
                                lo
                            } else {
                                hi
                            }
                        } else {
                            lo + (hi - lo) * unif()
                        }
                    }
                    // mixture of clusters and spread
                    _ => {
                        if unif() < 0.7 {
                            2.0 + 0.05 * unif()
                        } else {
                            lo + (hi - lo) * unif()
                        }
                    }
                })
                .collect();
            let params = ParzenParams {
                prior_weight: 1.0,
                consider_magic_clip: true,
                consider_endpoints: case % 2 == 0,
            };
            let minsigma = (hi - lo) / f64::min(100.0, 1.0 + (n + 1) as f64);
            let maxsigma = hi - lo;
            let mut s = Scratch::default();
            let mut by_bucket = vec![minsigma; n];
            if !bucket_bandwidths(
                &mus,
                lo,
                hi,
                minsigma,
                maxsigma,
                &params,
                &mut s,
                &mut by_bucket,
            ) {
                continue;
            }
            applied += 1;
            let mut keys = Vec::new();
            let mut order = Vec::new();
            stable_argsort_into(&mus, &mut keys, &mut order);
            let mut sorted = vec![0.0; n];
            bandwidths(
                &mus,
                &order,
                lo,
                hi,
                minsigma,
                maxsigma,
                &params,
                &mut sorted,
            );
            for (i, (a, b)) in by_bucket.iter().zip(&sorted).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "case {case}, centre {i}: {a} vs {b}"
                );
            }
        }
        assert!(
            applied > 250,
            "the bucketed path applied only {applied} times"
        );
    }
}
