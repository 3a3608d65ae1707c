//! The ask/tell Hyperband scheduler: whole synchronous brackets, ASHA promotions, bad input.

use std::collections::HashMap;

use ferrotune_core::hyperband::{Job, Mode, Scheduler};
use ferrotune_core::CoreError;

fn scheduler(min: f64, max: f64, eta: u64, mode: Mode) -> Scheduler {
    match Scheduler::new(min, max, eta, mode) {
        Ok(s) => s,
        Err(e) => panic!("scheduler: {e}"),
    }
}

fn ask(hb: &mut Scheduler) -> Job {
    match hb.ask() {
        Ok(job) => job,
        Err(e) => panic!("ask: {e}"),
    }
}

/// A fixed loss per configuration (distinct, not monotone in the id).
fn loss_of(config: u64) -> f64 {
    ((config * 37) % 101) as f64
}

#[test]
fn sequential_sync_walk_runs_whole_brackets() {
    let mut hb = scheduler(1.0, 27.0, 3, Mode::Sync);
    let plan = hb.plan().to_vec();
    let mut seen_configs: Vec<u64> = Vec::new();
    for bracket in &plan {
        let mut previous: Option<Vec<u64>> = None;
        for (i, rung) in bracket.rungs.iter().enumerate() {
            let mut jobs: Vec<Job> = Vec::new();
            for _ in 0..rung.n_configs {
                let job = ask(&mut hb);
                assert_eq!(job.bracket, bracket.s);
                assert_eq!(job.rung as usize, i);
                assert_eq!(job.budget, rung.budget);
                assert_eq!(job.new_config, i == 0);
                jobs.push(job);
            }
            let configs: Vec<u64> = jobs.iter().map(|j| j.config).collect();
            match &previous {
                None => {
                    // Rung 0: fresh configurations, numbered in order.
                    let start = seen_configs.len() as u64;
                    let expect: Vec<u64> = (start..start + rung.n_configs).collect();
                    assert_eq!(configs, expect);
                    seen_configs.extend(&configs);
                }
                Some(prev) => {
                    // The best n_i of the previous rung, best first.
                    let mut ranked = prev.clone();
                    ranked.sort_by(|a, b| loss_of(*a).total_cmp(&loss_of(*b)));
                    ranked.truncate(rung.n_configs as usize);
                    assert_eq!(configs, ranked);
                }
            }
            for job in &jobs {
                assert_eq!(hb.tell(job.id, loss_of(job.config)), Ok(()));
            }
            previous = Some(configs);
        }
    }
    // Then the cycle starts again with the largest bracket.
    let job = ask(&mut hb);
    assert_eq!((job.bracket, job.rung, job.budget), (3, 0, 1.0));
    assert_eq!(hb.n_pending(), 1);
    assert_eq!(hb.n_configs(), 27 + 12 + 6 + 4 + 1);
}

#[test]
fn sync_opens_the_next_bracket_instead_of_waiting() {
    let mut hb = scheduler(1.0, 9.0, 3, Mode::Sync);
    // Bracket s=2 has 9 configurations at rung 0; ask all without telling.
    let first: Vec<Job> = (0..9).map(|_| ask(&mut hb)).collect();
    assert!(first.iter().all(|j| j.bracket == 2 && j.rung == 0));
    // The tenth ask cannot wait for rung 0: it opens bracket s=1 (5 configurations at budget 3).
    let next = ask(&mut hb);
    assert_eq!((next.bracket, next.rung, next.budget), (1, 0, 3.0));
    // Telling bracket 2's rung 0 makes its rung 1 the oldest work to hand out.
    for (k, job) in first.iter().enumerate() {
        assert_eq!(hb.tell(job.id, 10.0 - k as f64), Ok(()));
    }
    let promoted = ask(&mut hb);
    assert_eq!(
        (promoted.bracket, promoted.rung, promoted.budget),
        (2, 1, 3.0)
    );
    // The lowest loss was the last configuration asked; ties are impossible here.
    assert_eq!(promoted.config, first[8].config);
}

