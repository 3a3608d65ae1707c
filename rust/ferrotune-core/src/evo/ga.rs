//! Real-coded genetic algorithm: tournament selection, simulated binary crossover (SBX, Deb and
//! Agrawal 1995) and polynomial mutation (Deb) on numerical genes; uniform crossover and
//! mutation to another category on categorical genes. Elitism and the generational bookkeeping
//! (which trials form the parent pool) live in the sampler, which derives them from the study.

use super::{check_param, check_population, clip01, int_below, EvoDim, Strategy};
use crate::rng::Mt19937;
use crate::CoreError;

/// GA operator parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaParams {
    /// Number of contestants per tournament (drawn with replacement), `>= 1`.
    pub tournament_size: usize,
    /// Probability of recombining the two parents (otherwise the child copies the first).
    pub crossover_prob: f64,
    /// SBX distribution index `eta_c >= 0` (larger = children closer to the parents).
    pub eta_crossover: f64,
    /// Per-gene mutation probability.
    pub mutation_prob: f64,
    /// Polynomial-mutation distribution index `eta_m >= 0`.
    pub eta_mutation: f64,
}

impl GaParams {
    /// Validate the parameters.
    pub fn check(&self) -> Result<(), CoreError> {
        if self.tournament_size == 0 {
            return Err(CoreError::InvalidArgument(
                "tournament_size must be at least 1".into(),
            ));
        }
        check_param("crossover_prob", self.crossover_prob, 0.0, 1.0)?;
        check_param("mutation_prob", self.mutation_prob, 0.0, 1.0)?;
        check_param("eta_crossover", self.eta_crossover, 0.0, 1e9)?;
        check_param("eta_mutation", self.eta_mutation, 0.0, 1e9)
    }
}

/// The parent pool: `n` encoded points (row-major `n x d`) and their scores (lower is better).
pub struct GaInput<'a> {
    pub parents: &'a [f64],
    pub n: usize,
    pub scores: &'a [f64],
}

/// The genetic algorithm.
pub struct Ga(pub GaParams);

impl Ga {
    fn tournament(&self, input: &GaInput<'_>, rng: &mut Mt19937) -> usize {
        let mut best = int_below(rng, input.n);
        for _ in 1..self.0.tournament_size {
            let c = int_below(rng, input.n);
            if input.scores[c] < input.scores[best] {
                best = c;
            }
        }
        best
    }
}

/// SBX spread factor for the uniform draw `u`.
fn sbx_beta(u: f64, eta: f64) -> f64 {
    let e = 1.0 / (eta + 1.0);
    if u <= 0.5 {
        (2.0 * u).powf(e)
    } else {
        (1.0 / (2.0 * (1.0 - u))).powf(e)
    }
}

/// Bounded polynomial mutation of `y` in `[0, 1]` with the uniform draw `u`.
fn polynomial_mutation(y: f64, u: f64, eta: f64) -> f64 {
    let mut_pow = 1.0 / (eta + 1.0);
    let delta_q = if u < 0.5 {
        let xy = 1.0 - y;
        let val = 2.0 * u + (1.0 - 2.0 * u) * xy.powf(eta + 1.0);
        val.powf(mut_pow) - 1.0
    } else {
        let xy = y;
        let val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy.powf(eta + 1.0);
        1.0 - val.powf(mut_pow)
    };
    clip01(y + delta_q)
}

impl Strategy for Ga {
    type Input<'a> = GaInput<'a>;

    fn propose(
        &self,
        dims: &[EvoDim],
        input: &GaInput<'_>,
        rng: &mut Mt19937,
    ) -> Result<Vec<f64>, CoreError> {
        self.0.check()?;
        check_population("parents", dims, input.parents, input.n)?;
        if input.n == 0 {
            return Err(CoreError::InvalidArgument(
                "the parent pool is empty".into(),
            ));
        }
        if input.scores.len() != input.n || input.scores.iter().any(|s| s.is_nan()) {
            return Err(CoreError::InvalidArgument(
                "scores must hold one non-NaN value per parent".into(),
            ));
        }
        let d = dims.len();
        let a = self.tournament(input, rng);
        let b = self.tournament(input, rng);
        let pa = &input.parents[a * d..(a + 1) * d];
        let pb = &input.parents[b * d..(b + 1) * d];
        let mut child = pa.to_vec();
        if rng.random_sample() < self.0.crossover_prob {
            for (j, dim) in dims.iter().enumerate() {
                match dim {
                    EvoDim::Numeric => {
                        let u = rng.random_sample();
                        let side = rng.random_sample();
                        let beta = sbx_beta(u, self.0.eta_crossover);
                        let (x1, x2) = (pa[j], pb[j]);
                        let c = if side < 0.5 {
                            0.5 * ((1.0 + beta) * x1 + (1.0 - beta) * x2)
                        } else {
                            0.5 * ((1.0 - beta) * x1 + (1.0 + beta) * x2)
                        };
                        child[j] = clip01(c);
                    }
                    EvoDim::Categorical(_) => {
                        if rng.random_sample() >= 0.5 {
                            child[j] = pb[j];
                        }
                    }
                }
            }
        }
        for (j, dim) in dims.iter().enumerate() {
            if rng.random_sample() >= self.0.mutation_prob {
                continue;
            }
            match *dim {
                EvoDim::Numeric => {
                    let u = rng.random_sample();
                    child[j] = polynomial_mutation(child[j], u, self.0.eta_mutation);
                }
                EvoDim::Categorical(k) if k >= 2 => {
                    let current = child[j] as usize;
                    let mut other = int_below(rng, k - 1);
                    if other >= current {
                        other += 1;
                    }
                    child[j] = other as f64;
                }
                EvoDim::Categorical(_) => {}
            }
        }
        Ok(child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> GaParams {
        GaParams {
            tournament_size: 2,
            crossover_prob: 0.9,
            eta_crossover: 15.0,
            mutation_prob: 0.5,
            eta_mutation: 20.0,
        }
    }

    #[test]
    fn children_stay_in_the_space() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(3), EvoDim::Numeric];
        let parents = [0.0, 0.0, 1.0, 1.0, 2.0, 0.0, 0.5, 1.0, 0.5];
        let scores = [1.0, 2.0, 3.0];
        let input = GaInput {
            parents: &parents,
            n: 3,
            scores: &scores,
        };
        let mut rng = Mt19937::new(0);
        for _ in 0..500 {
            let c = Ga(params()).propose(&dims, &input, &mut rng).unwrap();
            assert!(check_population("child", &dims, &c, 1).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn sbx_beta_is_one_at_the_median() {
        assert_eq!(sbx_beta(0.5, 10.0), 1.0);
        assert!(sbx_beta(0.1, 10.0) < 1.0 && sbx_beta(0.9, 10.0) > 1.0);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let dims = [EvoDim::Numeric];
        let input = GaInput {
            parents: &[0.5],
            n: 1,
            scores: &[0.0],
        };
        let mut rng = Mt19937::new(0);
        let mut p = params();
        p.tournament_size = 0;
        assert!(Ga(p).propose(&dims, &input, &mut rng).is_err());
        let mut p = params();
        p.crossover_prob = 1.5;
        assert!(Ga(p).propose(&dims, &input, &mut rng).is_err());
        let empty = GaInput {
            parents: &[],
            n: 0,
            scores: &[],
        };
        assert!(Ga(params()).propose(&dims, &empty, &mut rng).is_err());
    }
}
