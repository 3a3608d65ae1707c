//! ACO_R (Socha and Dorigo 2008, "Ant colony optimization for continuous domains").
//!
//! The solution archive holds the `k` best solutions, ranked best first. Solution `l` (rank
//! `l = 0..k`) has weight `exp(-l^2 / (2 q^2 k^2))` (the paper's Gaussian of the rank; its
//! constant factor cancels). An ant picks one guiding solution with probability proportional to
//! the weights, then samples each numerical coordinate from a Gaussian centred on the guide's
//! value with standard deviation `xi * (mean absolute distance from the guide to the other archive
//! members)`, reflected back into `[0, 1]` (then clipped).
//!
//! Categorical coordinates (a documented extension, in the spirit of ACO_MV): the choice `c` is
//! drawn with probability proportional to the total weight of the archive members holding `c`,
//! plus `epsilon * W / n` for every choice (`W` = the total weight).

use super::{check_param, check_population, clip01, gauss, pick_weighted, EvoDim, Strategy};
use crate::rng::Mt19937;
use crate::CoreError;

/// ACO_R parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcoParams {
    /// Selection pressure `q > 0` (small = the best solutions guide almost every ant).
    pub q: f64,
    /// Pheromone evaporation-like width factor `xi > 0`.
    pub xi: f64,
    /// Exploration mass for categorical choices.
    pub categorical_epsilon: f64,
}

impl AcoParams {
    pub fn check(&self) -> Result<(), CoreError> {
        check_param("q", self.q, 1e-12, 1e6)?;
        check_param("xi", self.xi, 1e-12, 1e6)?;
        check_param("categorical_epsilon", self.categorical_epsilon, 0.0, 1.0)
    }
}

/// The archive: `k` encoded solutions (row-major `k x d`), best first.
pub struct AcoInput<'a> {
    pub archive: &'a [f64],
    pub k: usize,
}

/// The ant.
pub struct Aco(pub AcoParams);

impl Aco {
    /// Unnormalised rank weights of an archive of size `k`.
    pub fn rank_weights(&self, k: usize) -> Vec<f64> {
        let qk = self.0.q * k as f64;
        (0..k)
            .map(|l| {
                let lf = l as f64;
                (-(lf * lf) / (2.0 * qk * qk)).exp()
            })
            .collect()
    }
}

/// Reflect into `[0, 1]` once, then clip.
fn reflect(x: f64) -> f64 {
    let y = if x < 0.0 {
        -x
    } else if x > 1.0 {
        2.0 - x
    } else {
        x
    };
    clip01(y)
}

impl Strategy for Aco {
    type Input<'a> = AcoInput<'a>;

    fn propose(
        &self,
        dims: &[EvoDim],
        input: &AcoInput<'_>,
        rng: &mut Mt19937,
    ) -> Result<Vec<f64>, CoreError> {
        self.0.check()?;
        check_population("archive", dims, input.archive, input.k)?;
        if input.k < 2 {
            return Err(CoreError::InvalidArgument(
                "the archive needs at least 2 solutions".into(),
            ));
        }
        let d = dims.len();
        let k = input.k;
        let weights = self.rank_weights(k);
        let total: f64 = weights.iter().fold(0.0, |acc, &w| acc + w);
        let guide = pick_weighted(rng, &weights);
        let row = |l: usize| &input.archive[l * d..(l + 1) * d];
        let g = row(guide);
        let mut out = vec![0.0; d];
        let mut cat_w = Vec::new();
        for (j, dim) in dims.iter().enumerate() {
            match *dim {
                EvoDim::Numeric => {
                    let mut spread = 0.0;
                    for l in 0..k {
                        spread += (row(l)[j] - g[j]).abs();
                    }
                    let sigma = self.0.xi * spread / (k - 1) as f64;
                    out[j] = reflect(g[j] + sigma * gauss(rng));
                }
                EvoDim::Categorical(n) => {
                    cat_w.clear();
                    let base = self.0.categorical_epsilon * total / n as f64;
                    cat_w.resize(n, base);
                    for (l, &w) in weights.iter().enumerate() {
                        let c = row(l)[j] as usize;
                        cat_w[c] += w;
                    }
                    out[j] = pick_weighted(rng, &cat_w) as f64;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AcoParams {
        AcoParams {
            q: 0.1,
            xi: 0.85,
            categorical_epsilon: 0.1,
        }
    }

    #[test]
    fn weights_decrease_with_rank() {
        let w = Aco(params()).rank_weights(5);
        assert_eq!(w[0], 1.0);
        assert!(w.windows(2).all(|p| p[1] < p[0]));
    }

    #[test]
    fn samples_stay_in_the_space_and_near_a_converged_archive() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(3)];
        let archive = [0.3, 1.0, 0.3, 1.0, 0.3, 1.0];
        let input = AcoInput {
            archive: &archive,
            k: 3,
        };
        let mut rng = Mt19937::new(4);
        let mut p = params();
        p.categorical_epsilon = 0.0;
        for _ in 0..100 {
            let x = Aco(p).propose(&dims, &input, &mut rng).unwrap();
            assert_eq!(x, vec![0.3, 1.0]);
        }
        let archive = [0.0, 0.0, 1.0, 2.0];
        let input = AcoInput {
            archive: &archive,
            k: 2,
        };
        for _ in 0..300 {
            let x = Aco(params()).propose(&dims, &input, &mut rng).unwrap();
            assert!(check_population("x", &dims, &x, 1).is_ok());
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let dims = [EvoDim::Numeric];
        let mut rng = Mt19937::new(0);
        let one = AcoInput {
            archive: &[0.5],
            k: 1,
        };
        assert!(Aco(params()).propose(&dims, &one, &mut rng).is_err());
        let two = AcoInput {
            archive: &[0.5, 0.2],
            k: 2,
        };
        let mut p = params();
        p.q = 0.0;
        assert!(Aco(p).propose(&dims, &two, &mut rng).is_err());
    }
}