#[test]
fn sync_ties_go_to_the_earlier_job() {
    let mut hb = scheduler(1.0, 9.0, 3, Mode::Sync);
    // Bracket s=2: 9 configurations at budget 1, then the best 3 at budget 3.
    let jobs: Vec<Job> = (0..9).map(|_| ask(&mut hb)).collect();
    for job in jobs.iter().rev() {
        assert_eq!(hb.tell(job.id, 1.0), Ok(()));
    }
    let next: Vec<u64> = (0..3).map(|_| ask(&mut hb).config).collect();
    let first: Vec<u64> = jobs[..3].iter().map(|j| j.config).collect();
    assert_eq!(next, first);
}

#[test]
fn async_promotes_as_soon_as_a_config_is_in_the_top_third() {
    let mut hb = scheduler(1.0, 9.0, 3, Mode::Async);
    let ask_tell = |hb: &mut Scheduler, loss: f64| -> Job {
        let job = ask(hb);
        assert_eq!(hb.tell(job.id, loss), Ok(()));
        job
    };
    // Three new configurations at budget 1 (bracket s=2).
    let a = ask_tell(&mut hb, 5.0);
    let b = ask_tell(&mut hb, 3.0);
    let c = ask_tell(&mut hb, 4.0);
    for j in [&a, &b, &c] {
        assert_eq!(
            (j.bracket, j.rung, j.budget, j.new_config),
            (2, 0, 1.0, true)
        );
    }
    // Now floor(3 / 3) = 1: the best (b) is promoted to budget 3.
    let p = ask_tell(&mut hb, 2.0);
    assert_eq!(
        (p.config, p.rung, p.budget, p.new_config),
        (b.config, 1, 3.0, false)
    );
    // Nothing else is promotable: a new configuration.
    let d = ask_tell(&mut hb, 1.0);
    assert!(d.new_config);
    // Rung 0 holds d(1), b(3), c(4), a(5): top floor(4/3) = 1 is d, not yet promoted.
    let q = ask(&mut hb);
    assert_eq!((q.config, q.rung, q.new_config), (d.config, 1, false));
    // Jobs may be pending while others are asked: a worker never waits.
    let r = ask(&mut hb);
    assert!(r.new_config);
    assert_eq!(hb.n_pending(), 2);
}

#[test]
fn async_new_configs_follow_bracket_proportions() {
    let mut hb = scheduler(1.0, 9.0, 3, Mode::Async);
    // Every job is asked and told in turn; count the brackets that new configurations land in
    // over one Hyperband iteration (promotions in between do not change the proportions).
    let mut new_per_bracket: HashMap<u32, u64> = HashMap::new();
    let mut loss = 0.0;
    while new_per_bracket.values().sum::<u64>() < 9 + 5 + 3 {
        let job = ask(&mut hb);
        if job.new_config {
            *new_per_bracket.entry(job.bracket).or_default() += 1;
        }
        loss += 1.0;
        assert_eq!(hb.tell(job.id, loss), Ok(()));
    }
    assert_eq!(new_per_bracket.get(&2), Some(&9));
    assert_eq!(new_per_bracket.get(&1), Some(&5));
    assert_eq!(new_per_bracket.get(&0), Some(&3));
}

#[test]
fn tell_rejects_bad_input() {
    for mode in [Mode::Sync, Mode::Async] {
        let mut hb = scheduler(1.0, 9.0, 3, mode);
        let job = ask(&mut hb);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                hb.tell(job.id, bad),
                Err(CoreError::InvalidArgument(_))
            ));
        }
        assert!(matches!(
            hb.tell(job.id + 100, 1.0),
            Err(CoreError::InvalidArgument(_))
        ));
        assert_eq!(hb.tell(job.id, 1.0), Ok(()));
        assert!(matches!(
            hb.tell(job.id, 1.0),
            Err(CoreError::InvalidArgument(_))
        ));
    }
    assert!(Scheduler::new(9.0, 9.0, 3, Mode::Sync).is_err());
    assert!(Scheduler::new(1.0, 9.0, 1, Mode::Async).is_err());
}
