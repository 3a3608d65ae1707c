//! Input validation, special values, the tie-order hook and robustness of the Parzen estimator
//! and the TPE step: bad input gives `Err`, never a panic, and never touches the random stream.

use std::sync::atomic::{AtomicUsize, Ordering};

use ferrotune_core::mixture::Scoring;
use ferrotune_core::parzen::{ParzenEstimator, ParzenParams};
use ferrotune_core::rng::Mt19937;
use ferrotune_core::sort::{ArgSort, StableArgSort};
use ferrotune_core::space::Dim;
use ferrotune_core::tpe::{argmax_first, sample_step, sample_step_detailed};
use ferrotune_core::CoreError;

fn p() -> ParzenParams {
    ParzenParams::default()
}

fn float(low: f64, high: f64) -> Dim {
    Dim::Numerical {
        low,
        high,
        step: None,
        log: false,
    }
}

fn build(dims: &[Dim], obs: &[f64], n: usize, w: &[f64]) -> Result<ParzenEstimator, CoreError> {
    ParzenEstimator::new(dims, obs, n, w, &p(), &StableArgSort)
}

fn is_arg_err<T: std::fmt::Debug>(r: Result<T, CoreError>, needle: &str) {
    match r {
        Err(CoreError::InvalidArgument(m)) | Err(CoreError::InvalidSearchSpace(m)) => {
            assert!(m.contains(needle), "message {m:?} lacks {needle:?}");
        }
        Ok(v) => panic!("expected an error mentioning {needle:?}, got Ok({v:?})"),
    }
}

#[test]
fn rejects_bad_search_spaces() {
    let ok_obs = [0.5];
    let w = [1.0];
    let cases: Vec<(Dim, &str)> = vec![
        (float(1.0, 0.0), "low must not exceed high"),
        (float(f64::NAN, 1.0), "finite"),
        (float(0.0, f64::INFINITY), "finite"),
        (
            Dim::Numerical {
                low: 0.0,
                high: 1.0,
                step: Some(0.0),
                log: false,
            },
            "step",
        ),
        (
            Dim::Numerical {
                low: 0.0,
                high: 1.0,
                step: Some(-0.1),
                log: false,
            },
            "step",
        ),
        (
            Dim::Numerical {
                low: 0.0,
                high: 1.0,
                step: None,
                log: true,
            },
            "log",
        ),
        (
            Dim::Numerical {
                low: 0.5,
                high: 4.0,
                step: Some(1.0),
                log: true,
            },
            "log",
        ),
        (Dim::Categorical { n_choices: 0 }, "at least one choice"),
    ];
    for (dim, needle) in cases {
        let r = build(std::slice::from_ref(&dim), &ok_obs, 1, &w);
        assert!(
            matches!(r, Err(CoreError::InvalidSearchSpace(_))),
            "{dim:?}: {r:?}"
        );
        is_arg_err(r, needle);
    }
    is_arg_err(build(&[], &[], 0, &[]), "no dimensions");
}

#[test]
fn rejects_bad_observations_and_weights() {
    let dims = [float(0.0, 1.0), Dim::Categorical { n_choices: 3 }];
    // Length mismatches.
    is_arg_err(
        build(&dims, &[0.5, 1.0, 0.2], 2, &[1.0, 1.0]),
        "expected n_obs * d",
    );
    is_arg_err(
        build(&dims, &[0.5, 1.0], 1, &[1.0, 1.0]),
        "weights for 1 observations",
    );
    is_arg_err(build(&dims, &[0.5, 1.0], 1, &[]), "weights");
    // Bad values.
    is_arg_err(
        build(&dims, &[f64::NAN, 1.0], 1, &[1.0]),
        "observation [0, 0]",
    );
    is_arg_err(build(&dims, &[0.5, 3.0], 1, &[1.0]), "choice index");
    is_arg_err(build(&dims, &[0.5, -1.0], 1, &[1.0]), "choice index");
    is_arg_err(build(&dims, &[0.5, 1.5], 1, &[1.0]), "choice index");
    let log_dims = [Dim::Numerical {
        low: 1.0,
        high: 10.0,
        step: None,
        log: true,
    }];
    is_arg_err(build(&log_dims, &[0.0], 1, &[1.0]), "log scale");
    is_arg_err(build(&log_dims, &[-3.0], 1, &[1.0]), "log scale");
    // Weights.
    is_arg_err(build(&dims, &[0.5, 1.0], 1, &[-1.0]), "non-negative");
    is_arg_err(build(&dims, &[0.5, 1.0], 1, &[f64::NAN]), "finite");
    is_arg_err(build(&dims, &[0.5, 1.0], 1, &[f64::INFINITY]), "finite");
    is_arg_err(
        build(&dims, &[0.5, 1.0, 0.2, 2.0], 2, &[0.0, 0.0]),
        "all zero",
    );
    is_arg_err(
        build(&dims, &[0.5, 1.0, 0.2, 2.0], 2, &[f64::MAX, f64::MAX]),
        "finite positive sum",
    );
    // Prior weight.
    for pw in [-1.0, f64::NAN, f64::INFINITY] {
        let params = ParzenParams {
            prior_weight: pw,
            ..ParzenParams::default()
        };
        is_arg_err(
            ParzenEstimator::new(&dims, &[0.5, 1.0], 1, &[1.0], &params, &StableArgSort),
            "prior_weight",
        );
    }
    // Observations outside the bounds are allowed (Optuna allows them).
    assert!(build(&dims, &[7.5, 1.0, -3.0, 0.0], 2, &[1.0, 1.0]).is_ok());
}

