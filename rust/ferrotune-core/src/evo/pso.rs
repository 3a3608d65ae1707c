//! Particle swarm optimisation: inertia `w`, cognitive weight `c1`, social weight `c2` and
//! velocity clamping on numerical coordinates; a particle that leaves `[0, 1]` is put back on
//! the boundary and loses that velocity component.
//!
//! Categorical coordinates have no velocity: the new choice is drawn from a probability model
//! with weight `w` on the particle's current choice, `c1 * r1` on its personal best's choice,
//! `c2 * r2` on the swarm's best choice (`r1`, `r2` uniform) and `epsilon / n` on every choice.

use super::{check_param, check_population, clip01, pick_weighted, EvoDim, Strategy};
use crate::rng::Mt19937;
use crate::CoreError;

/// PSO parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsoParams {
    pub inertia: f64,
    pub cognitive: f64,
    pub social: f64,
    /// Largest absolute velocity per numerical coordinate (the unit interval has width 1).
    pub max_velocity: f64,
    /// Exploration mass spread over all choices of a categorical coordinate.
    pub categorical_epsilon: f64,
}

impl PsoParams {
    pub fn check(&self) -> Result<(), CoreError> {
        check_param("inertia", self.inertia, 0.0, 10.0)?;
        check_param("cognitive", self.cognitive, 0.0, 10.0)?;
        check_param("social", self.social, 0.0, 10.0)?;
        check_param("max_velocity", self.max_velocity, 1e-12, 1.0)?;
        check_param("categorical_epsilon", self.categorical_epsilon, 0.0, 1.0)?;
        if self.inertia + self.cognitive + self.social + self.categorical_epsilon <= 0.0 {
            return Err(CoreError::InvalidArgument(
                "inertia, cognitive, social and categorical_epsilon are all zero".into(),
            ));
        }
        Ok(())
    }
}

/// One particle: its position, velocity, personal best and the swarm's best (each length `d`).
pub struct PsoInput<'a> {
    pub position: &'a [f64],
    pub velocity: &'a [f64],
    pub personal_best: &'a [f64],
    pub global_best: &'a [f64],
}

/// The swarm update. `propose` returns the new position followed by the new velocity
/// (length `2 d`; the velocity of categorical coordinates is 0).
pub struct Pso(pub PsoParams);

impl Pso {
    /// A fresh particle: a uniform position then, per numerical coordinate, a velocity uniform in
    /// `[-max_velocity, max_velocity]` (position followed by velocity, length `2 d`).
    pub fn init(&self, dims: &[EvoDim], rng: &mut Mt19937) -> Result<Vec<f64>, CoreError> {
        self.0.check()?;
        check_population("dims", dims, &vec![0.0; dims.len()], 1)?;
        let mut out = super::random_point(dims, rng);
        for dim in dims {
            let v = match dim {
                EvoDim::Numeric => (2.0 * rng.random_sample() - 1.0) * self.0.max_velocity,
                EvoDim::Categorical(_) => 0.0,
            };
            out.push(v);
        }
        Ok(out)
    }
}

impl Strategy for Pso {
    type Input<'a> = PsoInput<'a>;

    fn propose(
        &self,
        dims: &[EvoDim],
        input: &PsoInput<'_>,
        rng: &mut Mt19937,
    ) -> Result<Vec<f64>, CoreError> {
        self.0.check()?;
        check_population("position", dims, input.position, 1)?;
        check_population("personal_best", dims, input.personal_best, 1)?;
        check_population("global_best", dims, input.global_best, 1)?;
        let d = dims.len();
        if input.velocity.len() != d || input.velocity.iter().any(|v| !v.is_finite()) {
            return Err(CoreError::InvalidArgument(format!(
                "velocity must hold {d} finite values"
            )));
        }
        let p = &self.0;
        let vmax = p.max_velocity;
        let mut position = vec![0.0; d];
        let mut velocity = vec![0.0; d];
        let mut weights = Vec::new();
        for (j, dim) in dims.iter().enumerate() {
            let x = input.position[j];
            let pb = input.personal_best[j];
            let gb = input.global_best[j];
            let r1 = rng.random_sample();
            let r2 = rng.random_sample();
            match *dim {
                EvoDim::Numeric => {
                    let v = p.inertia * input.velocity[j]
                        + p.cognitive * r1 * (pb - x)
                        + p.social * r2 * (gb - x);
                    let mut v = v.clamp(-vmax, vmax);
                    let moved = x + v;
                    if !(0.0..=1.0).contains(&moved) {
                        v = 0.0;
                    }
                    position[j] = clip01(moved);
                    velocity[j] = v;
                }
                EvoDim::Categorical(k) => {
                    weights.clear();
                    for c in 0..k {
                        let cf = c as f64;
                        let mut w = p.categorical_epsilon / k as f64;
                        if cf == x {
                            w += p.inertia;
                        }
                        if cf == pb {
                            w += p.cognitive * r1;
                        }
                        if cf == gb {
                            w += p.social * r2;
                        }
                        weights.push(w);
                    }
                    position[j] = pick_weighted(rng, &weights) as f64;
                }
            }
        }
        position.extend_from_slice(&velocity);
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PsoParams {
        PsoParams {
            inertia: 0.7,
            cognitive: 1.5,
            social: 1.5,
            max_velocity: 0.2,
            categorical_epsilon: 0.1,
        }
    }

    #[test]
    fn velocity_is_clamped_and_position_bounded() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(4)];
        let input = PsoInput {
            position: &[0.0, 0.0],
            velocity: &[5.0, 0.0],
            personal_best: &[1.0, 3.0],
            global_best: &[1.0, 3.0],
        };
        let mut rng = Mt19937::new(2);
        for _ in 0..200 {
            let out = Pso(params()).propose(&dims, &input, &mut rng).unwrap();
            assert!(out[2].abs() <= 0.2 + 1e-15);
            assert!((0.0..=1.0).contains(&out[0]));
            assert!(out[1] == 0.0 || out[1] == 3.0 || out[1] < 4.0);
        }
    }

    #[test]
    fn init_and_bad_params() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(2)];
        let mut rng = Mt19937::new(0);
        let out = Pso(params()).init(&dims, &mut rng).unwrap();
        assert_eq!(out.len(), 4);
        assert!(out[2].abs() <= 0.2 && out[3] == 0.0);
        let mut p = params();
        p.max_velocity = 0.0;
        assert!(Pso(p).init(&dims, &mut rng).is_err());
        let input = PsoInput {
            position: &[0.5, 0.0],
            velocity: &[f64::NAN, 0.0],
            personal_best: &[0.5, 0.0],
            global_best: &[0.5, 0.0],
        };
        assert!(Pso(params()).propose(&dims, &input, &mut rng).is_err());
    }
}
