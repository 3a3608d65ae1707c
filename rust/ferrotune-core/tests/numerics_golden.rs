//! Golden-value tests of the numerics layer (rng, numpy_ops, special, truncnorm) against numpy
//! 2.4.6 / Optuna 5.0.0 on the reference machine.
//!
//! The values in `numerics_data/*.txt` come from `gen_numerics_golden.py`; large random inputs are
//! rebuilt here from the (itself tested) MT19937 stream with the same element-wise arithmetic as
//! the script's `recipe_*` functions. Floats are compared bit for bit (`to_bits`), except that
//! any NaN matches any NaN.

use std::collections::HashMap;

use ferrotune_core::numpy_ops::{logaddexp, pairwise_sum};
use ferrotune_core::rng::{Mt19937, MT_N};
use ferrotune_core::special::{
    erf, erf_batch, erfc, log_ndtr, ndtr_batch, ndtr_single, ERF_POLY_MIN_BATCH,
};
use ferrotune_core::truncnorm::{
    log_gauss_mass, logpdf_grid, logpdf_grid_sum_d_into, ndtri_exp, ppf,
};

struct Golden(HashMap<String, Vec<u64>>);

impl Golden {
    fn parse(text: &str) -> Golden {
        let mut map: HashMap<String, Vec<u64>> = HashMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('@') {
                current = Some(name.to_string());
                map.entry(name.to_string()).or_default();
                continue;
            }
            let name = current.clone().expect("data before the first section");
            let words = map.get_mut(&name).expect("section exists");
            for w in line.split_whitespace() {
                words.push(u64::from_str_radix(w, 16).expect("hex word"));
            }
        }
        Golden(map)
    }

    fn words(&self, name: &str) -> &[u64] {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("missing section {name}"))
    }

    fn f64s(&self, name: &str) -> Vec<f64> {
        self.words(name)
            .iter()
            .map(|&w| f64::from_bits(w))
            .collect()
    }

    fn usizes(&self, name: &str) -> Vec<usize> {
        self.words(name).iter().map(|&w| w as usize).collect()
    }
}

fn rng_data() -> Golden {
    Golden::parse(include_str!("numerics_data/rng.txt"))
}
fn numpy_ops_data() -> Golden {
    Golden::parse(include_str!("numerics_data/numpy_ops.txt"))
}
fn special_data() -> Golden {
    Golden::parse(include_str!("numerics_data/special.txt"))
}
fn truncnorm_data() -> Golden {
    Golden::parse(include_str!("numerics_data/truncnorm.txt"))
}

/// Bit-for-bit comparison (any NaN equals any NaN), listing the first mismatches.
#[track_caller]
fn assert_bits(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
        if !same {
            bad.push(i);
        }
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad
            .iter()
            .take(8)
            .map(|&i| {
                let ulps = (got[i].to_bits() as i64).wrapping_sub(want[i].to_bits() as i64);
                format!("[{i}] got {:e} want {:e} ({ulps} ulp)", got[i], want[i])
            })
            .collect();
        panic!(
            "{what}: {} of {} differ: {}",
            bad.len(),
            got.len(),
            shown.join(", ")
        );
    }
}

/// `RandomState(seed).random_sample(n)`.
fn draws(seed: u32, n: usize) -> Vec<f64> {
    let mut mt = Mt19937::new(seed);
    let mut out = vec![0.0; n];
    mt.fill_random_sample(&mut out);
    out
}

fn concat(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().chain(b).copied().collect()
}

// ------------------------------------------------------------------------------------------
// Recipes mirrored from gen_numerics_golden.py.

const SCALES: [f64; 7] = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3];

fn recipe_pairwise() -> Vec<f64> {
    let u = draws(11, 5000);
    let s = draws(12, 5000);
    u.iter()
        .zip(&s)
        .map(|(&u, &s)| (u - 0.5) * SCALES[(s * 7.0) as usize])
        .collect()
}

fn recipe_erf_big() -> Vec<f64> {
    draws(21, 2600).iter().map(|&u| u * 14.0 - 7.0).collect()
}

fn recipe_log_ndtr() -> Vec<f64> {
    draws(31, 800).iter().map(|&u| u * 80.0 - 60.0).collect()
}

