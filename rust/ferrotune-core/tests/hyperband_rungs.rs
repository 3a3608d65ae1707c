//! The rung promotion rule and the incremental rung table, against a literal transcription of
//! the rule (sort all competing values, compare with the k-th order statistic).

use std::collections::HashMap;

use ferrotune_core::hyperband::{is_promotable, Direction, PromotionRule, RungTable, Verdict};

/// The rule as stated: sort the competitors plus the value, take index max(n / eta - 1, 0) from
/// the good end, and compare.
fn literal_promotable(value: f64, others: &[f64], eta: u64, direction: Direction) -> bool {
    let mut all: Vec<f64> = others.iter().copied().filter(|x| !x.is_nan()).collect();
    all.push(value);
    all.sort_by(f64::total_cmp);
    let k = (all.len() / eta as usize).saturating_sub(1);
    match direction {
        Direction::Minimize => value <= all[k],
        Direction::Maximize => value >= all[all.len() - 1 - k],
    }
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn value(&mut self) -> f64 {
        match self.below(20) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => -0.0,
            // Few distinct values, so ties are frequent.
            _ => (self.below(7) as f64) * 0.5 - 1.0,
        }
    }
}

#[test]
fn promotion_rule_small_cases() {
    use Direction::*;
    // Fewer than eta competitors: only a value at least as good as the best goes on.
    assert_eq!(is_promotable(1.0, &[2.0], 3, Minimize), Ok(true));
    assert_eq!(is_promotable(1.0, &[1.0], 3, Minimize), Ok(true));
    assert_eq!(is_promotable(3.0, &[2.0], 3, Minimize), Ok(false));
    assert_eq!(is_promotable(3.0, &[2.0], 3, Maximize), Ok(true));
    // Alone in the rung: promoted.
    assert_eq!(is_promotable(5.0, &[], 3, Minimize), Ok(true));
    // 6 values, eta 3: k = 1, the two best go on.
    let others = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(is_promotable(1.5, &others, 3, Minimize), Ok(true));
    assert_eq!(is_promotable(2.5, &others, 3, Minimize), Ok(false));
    assert_eq!(is_promotable(4.5, &others, 3, Maximize), Ok(true));
    assert_eq!(is_promotable(3.5, &others, 3, Maximize), Ok(false));
    // NaN is never promotable; NaN competitors are not counted.
    assert_eq!(is_promotable(f64::NAN, &[], 3, Minimize), Ok(false));
    assert_eq!(is_promotable(2.0, &[f64::NAN, 1.0], 3, Minimize), Ok(false));
    assert!(is_promotable(2.0, &[1.0], 1, Minimize).is_err());
}

#[test]
fn promotion_rule_matches_literal_sort() {
    let mut rng = Lcg(7);
    for _ in 0..20_000 {
        let n = rng.below(12) as usize;
        let others: Vec<f64> = (0..n).map(|_| rng.value()).collect();
        let value = rng.value();
        let eta = 2 + rng.below(4);
        for direction in [Direction::Minimize, Direction::Maximize] {
            assert_eq!(
                is_promotable(value, &others, eta, direction),
                Ok(literal_promotable(value, &others, eta, direction)),
                "{value} vs {others:?}, eta {eta}"
            );
        }
    }
}

fn rule(eta: u64, rate: u64, bootstrap: u64, direction: Direction) -> PromotionRule {
    PromotionRule {
        min_resource: 1,
        reduction_factor: eta,
        min_early_stopping_rate: rate,
        bootstrap_count: bootstrap,
        direction,
    }
}

/// The pruning loop written out over a plain list of `(trial, group, rung, value)` records.
fn literal_decide(
    records: &[(i64, u64, u32, f64)],
    trial: i64,
    group: u64,
    mut rung: u32,
    step: u64,
    value: f64,
    r: &PromotionRule,
) -> Verdict {
    let mut completed = 0;
    loop {
        let at = u128::from(r.min_resource)
            * u128::from(r.reduction_factor).pow(r.min_early_stopping_rate as u32 + rung);
        if u128::from(step) < at {
            return Verdict {
                rungs_completed: completed,
                prune: false,
            };
        }
        if value.is_nan() {
            return Verdict {
                rungs_completed: completed,
                prune: true,
            };
        }
        completed += 1;
        let others: Vec<f64> = records
            .iter()
            .filter(|&&(t, g, k, v)| t != trial && g == group && k == rung && !v.is_nan())
            .map(|&(_, _, _, v)| v)
            .collect();
        // Optuna: `len(competing) <= bootstrap_count`, the trial's own value included.
        let n_competing = others.len() as u64 + 1;
        if n_competing <= r.bootstrap_count
            || !literal_promotable(value, &others, r.reduction_factor, r.direction)
        {
            return Verdict {
                rungs_completed: completed,
                prune: true,
            };
        }
        rung += 1;
    }
}

