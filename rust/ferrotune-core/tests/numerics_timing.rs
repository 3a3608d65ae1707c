//! Rough timings of the numerics hot paths. Ignored by default; run with
//! `cargo test --release -p ferrotune-core --test numerics_timing -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use ferrotune_core::numpy_ops::pairwise_sum;
use ferrotune_core::rng::Mt19937;
use ferrotune_core::special::erf_batch;
use ferrotune_core::truncnorm::{log_gauss_mass, logpdf_grid, logpdf_grid_sum_d_into, ppf};

fn draws(seed: u32, n: usize) -> Vec<f64> {
    let mut mt = Mt19937::new(seed);
    let mut out = vec![0.0; n];
    mt.fill_random_sample(&mut out);
    out
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clk: i32, tp: *mut Timespec) -> i32;
}

/// CPU time of the calling thread in seconds (CLOCK_THREAD_CPUTIME_ID), so that other load on
/// the machine does not inflate the numbers; falls back to 0 if the call fails.
fn thread_cpu_s() -> f64 {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call (Linux x86-64
    // layout: two 64-bit fields).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median of `reps` timings of `f` in microseconds of thread CPU time (wall time if the CPU
/// clock is unavailable).
fn time_us<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let wall = Instant::now();
            let cpu = thread_cpu_s();
            f();
            let c = thread_cpu_s() - cpu;
            if c > 0.0 {
                c * 1e6
            } else {
                wall.elapsed().as_secs_f64() * 1e6
            }
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[reps / 2]
}

/// A TPE-like (a, b) grid: k kernels with centres in [0, 1] and bandwidths of a few percent.
fn grid(seed: u32, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mu = draws(seed, n);
    let sigma: Vec<f64> = draws(seed + 1, n).iter().map(|&v| v * 0.1 + 0.01).collect();
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
    (a, b, mu, sigma)
}

#[test]
#[ignore]
fn timings() {
    let (a, b, mu, sigma) = grid(1, 10_000);
    let t = time_us(200, || {
        black_box(log_gauss_mass(black_box(&a), black_box(&b)));
    });
    println!("log_gauss_mass 10000 (polynomial erf, wide kernels): {t:.1} us");
    // At 1,000 trials most bandwidths sit at the magic-clip floor, (high - low) / 100.
    let mu_t = draws(13, 10_000);
    let ta: Vec<f64> = mu_t.iter().map(|&m| (0.0 - m) / 0.01).collect();
    let tb: Vec<f64> = mu_t.iter().map(|&m| (1.0 - m) / 0.01).collect();
    let t = time_us(200, || {
        black_box(log_gauss_mass(black_box(&ta), black_box(&tb)));
    });
    println!("log_gauss_mass 10000 (polynomial erf, sigma = 0.01): {t:.1} us");
    let t = time_us(200, || {
        black_box(log_gauss_mass(black_box(&a[..1900]), black_box(&b[..1900])));
    });
    println!("log_gauss_mass 1900 (libm erf): {t:.1} us");

    let x = draws(3, 20_000);
    let t = time_us(200, || {
        black_box(erf_batch(black_box(&x[..10_000])));
    });
    println!("erf_batch 10000 (polynomial): {t:.1} us");
    let t = time_us(200, || {
        black_box(erf_batch(black_box(&x[..1999])));
    });
    println!("erf_batch 1999 (libm): {t:.1} us");

    // ppf on 24 candidates x 10 dimensions, kernels picked at random.
    let (pa, pb, _, _) = grid(5, 240);
    let q = draws(7, 240);
    let t = time_us(500, || {
        black_box(ppf(black_box(&q), black_box(&pa), black_box(&pb)));
    });
    println!("ppf 240 (wide kernels): {t:.1} us");
    let pmu = draws(8, 240);
    let qa: Vec<f64> = pmu.iter().map(|&m| (0.0 - m) / 0.01).collect();
    let qb: Vec<f64> = pmu.iter().map(|&m| (1.0 - m) / 0.01).collect();
    let t = time_us(500, || {
        black_box(ppf(black_box(&q), black_box(&qa), black_box(&qb)));
    });
    println!("ppf 240 (sigma = 0.01): {t:.1} us");

    // logpdf for 24 candidates against 1000 kernels in 10 dimensions.
    let (n_x, k, d) = (24, 1000, 10);
    let xs = draws(9, n_x * d);
    let t = time_us(50, || {
        black_box(logpdf_grid(&xs, &a, &b, &mu, &sigma, n_x, k, d));
    });
    println!("logpdf_grid 24x1000x10: {t:.1} us");
    let mut out = vec![0.0; n_x * k];
    let t = time_us(50, || {
        logpdf_grid_sum_d_into(&xs, &a, &b, &mu, &sigma, n_x, k, d, &mut out).ok();
        black_box(&out);
    });
    println!("logpdf_grid_sum_d_into 24x1000x10: {t:.1} us");

    let sig_t = vec![0.01; 10_000];
    let t = time_us(50, || {
        black_box(logpdf_grid(&xs, &ta, &tb, &mu_t, &sig_t, n_x, k, d));
    });
    println!("logpdf_grid 24x1000x10 (sigma = 0.01): {t:.1} us");
    let t = time_us(50, || {
        logpdf_grid_sum_d_into(&xs, &ta, &tb, &mu_t, &sig_t, n_x, k, d, &mut out).ok();
        black_box(&out);
    });
    println!("logpdf_grid_sum_d_into 24x1000x10 (sigma = 0.01): {t:.1} us");

    let s = draws(11, 10_000);
    let t = time_us(500, || {
        black_box(pairwise_sum(black_box(&s)));
    });
    println!("pairwise_sum 10000: {t:.2} us");

    let p: Vec<f64> = vec![1.0 / 1000.0; 1000];
    let mut mt = Mt19937::new(1);
    let t = time_us(500, || {
        black_box(mt.choice_p(black_box(&p), 24));
    });
    println!("choice_p 1000 -> 24: {t:.2} us");
}