fn recipe_lgm_big() -> (Vec<f64>, Vec<f64>) {
    let u = draws(41, 2250);
    let v = draws(42, 2250);
    let mut a: Vec<f64> = u.iter().map(|&u| -u * 8.0).collect();
    let mut b: Vec<f64> = v.iter().map(|&v| v * 8.0 + 1e-3).collect();
    for i in 2050..2250 {
        if i % 2 == 0 {
            a[i] = -u[i] * 30.0 - 1.0;
            b[i] = (a[i] + v[i] * 5.0).min(0.0);
        } else {
            a[i] = u[i] * 10.0 + 1e-3;
            b[i] = a[i] + v[i] * 5.0 + 1e-3;
        }
    }
    (a, b)
}

fn recipe_lgm_small() -> (Vec<f64>, Vec<f64>) {
    let u = draws(43, 600);
    let v = draws(44, 600);
    let a: Vec<f64> = u.iter().map(|&u| u * 50.0 - 35.0).collect();
    let b = a.iter().zip(&v).map(|(&a, &v)| a + v * 10.0).collect();
    (a, b)
}

fn recipe_ndtri_exp() -> Vec<f64> {
    let u = draws(51, 300);
    u.iter()
        .enumerate()
        .map(|(i, &u)| if i < 200 { -(u * u) * 60.0 } else { -u * 0.02 })
        .collect()
}

fn recipe_ppf(seed: u32, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let u = draws(seed, n);
    let v = draws(seed + 1, n);
    let w = draws(seed + 2, n);
    let mu: Vec<f64> = u.iter().map(|&u| u * 1.2 - 0.1).collect();
    let sigma: Vec<f64> = v.iter().map(|&v| v * 0.5 + 0.02).collect();
    let a = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (0.0 - m) / s)
        .collect();
    let b = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (1.0 - m) / s)
        .collect();
    (w, a, b)
}

type Grid = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn recipe_logpdf(seed: u32, n_x: usize, k: usize, d: usize) -> Grid {
    let x = draws(seed, n_x * d)
        .iter()
        .map(|&u| u * 1.2 - 0.1)
        .collect();
    let mu = draws(seed + 1, k * d);
    let sigma: Vec<f64> = draws(seed + 2, k * d)
        .iter()
        .map(|&u| u * 0.6 + 0.01)
        .collect();
    let a = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (0.0 - m) / s)
        .collect();
    let b = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (1.0 - m) / s)
        .collect();
    (x, a, b, mu, sigma)
}

// ------------------------------------------------------------------------------------------
// rng

#[test]
fn rng_seeding_and_raw_stream() {
    let g = rng_data();
    for seed in [0u32, u32::MAX] {
        let mt = Mt19937::new(seed);
        let key: Vec<u64> = mt.key().iter().map(|&w| u64::from(w)).collect();
        assert_eq!(key, g.words(&format!("key_{seed}")), "key for seed {seed}");
        assert_eq!(mt.pos(), MT_N);
        let mut mt = mt;
        let raw: Vec<u64> = (0..1300).map(|_| u64::from(mt.next_u32())).collect();
        assert_eq!(
            raw,
            g.words(&format!("raw_{seed}")),
            "raw stream for seed {seed}"
        );
    }
}

#[test]
fn rng_random_sample() {
    let g = rng_data();
    for (seed, n) in [(0u32, 700usize), (1, 320), (42, 320), (u32::MAX, 700)] {
        let mut mt = Mt19937::new(seed);
        let got: Vec<f64> = (0..n).map(|_| mt.random_sample()).collect();
        assert_bits(
            &format!("random_sample seed {seed}"),
            &got,
            &g.f64s(&format!("random_sample_{seed}")),
        );
        // The fill variant gives the same numbers.
        assert_bits("fill_random_sample", &draws(seed, n), &got);
    }
}

#[test]
fn rng_from_state_mid_block() {
    let g = rng_data();
    let key: Vec<u32> = g.words("mid_key").iter().map(|&w| w as u32).collect();
    let pos = g.usizes("mid_pos")[0];
    let mut mt = Mt19937::from_state(&key, pos).expect("valid state");
    let got: Vec<f64> = (0..400).map(|_| mt.random_sample()).collect();
    assert_bits("mid_random_sample", &got, &g.f64s("mid_random_sample"));
    let key_after: Vec<u64> = mt.key().iter().map(|&w| u64::from(w)).collect();
    assert_eq!(key_after, g.words("mid_key_after"));
    assert_eq!(mt.pos(), g.usizes("mid_pos_after")[0]);
}

