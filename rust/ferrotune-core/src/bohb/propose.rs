//! One BOHB proposal, in the encoded space (HpBandSter's `get_config`).
//!
//! Random numbers, all `random_sample()` draws from one MT19937 stream, in this order:
//! 1. No model (no fittable budget): a random configuration (below). Nothing else is drawn.
//! 2. Otherwise one draw `u`; `u < random_fraction` gives a random configuration.
//! 3. Otherwise, for each of the `num_samples` candidates in turn: one draw picks the good-set
//!    row `floor(u * n_good)`; then per dimension in order: a continuous dimension takes one draw
//!    `q` (used below); a categorical one takes one draw `v` and keeps the row's choice when
//!    `v < 1 - l` (`l` its good-KDE bandwidth), otherwise one more draw picks a uniformly random
//!    choice `floor(w * c)`.
//!
//!    The continuous value is the quantile `q` of N(m, (bandwidth_factor * h)^2) truncated to
//!    [0, 1] (`m` the row's value, `h` the good KDE's bandwidth), computed with Optuna's
//!    truncated-normal `ppf` once per dimension over the batch of candidates.
//! 4. Each candidate gets the score `max(1e-32, g(x)) / max(l(x), 1e-32)`; the first candidate
//!    whose score is not finite while `l(x)` is finite is taken at once, otherwise the lowest
//!    score (the first on ties). With no candidate left, a random configuration.
//!
//! A random configuration takes one draw per dimension: continuous `u` as is, categorical
//! `floor(u * c)`.

use super::model::{fit_model, Observations};
use super::options::BohbOptions;
use crate::rng::Mt19937;
use crate::truncnorm;
use crate::CoreError;

/// Where a proposal comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// No budget has enough observations for a model yet: drawn at random.
    NoModel = 0,
    /// Drawn at random because of `random_fraction`.
    Random = 1,
    /// The best candidate under the model.
    Model = 2,
    /// The model gave no usable candidate: drawn at random.
    Fallback = 3,
}

/// An encoded configuration, where it came from, and the model budget (if a model exists).
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub vector: Vec<f64>,
    pub source: Source,
    pub budget: Option<f64>,
}

fn index(u: f64, n: usize) -> usize {
    ((u * n as f64) as usize).min(n.saturating_sub(1))
}

/// A uniformly random encoded configuration.
pub fn random_vector(kinds: &[usize], rng: &mut Mt19937) -> Vec<f64> {
    kinds
        .iter()
        .map(|&c| {
            let u = rng.random_sample();
            if c == 0 {
                u
            } else {
                index(u, c) as f64
            }
        })
        .collect()
}

/// The next configuration to evaluate, given every observation so far.
pub fn propose(
    kinds: &[usize],
    obs: &Observations<'_>,
    opts: &BohbOptions,
    rng: &mut Mt19937,
) -> Result<Proposal, CoreError> {
    let Some(model) = fit_model(kinds, obs, opts)? else {
        return Ok(Proposal {
            vector: random_vector(kinds, rng),
            source: Source::NoModel,
            budget: None,
        });
    };
    let budget = Some(model.budget);
    if rng.random_sample() < opts.random_fraction {
        return Ok(Proposal {
            vector: random_vector(kinds, rng),
            source: Source::Random,
            budget,
        });
    }
    let d = kinds.len();
    let s = opts.num_samples;
    let good = &model.good;
    let mut cand = vec![0.0; s * d];
    // Per continuous dimension: (candidate, mean, quantile) gathered for one ppf batch.
    let mut means = vec![0.0; s * d];
    let mut quantiles = vec![0.0; s * d];
    for i in 0..s {
        let row = index(rng.random_sample(), good.n);
        for (j, &c) in kinds.iter().enumerate() {
            let m = good.data.get(row * d + j).copied().unwrap_or(0.0);
            let h = good.bw.get(j).copied().unwrap_or(1.0);
            let at = i * d + j;
            if c == 0 {
                means[at] = m;
                quantiles[at] = rng.random_sample();
            } else {
                let v = rng.random_sample();
                cand[at] = if v < 1.0 - h {
                    m
                } else {
                    index(rng.random_sample(), c) as f64
                };
            }
        }
    }
    for (j, &c) in kinds.iter().enumerate() {
        if c != 0 {
            continue;
        }
        let bw = opts.bandwidth_factor * good.bw.get(j).copied().unwrap_or(1.0);
        let m: Vec<f64> = (0..s).map(|i| means[i * d + j]).collect();
        let q: Vec<f64> = (0..s).map(|i| quantiles[i * d + j]).collect();
        let a: Vec<f64> = m.iter().map(|&m| (0.0 - m) / bw).collect();
        let b: Vec<f64> = m.iter().map(|&m| (1.0 - m) / bw).collect();
        let z = truncnorm::try_ppf(&q, &a, &b)?;
        for i in 0..s {
            let x = m[i] + bw * z[i];
            cand[i * d + j] = x.clamp(0.0, 1.0);
        }
    }
    let mut scratch = Vec::with_capacity(good.n.max(model.bad.n));
    let mut best = f64::INFINITY;
    let mut pick: Option<usize> = None;
    for i in 0..s {
        let x = cand.get(i * d..(i + 1) * d).unwrap_or(&[]);
        let l = good.pdf(x, &mut scratch);
        let g = model.bad.pdf(x, &mut scratch);
        let score = g.max(1e-32) / l.max(1e-32);
        if !score.is_finite() && l.is_finite() {
            pick = Some(i);
            break;
        }
        if score < best {
            best = score;
            pick = Some(i);
        }
    }
    Ok(match pick {
        Some(i) => Proposal {
            vector: cand.get(i * d..(i + 1) * d).unwrap_or(&[]).to_vec(),
            source: Source::Model,
            budget,
        },
        None => Proposal {
            vector: random_vector(kinds, rng),
            source: Source::Fallback,
            budget,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_concentrates_on_the_good_region() {
        // 1-d: losses grow with |x - 0.2|; proposals from the model must land near 0.2.
        let n = 40;
        let xs: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64).collect();
        let losses: Vec<f64> = xs.iter().map(|x| (x - 0.2f64).abs()).collect();
        let budgets = vec![1.0; n];
        let obs = Observations {
            budgets: &budgets,
            vectors: &xs,
            losses: &losses,
        };
        let opts = BohbOptions {
            random_fraction: 0.0,
            ..BohbOptions::default()
        };
        let mut rng = Mt19937::new(3);
        for _ in 0..20 {
            let p = propose(&[0], &obs, &opts, &mut rng);
            let p = p.as_ref().ok();
            assert_eq!(p.map(|p| p.source), Some(Source::Model));
            let x = p.map_or(f64::NAN, |p| p.vector[0]);
            assert!((x - 0.2).abs() < 0.2, "{x}");
        }
    }

    #[test]
    fn without_a_model_one_draw_per_dimension() {
        let obs = Observations {
            budgets: &[],
            vectors: &[],
            losses: &[],
        };
        let mut rng = Mt19937::new(0);
        let p = propose(&[0, 4], &obs, &BohbOptions::default(), &mut rng);
        let mut check = Mt19937::new(0);
        let u = [check.random_sample(), check.random_sample()];
        let p = p.ok();
        assert_eq!(p.as_ref().map(|p| p.source), Some(Source::NoModel));
        assert_eq!(p.map(|p| p.vector), Some(vec![u[0], (u[1] * 4.0).floor()]));
        assert_eq!(rng.pos(), check.pos());
    }
}