#[test]
fn rejects_bad_points_to_score() {
    let dims = [
        float(0.0, 1.0),
        Dim::Categorical { n_choices: 3 },
        Dim::Numerical {
            low: 1.0,
            high: 100.0,
            step: None,
            log: true,
        },
    ];
    let est = build(&dims, &[0.5, 1.0, 3.0], 1, &[1.0]).unwrap_or_else(|e| panic!("{e}"));
    for mode in [Scoring::Fast, Scoring::Exact] {
        is_arg_err(est.log_pdf_mode(&[0.5, 1.0], 1, mode), "expected n * d");
        is_arg_err(
            est.log_pdf_mode(&[0.5, 1.0, 2.0, 0.5], 1, mode),
            "expected n * d",
        );
        is_arg_err(est.log_pdf_mode(&[f64::NAN, 1.0, 2.0], 1, mode), "x[0, 0]");
        is_arg_err(est.log_pdf_mode(&[0.5, 3.0, 2.0], 1, mode), "choice index");
        is_arg_err(est.log_pdf_mode(&[0.5, 0.5, 2.0], 1, mode), "choice index");
        is_arg_err(est.log_pdf_mode(&[0.5, 1.0, 0.0], 1, mode), "log scale");
        assert_eq!(est.log_pdf_mode(&[], 0, mode), Ok(vec![]));
    }
}

#[test]
fn sample_step_validates_before_touching_the_rng() {
    let dims = [float(0.0, 1.0)];
    let fresh = Mt19937::new(5);
    let mut rng = fresh.clone();
    let r = sample_step(
        &dims,
        &[0.5],
        1,
        &[1.0],
        &[0.2],
        1,
        &[1.0],
        &p(),
        0,
        &mut rng,
        &StableArgSort,
    );
    is_arg_err(r, "n_candidates");
    let r = sample_step(
        &dims,
        &[0.5],
        1,
        &[1.0],
        &[0.2, 0.3],
        1,
        &[1.0],
        &p(),
        24,
        &mut rng,
        &StableArgSort,
    );
    is_arg_err(r, "above estimator");
    let r = sample_step(
        &dims,
        &[f64::NAN],
        1,
        &[1.0],
        &[0.2],
        1,
        &[1.0],
        &p(),
        24,
        &mut rng,
        &StableArgSort,
    );
    is_arg_err(r, "below estimator");
    assert_eq!(rng.key(), fresh.key());
    assert_eq!(rng.pos(), fresh.pos());
}

/// Records how often it is asked and orders ties in reverse input order.
struct ReverseTies(AtomicUsize);

impl ArgSort for ReverseTies {
    fn argsort(&self, values: &[f64]) -> Vec<usize> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut idx: Vec<usize> = (0..values.len()).collect();
        idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(b.cmp(&a)));
        idx
    }
}

#[test]
fn tie_order_comes_from_the_injected_sorter() {
    let dims = [float(0.0, 10.0)];
    // Centres 2, 5, 5, 9: the tied pair gets gaps 3 (left) and 4 (right) in sorted order.
    let obs = [5.0, 2.0, 5.0, 9.0];
    let w = [1.0; 4];
    let params = ParzenParams {
        consider_magic_clip: false,
        ..ParzenParams::default()
    };
    let stable = ParzenEstimator::new(&dims, &obs, 4, &w, &params, &StableArgSort)
        .unwrap_or_else(|e| panic!("{e}"));
    let counting = ReverseTies(AtomicUsize::new(0));
    let reversed = ParzenEstimator::new(&dims, &obs, 4, &w, &params, &counting)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counting.0.load(Ordering::SeqCst), 1);
    // Stable: observation 0 comes first among the tied 5s (its right gap is 0, left gap 3),
    // observation 2 second (left gap 0, right gap 4).
    assert_eq!(stable.sigmas(0), Some(&[3.0, 3.0, 4.0, 4.0, 10.0][..]));
    assert_eq!(reversed.sigmas(0), Some(&[4.0, 3.0, 3.0, 4.0, 10.0][..]));

    // Without ties the sorter is not consulted.
    let counting = ReverseTies(AtomicUsize::new(0));
    let _ = ParzenEstimator::new(&dims, &[5.0, 2.0, 6.0], 3, &[1.0; 3], &params, &counting);
    assert_eq!(counting.0.load(Ordering::SeqCst), 0);
}