#[test]
fn rng_uniform() {
    let g = rng_data();
    let mut mt = Mt19937::new(5);
    let got: Vec<f64> = (0..60).map(|_| mt.uniform(-3.5, 7.25)).collect();
    assert_bits("uniform scalar", &got, &g.f64s("uniform_5"));
    let mut got = vec![0.0; 40];
    mt.fill_uniform(0.0, 1.0, &mut got);
    assert_bits("uniform size=40", &got, &g.f64s("uniform_5_size"));
}

#[test]
fn rng_choice_with_p() {
    let g = rng_data();
    for name in ["c4", "zeros", "one", "ramp", "thirds"] {
        let p = if name == "ramp" {
            let raw = draws(63, 1001);
            let total = pairwise_sum(&raw);
            raw.iter().map(|&v| v / total).collect()
        } else {
            g.f64s(&format!("choice_p_{name}"))
        };
        let size_seed = g.usizes(&format!("choice_size_{name}"));
        let (size, seed) = (size_seed[0], size_seed[1] as u32);
        let mut mt = Mt19937::new(seed);
        for _ in 0..17 {
            mt.random_sample();
        }
        let got = mt.choice_p(&p, size);
        assert_eq!(
            got,
            g.usizes(&format!("choice_out_{name}")),
            "choice {name}"
        );
        assert_bits(
            &format!("stream after choice {name}"),
            &[mt.random_sample()],
            &g.f64s(&format!("choice_next_{name}")),
        );
    }
}

// ------------------------------------------------------------------------------------------
// numpy_ops

#[test]
fn pairwise_sum_matches_numpy() {
    let g = numpy_ops_data();
    let x = recipe_pairwise();
    let lengths = g.usizes("pairwise_lengths");
    let got: Vec<f64> = lengths.iter().map(|&n| pairwise_sum(&x[..n])).collect();
    assert_bits("pairwise_sum", &got, &g.f64s("pairwise_sums"));
    let got: Vec<f64> = x[..3 * 4 * 37].chunks_exact(37).map(pairwise_sum).collect();
    assert_bits("sum(axis=-1)", &got, &g.f64s("axis_sums_37"));
}

#[test]
fn logaddexp_matches_numpy() {
    let g = numpy_ops_data();
    let xs = g.f64s("logaddexp_x");
    let ys = g.f64s("logaddexp_y");
    let got: Vec<f64> = xs.iter().zip(&ys).map(|(&x, &y)| logaddexp(x, y)).collect();
    assert_bits("logaddexp", &got, &g.f64s("logaddexp_out"));
}

// ------------------------------------------------------------------------------------------
// special

#[test]
fn scalar_erf_erfc_match_python_math() {
    let g = special_data();
    let xs = g.f64s("scalar_x");
    let got: Vec<f64> = xs.iter().map(|&x| erf(x)).collect();
    assert_bits("math.erf", &got, &g.f64s("scalar_erf"));
    let got: Vec<f64> = xs.iter().map(|&x| erfc(x)).collect();
    assert_bits("math.erfc", &got, &g.f64s("scalar_erfc"));
}

#[test]
fn erf_batch_matches_optuna() {
    let g = special_data();
    let input = concat(&g.f64s("erf_big_edges"), &recipe_erf_big());
    assert!(input.len() >= ERF_POLY_MIN_BATCH);
    let want = g.f64s("erf_big_out");
    assert_bits("erf_batch (polynomial)", &erf_batch(&input), &want);
    // Exactly 2000 elements still take the polynomial path ...
    assert_bits("erf_batch 2000", &erf_batch(&input[..2000]), &want[..2000]);
    // ... and 1999 take math.erf per element.
    let small: Vec<f64> = input[..1999].iter().map(|&x| erf(x)).collect();
    assert_bits("erf_batch 1999", &erf_batch(&input[..1999]), &small);
}

#[test]
fn ndtr_and_log_ndtr_match_optuna() {
    let g = special_data();
    let a = concat(&g.f64s("ndtr_extra"), &recipe_log_ndtr());
    let got: Vec<f64> = a.iter().map(|&v| ndtr_single(v)).collect();
    assert_bits("_ndtr_single", &got, &g.f64s("ndtr_single"));
    let got: Vec<f64> = a.iter().map(|&v| log_ndtr(v)).collect();
    assert_bits("_log_ndtr", &got, &g.f64s("log_ndtr"));
    assert_bits(
        "_ndtr small batch",
        &ndtr_batch(&a[..500]),
        &g.f64s("ndtr_batch_small"),
    );
    let big: Vec<f64> = draws(72, 2000).iter().map(|&u| u * 16.0 - 8.0).collect();
    assert_bits(
        "_ndtr big batch",
        &ndtr_batch(&big),
        &g.f64s("ndtr_batch_big"),
    );
}