#[test]
fn table_decisions_match_the_literal_loop() {
    let mut rng = Lcg(42);
    for round in 0..40 {
        let eta = 2 + rng.below(3);
        let direction = if round % 2 == 0 {
            Direction::Minimize
        } else {
            Direction::Maximize
        };
        let r = rule(eta, rng.below(2), rng.below(3), direction);
        let mut table = RungTable::new();
        let mut records: Vec<(i64, u64, u32, f64)> = Vec::new();
        let mut current: HashMap<i64, u32> = HashMap::new();
        for _ in 0..400 {
            let trial = rng.below(60) as i64;
            let group = (trial % 3) as u64;
            let rung = *current.get(&trial).unwrap_or(&0);
            let step = rng.below(40);
            let value = if rng.below(30) == 0 {
                f64::NAN
            } else {
                rng.value()
            };
            let got = table.decide(trial, group, rung, step, value, &r);
            let want = literal_decide(&records, trial, group, rung, step, value, &r);
            assert_eq!(got, Ok(want));
            for k in rung..rung + want.rungs_completed {
                table.set(trial, group, k, value);
                records.push((trial, group, k, value));
            }
            current.insert(trial, rung + want.rungs_completed);
            for g in 0..3u64 {
                for k in 0..6u32 {
                    let n = records
                        .iter()
                        .filter(|&&(_, rg, rk, _)| rg == g && rk == k)
                        .count();
                    assert_eq!(table.len(g, k), n);
                }
            }
        }
    }
}

#[test]
fn set_replaces_moves_and_removes() {
    let mut table = RungTable::new();
    table.set(1, 0, 0, 3.0);
    table.set(2, 0, 0, 1.0);
    table.set(3, 0, 0, 2.0);
    assert_eq!(table.len(0, 0), 3);
    assert_eq!(table.rank(9, 0, 0, 2.5, Direction::Minimize), 2);
    // A trial's own value is not a competitor.
    assert_eq!(table.rank(2, 0, 0, 2.5, Direction::Minimize), 1);
    // Replacing a value.
    table.set(1, 0, 0, 0.5);
    assert_eq!(table.len(0, 0), 3);
    assert_eq!(table.get(1, 0), Some(0.5));
    assert_eq!(table.rank(9, 0, 0, 0.75, Direction::Minimize), 1);
    // Moving a trial to another group moves all its values.
    table.set(1, 0, 1, 7.0);
    table.set(1, 4, 0, 0.5);
    assert_eq!(table.group(1), Some(4));
    assert_eq!((table.len(0, 0), table.len(0, 1)), (2, 0));
    assert_eq!((table.len(4, 0), table.len(4, 1)), (1, 1));
    // NaN removes; an empty trial disappears.
    table.set(3, 0, 0, f64::NAN);
    assert_eq!(table.len(0, 0), 1);
    assert_eq!(table.get(3, 0), None);
    assert_eq!(table.n_trials(), 2);
    table.remove_trial(1);
    assert_eq!(
        (table.len(4, 0), table.len(4, 1), table.n_trials()),
        (0, 0, 1)
    );
    // Signed zeros compare equal: removing -0.0 after storing 0.0 leaves nothing behind.
    table.set(5, 0, 0, 0.0);
    table.set(5, 0, 0, -0.0);
    assert_eq!(table.len(0, 0), 2);
    table.remove_trial(5);
    assert_eq!(table.len(0, 0), 1);
}

#[test]
fn decide_edge_cases() {
    let table = RungTable::new();
    let r = rule(3, 0, 0, Direction::Minimize);
    // Below the first rung.
    let v = table.decide(1, 0, 1, 2, 1.0, &r);
    assert_eq!(
        v,
        Ok(Verdict {
            rungs_completed: 0,
            prune: false
        })
    );
    // Alone, a trial catches up every rung its step has reached: 1, 3, 9, 27 <= 30 < 81.
    let v = table.decide(1, 0, 0, 30, 1.0, &r);
    assert_eq!(
        v,
        Ok(Verdict {
            rungs_completed: 4,
            prune: false
        })
    );
    // NaN prunes once a rung is reached, without completing it.
    let v = table.decide(1, 0, 0, 30, f64::NAN, &r);
    assert_eq!(
        v,
        Ok(Verdict {
            rungs_completed: 0,
            prune: true
        })
    );
    // Bootstrap: with bootstrap_count 2 a lone value is pruned after completing the rung.
    let v = table.decide(1, 0, 0, 1, 1.0, &rule(3, 0, 2, Direction::Minimize));
    assert_eq!(
        v,
        Ok(Verdict {
            rungs_completed: 1,
            prune: true
        })
    );
    // Huge rates: the promotion step overflows and nothing happens.
    let v = table.decide(
        1,
        0,
        0,
        u64::MAX,
        1.0,
        &rule(3, 500, 0, Direction::Minimize),
    );
    assert_eq!(
        v,
        Ok(Verdict {
            rungs_completed: 0,
            prune: false
        })
    );
    // Invalid rules are errors.
    assert!(table
        .decide(1, 0, 0, 5, 1.0, &rule(1, 0, 0, Direction::Minimize))
        .is_err());
    let mut zero = rule(3, 0, 0, Direction::Minimize);
    zero.min_resource = 0;
    assert!(table.decide(1, 0, 0, 5, 1.0, &zero).is_err());
}