struct Broken(Vec<usize>);

impl ArgSort for Broken {
    fn argsort(&self, _values: &[f64]) -> Vec<usize> {
        self.0.clone()
    }
}

#[test]
fn a_broken_sorter_is_an_error_not_a_panic() {
    let dims = [float(0.0, 10.0)];
    let obs = [5.0, 2.0, 5.0];
    for bad in [vec![0, 1], vec![0, 1, 7], vec![0, 0, 1], vec![0, 1, 2]] {
        let r = ParzenEstimator::new(&dims, &obs, 3, &[1.0; 3], &p(), &Broken(bad.clone()));
        is_arg_err(r, "argsort");
    }
    // A valid sorting permutation is accepted.
    let r = ParzenEstimator::new(&dims, &obs, 3, &[1.0; 3], &p(), &Broken(vec![1, 2, 0]));
    assert!(r.is_ok());
}

#[test]
fn special_values_match_between_fast_and_exact_scoring() {
    let dims = [float(-1.0, 1.0), float(0.0, 4.0)];
    let obs = [0.0, 1.0, 0.5, 3.0, -0.9, 0.1];
    let est = build(&dims, &obs, 3, &[1.0, 2.0, 0.5]).unwrap_or_else(|e| panic!("{e}"));
    // Points outside the bounds have density zero (log -inf) in Optuna; on the bounds it is
    // finite.
    let x = [1.5, 1.0, -1.0, 0.0, 1.0, 4.0, 0.0, 4.0000001, 0.3, 2.0];
    let fast = est.log_pdf(&x, 5).unwrap_or_else(|e| panic!("{e}"));
    let exact = est.log_pdf_exact(&x, 5).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fast[0], f64::NEG_INFINITY);
    assert_eq!(fast[3], f64::NEG_INFINITY);
    for (f, e) in fast.iter().zip(&exact) {
        assert!(
            f == e || (f - e).abs() <= 1e-13 * e.abs().max(1.0),
            "fast {f} vs exact {e}"
        );
    }
    // A zero-width dimension (low == high) gives NaN, as in Optuna.
    let flat = [float(2.0, 2.0)];
    let est = build(&flat, &[2.0], 1, &[1.0]).unwrap_or_else(|e| panic!("{e}"));
    let v = est.log_pdf(&[2.0], 1).unwrap_or_else(|e| panic!("{e}"));
    assert!(v[0].is_nan());
    let mut rng = Mt19937::new(1);
    let s = est.sample(&mut rng, 4);
    assert_eq!(s.len(), 4);
}

#[test]
fn zero_prior_weight_and_zero_weights_are_handled() {
    let dims = [float(0.0, 1.0), Dim::Categorical { n_choices: 4 }];
    let params = ParzenParams {
        prior_weight: 0.0,
        ..ParzenParams::default()
    };
    let obs = [0.2, 0.0, 0.8, 3.0, 0.5, 1.0];
    let est = ParzenEstimator::new(&dims, &obs, 3, &[1.0, 0.0, 2.0], &params, &StableArgSort)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(est.weights().last(), Some(&0.0));
    let mut rng = Mt19937::new(9);
    let s = est.sample(&mut rng, 50);
    // Components with zero weight are never drawn: the categorical value comes from
    // observation 0 or 2 (choices 0 or 1, mostly) and never from the zero-weight prior alone.
    assert_eq!(s.len(), 100);
    let fast = est.log_pdf(&s, 50).unwrap_or_else(|e| panic!("{e}"));
    let exact = est.log_pdf_exact(&s, 50).unwrap_or_else(|e| panic!("{e}"));
    for (f, e) in fast.iter().zip(&exact) {
        assert!(
            f == e || (f - e).abs() <= 1e-13 * e.abs().max(1.0),
            "{f} vs {e}"
        );
    }
    // With no observations the prior alone is used, whatever its weight.
    let est = ParzenEstimator::new(&dims, &[], 0, &[], &params, &StableArgSort)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(est.weights(), &[1.0]);
    assert_eq!(est.categorical_weights(1), Some(vec![0.25; 4]));
}

#[test]
fn argmax_takes_the_first_maximum() {
    assert_eq!(argmax_first(&[0.0, 2.0, 2.0]), 1);
    assert_eq!(argmax_first(&[0.0, f64::NAN, 2.0]), 1);
}