// ------------------------------------------------------------------------------------------
// truncnorm

#[test]
fn log_gauss_mass_matches_optuna() {
    let g = truncnorm_data();
    let (a, b) = recipe_lgm_small();
    let aa = concat(&g.f64s("lgm_pairs_a"), &a);
    let bb = concat(&g.f64s("lgm_pairs_b"), &b);
    assert_bits("lgm small", &log_gauss_mass(&aa, &bb), &g.f64s("lgm_small"));

    let (a, b) = recipe_lgm_big();
    let big = log_gauss_mass(&a, &b);
    let want_big = g.f64s("lgm_big");
    assert_bits("lgm big (2050 central)", &big, &want_big);
    // 2000 central pairs: still the polynomial erf, element for element the same.
    assert_bits(
        "lgm 2000 central",
        &log_gauss_mass(&a[50..], &b[50..]),
        &want_big[50..],
    );
    // 1999 central pairs in a 2199-pair batch: the libm erf for the central subset.
    let c1999 = log_gauss_mass(&a[51..], &b[51..]);
    assert_bits(
        "lgm 1999 central",
        &c1999[..1999],
        &g.f64s("lgm_c1999_central"),
    );
    assert_bits("lgm 1999 tails", &c1999[1999..], &want_big[2050..]);
}

#[test]
fn ndtri_exp_matches_optuna() {
    let g = truncnorm_data();
    let yy = concat(&g.f64s("ndtri_extra"), &recipe_ndtri_exp());
    assert_bits("ndtri_exp all", &ndtri_exp(&yy), &g.f64s("ndtri_all"));
    assert_bits(
        "ndtri_exp first",
        &ndtri_exp(&yy[..1]),
        &g.f64s("ndtri_first"),
    );
    assert_bits(
        "ndtri_exp flipped",
        &ndtri_exp(&yy[208..]),
        &g.f64s("ndtri_flipped"),
    );
    let with_nan = concat(&yy[8..40], &[f64::NAN]);
    assert_bits(
        "ndtri_exp with NaN",
        &ndtri_exp(&with_nan),
        &g.f64s("ndtri_with_nan"),
    );
}

#[test]
fn ppf_matches_optuna() {
    let g = truncnorm_data();
    for (seed, n) in [(81u32, 240usize), (84, 24), (87, 1), (90, 2400)] {
        let (q, a, b) = recipe_ppf(seed, n);
        assert_bits(
            &format!("ppf seed {seed} n {n}"),
            &ppf(&q, &a, &b),
            &g.f64s(&format!("ppf_{seed}")),
        );
    }
    let (q, a, b) = (g.f64s("ppf_sp_q"), g.f64s("ppf_sp_a"), g.f64s("ppf_sp_b"));
    assert_bits("ppf special cases", &ppf(&q, &a, &b), &g.f64s("ppf_sp"));
}

#[test]
fn logpdf_grid_matches_optuna() {
    let g = truncnorm_data();
    for (seed, n_x, k, d) in [(101u32, 24usize, 30usize, 3usize), (105, 1, 410, 5)] {
        let (x, mut a, mut b, mu, sigma) = recipe_logpdf(seed, n_x, k, d);
        if seed == 101 {
            a[5 * d] = 0.25;
            b[5 * d] = 0.25;
        }
        let full = logpdf_grid(&x, &a, &b, &mu, &sigma, n_x, k, d);
        assert_bits(
            &format!("logpdf {seed}"),
            &full,
            &g.f64s(&format!("logpdf_{seed}")),
        );
        let want_sum = g.f64s(&format!("logpdf_sum_{seed}"));
        let summed: Vec<f64> = full.chunks_exact(d).map(pairwise_sum).collect();
        assert_bits(&format!("logpdf sum {seed}"), &summed, &want_sum);
        let mut fused = vec![0.0; n_x * k];
        logpdf_grid_sum_d_into(&x, &a, &b, &mu, &sigma, n_x, k, d, &mut fused)
            .expect("valid shapes");
        assert_bits(&format!("logpdf fused sum {seed}"), &fused, &want_sum);
    }
}