/// Many random search spaces, observations, weights and parameters, including extreme but
/// valid values: nothing panics, sampling stays inside the bounds, fast and exact scoring
/// agree, and the step's choice is a drawn candidate.
#[test]
fn random_inputs_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut unif = {
        let mut n = next;
        move || (n() >> 11) as f64 / (1u64 << 53) as f64
    };
    for case in 0..300 {
        let d = 1 + (unif() * 4.0) as usize;
        let mut dims = Vec::new();
        for _ in 0..d {
            let kind = (unif() * 6.0) as usize;
            let low = (unif() - 0.5) * 10f64.powi((unif() * 8.0) as i32 - 3);
            let width = 10f64.powi((unif() * 10.0) as i32 - 5) * unif();
            dims.push(match kind {
                0 => float(low, low + width),
                1 => Dim::Numerical {
                    low: 0.5 + low.abs(),
                    high: 0.5 + low.abs() + width * 100.0,
                    step: None,
                    log: true,
                },
                2 => Dim::Numerical {
                    low: low.round(),
                    high: low.round() + (width * 50.0).round(),
                    step: Some(1.0),
                    log: false,
                },
                3 => Dim::Numerical {
                    low: 1.0 + low.abs().round(),
                    high: 1.0 + low.abs().round() + (width * 500.0).round(),
                    step: Some(1.0),
                    log: true,
                },
                4 => {
                    let step = 0.25;
                    Dim::Numerical {
                        low,
                        high: low + step * (width * 40.0).round(),
                        step: Some(step),
                        log: false,
                    }
                }
                _ => Dim::Categorical {
                    n_choices: 1 + (unif() * 7.0) as usize,
                },
            });
        }
        let n_obs = (unif() * 60.0) as usize;
        let mut obs = Vec::with_capacity(n_obs * d);
        for _ in 0..n_obs {
            for dim in &dims {
                obs.push(match *dim {
                    Dim::Categorical { n_choices } => (unif() * n_choices as f64).floor(),
                    Dim::Numerical {
                        low,
                        high,
                        step,
                        log,
                    } => {
                        let mut v = low + (high - low) * unif();
                        if let Some(s) = step {
                            v = (low + ((v - low) / s).round() * s).min(high);
                        }
                        if log {
                            v = v.max(low);
                        }
                        v
                    }
                });
            }
        }
        let weights: Vec<f64> = (0..n_obs).map(|i| 0.1 + i as f64).collect();
        let params = ParzenParams {
            prior_weight: [0.0, 0.5, 1.0, 3.0][case % 4],
            consider_magic_clip: case % 3 != 0,
            consider_endpoints: case % 5 == 0,
        };
        let est = match ParzenEstimator::new(&dims, &obs, n_obs, &weights, &params, &StableArgSort)
        {
            Ok(e) => e,
            Err(e) => panic!("case {case}: {e} for {dims:?}"),
        };
        let mut rng = Mt19937::new(case as u32);
        let s = est.sample(&mut rng, 24);
        assert_eq!(s.len(), 24 * d);
        for (j, v) in s.iter().enumerate() {
            if let Dim::Numerical {
                low,
                high,
                step: Some(_),
                ..
            } = dims[j % d]
            {
                assert!(v.is_nan() || (low <= *v && *v <= high), "case {case}: {v}");
            }
        }
        let fast = est.log_pdf(&s, 24);
        let exact = est.log_pdf_exact(&s, 24);
        if let (Ok(f), Ok(e)) = (&fast, &exact) {
            for (a, b) in f.iter().zip(e) {
                let ok = a == b
                    || (a.is_nan() && b.is_nan())
                    || (a - b).abs() <= 1e-12 * b.abs().max(1.0);
                assert!(ok, "case {case}: fast {a} vs exact {b} ({dims:?})");
            }
        }
        let half = n_obs / 2;
        let step = sample_step_detailed(
            &dims,
            &obs[..half * d],
            half,
            &weights[..half],
            &obs[half * d..],
            n_obs - half,
            &weights[half..],
            &params,
            1 + case % 30,
            &mut rng,
            &StableArgSort,
            Scoring::Fast,
        );
        match step {
            Ok(r) => {
                assert_eq!(r.candidates.len(), (1 + case % 30) * d);
                assert!(r.best < 1 + case % 30);
            }
            Err(e) => panic!("case {case}: {e}"),
        }
    }
}

#[test]
fn estimators_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ParzenEstimator>();
    assert_send_sync::<ferrotune_core::mixture::Mixture>();
    let dims = [float(0.0, 1.0)];
    let est = build(&dims, &[0.1, 0.7, 0.4], 3, &[1.0; 3]).unwrap_or_else(|e| panic!("{e}"));
    let x = [0.2, 0.5, 0.9];
    let here = est.log_pdf(&x, 3).ok();
    let there = std::thread::scope(|s| s.spawn(|| est.log_pdf(&x, 3).ok()).join().ok().flatten());
    assert_eq!(here, there);
}
