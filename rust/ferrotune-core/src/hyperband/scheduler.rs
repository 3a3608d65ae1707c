//! An ask/tell Hyperband scheduler over opaque configuration ids (the caller samples the
//! parameters of each new configuration).
//!
//! - [`Mode::Sync`] runs Li et al.'s brackets ([`super::plan`]) in the order
//!   `s = s_max, ..., 0, s_max, ...`. A bracket instance dispatches the `n_i` jobs of its current
//!   rung; once all of them are told, the best `n_{i+1}` (by loss, ties to the earlier job) go on
//!   to the next rung. `ask` serves the oldest open bracket that has a job left to dispatch and
//!   opens the next bracket when all open ones are waiting for results, so one sequential worker
//!   walks through whole brackets and parallel workers never wait.
//! - [`Mode::Async`] is asynchronous Hyperband with ASHA promotions (Li et al., MLSys 2020): every
//!   bracket `s` is a persistent pool whose rung `k` runs at budget `max_budget / eta^(s - k)`.
//!   `ask` first looks for a promotion, from the most expensive rung down: a configuration among
//!   the best `floor(|rung| / eta)` told results of its rung (by loss, ties to the earlier job)
//!   that has not been promoted yet. Otherwise it starts a new configuration, assigned to brackets
//!   in the proportions of one synchronous Hyperband iteration (`n` of bracket `s_max`, then `n`
//!   of `s_max - 1`, ...).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::plan::{hyperband_plan, BracketPlan, RungPlan};
use crate::CoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Sync,
    Async,
}

/// One unit of work: evaluate configuration `config` with `budget`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Job {
    pub id: u64,
    pub config: u64,
    /// `s` of the bracket (the number of halvings it performs).
    pub bracket: u32,
    /// Rung within the bracket (0 = first, cheapest).
    pub rung: u32,
    pub budget: f64,
    /// True when `config` is new (its parameters must be sampled).
    pub new_config: bool,
}

#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Position `position` of the current rung of synchronous bracket instance `instance`.
    Sync { instance: u64, position: usize },
    /// Rung `rung` of asynchronous bracket `bracket` (index into the plan).
    Async { bracket: usize, rung: usize },
}

#[derive(Clone, Copy, Debug)]
struct JobRecord {
    config: u64,
    slot: Slot,
    told: bool,
}

/// A synchronous bracket in progress.
#[derive(Clone, Debug)]
struct SyncInstance {
    bracket: usize,
    rung: usize,
    /// Configurations promoted into the current rung, best first (empty at rung 0: those
    /// configurations are new and created on dispatch).
    promoted: Vec<u64>,
    /// `(config, loss)` per dispatched position of the current rung.
    results: Vec<(u64, Option<f64>)>,
    told: u64,
}

/// One rung of an asynchronous bracket.
#[derive(Clone, Debug, Default)]
struct AshaRung {
    /// `(loss, job id, config)`, sorted by loss then job id.
    results: Vec<(f64, u64, u64)>,
    promoted: HashSet<u64>,
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    plan: Vec<BracketPlan>,
    eta: u64,
    mode: Mode,
    next_job: u64,
    next_config: u64,
    jobs: HashMap<u64, JobRecord>,
    pending: usize,
    // Synchronous state.
    open: BTreeMap<u64, SyncInstance>,
    next_instance: u64,
    next_sync_bracket: usize,
    // Asynchronous state.
    asha: Vec<Vec<AshaRung>>,
    new_bracket: usize,
    new_in_bracket: u64,
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

/// A broken internal invariant (a bug): reported as an error rather than a panic.
fn internal(what: &str) -> CoreError {
    CoreError::InvalidArgument(format!("internal error in the Hyperband scheduler: {what}"))
}

/// Configurations and budget of rung `rung` of bracket `bracket` of the plan.
fn rung_plan(plan: &[BracketPlan], bracket: usize, rung: usize) -> Result<RungPlan, CoreError> {
    plan.get(bracket)
        .and_then(|b| b.rungs.get(rung))
        .copied()
        .ok_or_else(|| internal("rung outside the plan"))
}

impl Scheduler {
    pub fn new(min_budget: f64, max_budget: f64, eta: u64, mode: Mode) -> Result<Self, CoreError> {
        let plan = hyperband_plan(min_budget, max_budget, eta)?;
        if plan.is_empty() {
            return Err(internal("empty plan"));
        }
        let asha = plan
            .iter()
            .map(|b| vec![AshaRung::default(); b.rungs.len()])
            .collect();
        Ok(Scheduler {
            plan,
            eta,
            mode,
            next_job: 0,
            next_config: 0,
            jobs: HashMap::new(),
            pending: 0,
            open: BTreeMap::new(),
            next_instance: 0,
            next_sync_bracket: 0,
            asha,
            new_bracket: 0,
            new_in_bracket: 0,
        })
    }

    pub fn plan(&self) -> &[BracketPlan] {
        &self.plan
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Number of jobs handed out and not told yet.
    pub fn n_pending(&self) -> usize {
        self.pending
    }

    /// Number of jobs handed out so far.
    pub fn n_jobs(&self) -> u64 {
        self.next_job
    }

    /// Number of configurations created so far.
    pub fn n_configs(&self) -> u64 {
        self.next_config
    }

    fn take_config(&mut self) -> u64 {
        let c = self.next_config;
        self.next_config += 1;
        c
    }

    fn issue(
        &mut self,
        config: u64,
        bracket: usize,
        rung: usize,
        slot: Slot,
        new: bool,
    ) -> Result<Job, CoreError> {
        let budget = rung_plan(&self.plan, bracket, rung)?.budget;
        let s = self.plan.get(bracket).map_or(0, |b| b.s);
        let id = self.next_job;
        self.next_job += 1;
        self.pending += 1;
        self.jobs.insert(
            id,
            JobRecord {
                config,
                slot,
                told: false,
            },
        );
        Ok(Job {
            id,
            config,
            bracket: s,
            rung: u32::try_from(rung).map_err(|_| internal("rung index"))?,
            budget,
            new_config: new,
        })
    }

    /// The next job to run. Never waits; an error only signals a bug.
    pub fn ask(&mut self) -> Result<Job, CoreError> {
        match self.mode {
            Mode::Sync => self.ask_sync(),
            Mode::Async => self.ask_async(),
        }
    }

    /// The oldest open bracket instance with a job left to dispatch at its current rung.
    fn ready_instance(&self) -> Option<u64> {
        self.open
            .iter()
            .find(|(_, inst)| {
                rung_plan(&self.plan, inst.bracket, inst.rung)
                    .is_ok_and(|r| (inst.results.len() as u64) < r.n_configs)
            })
            .map(|(&id, _)| id)
    }

    fn ask_sync(&mut self) -> Result<Job, CoreError> {
        let (id, opened) = match self.ready_instance() {
            Some(id) => (id, 0),
            None => {
                let id = self.next_instance;
                self.next_instance += 1;
                let bracket = self.next_sync_bracket;
                self.next_sync_bracket = (bracket + 1) % self.plan.len();
                (id, bracket)
            }
        };
        let inst = self.open.entry(id).or_insert_with(|| SyncInstance {
            bracket: opened,
            rung: 0,
            promoted: Vec::new(),
            results: Vec::new(),
            told: 0,
        });
        let (bracket, rung, position) = (inst.bracket, inst.rung, inst.results.len());
        // Rung 0 runs new configurations; later rungs run the promoted ones, best first.
        let promoted = match inst.promoted.get(position) {
            Some(&c) if rung > 0 => Some(c),
            _ => None,
        };
        let (config, new) = match promoted {
            Some(c) => (c, false),
            None => (self.take_config(), true),
        };
        if let Some(inst) = self.open.get_mut(&id) {
            inst.results.push((config, None));
        }
        let slot = Slot::Sync {
            instance: id,
            position,
        };
        self.issue(config, bracket, rung, slot, new)
    }

    /// The most expensive pending promotion `(bracket, rung, config)`, if any.
    fn find_promotion(&self) -> Option<(usize, usize, u64)> {
        let s_max = self.plan.len().saturating_sub(1);
        // Bracket index p starts at budget level p; its rung k sits at level p + k.
        for level in (0..s_max).rev() {
            for p in 0..=level {
                let Some(rung) = self.asha.get(p).and_then(|b| b.get(level - p)) else {
                    continue;
                };
                let top = (rung.results.len() as u64 / self.eta) as usize;
                let found = rung
                    .results
                    .iter()
                    .take(top)
                    .find(|&&(_, _, c)| !rung.promoted.contains(&c));
                if let Some(&(_, _, config)) = found {
                    return Some((p, level - p, config));
                }
            }
        }
        None
    }

    fn ask_async(&mut self) -> Result<Job, CoreError> {
        if let Some((p, k, config)) = self.find_promotion() {
            if let Some(rung) = self.asha.get_mut(p).and_then(|b| b.get_mut(k)) {
                rung.promoted.insert(config);
            }
            let slot = Slot::Async {
                bracket: p,
                rung: k + 1,
            };
            return self.issue(config, p, k + 1, slot, false);
        }
        let p = self.new_bracket;
        self.new_in_bracket += 1;
        if self.new_in_bracket >= rung_plan(&self.plan, p, 0)?.n_configs {
            self.new_bracket = (p + 1) % self.plan.len();
            self.new_in_bracket = 0;
        }
        let config = self.take_config();
        let slot = Slot::Async {
            bracket: p,
            rung: 0,
        };
        self.issue(config, p, 0, slot, true)
    }

    /// Report the loss of job `job_id`. The loss must be finite; each job is told once.
    pub fn tell(&mut self, job_id: u64, loss: f64) -> Result<(), CoreError> {
        if !loss.is_finite() {
            return Err(invalid(format!(
                "the loss of job {job_id} must be finite, got {loss}"
            )));
        }
        let record = match self.jobs.get(&job_id) {
            None => return Err(invalid(format!("unknown job id {job_id}"))),
            Some(r) if r.told => {
                return Err(invalid(format!("job {job_id} has already been told")));
            }
            Some(r) => *r,
        };
        match record.slot {
            Slot::Sync { instance, position } => self.tell_sync(instance, position, loss)?,
            Slot::Async { bracket, rung } => {
                let Some(cell) = self.asha.get_mut(bracket).and_then(|b| b.get_mut(rung)) else {
                    return Err(internal("job outside the asynchronous brackets"));
                };
                let at = cell
                    .results
                    .partition_point(|&(l, id, _)| (l, id) < (loss, job_id));
                cell.results.insert(at, (loss, job_id, record.config));
            }
        }
        if let Some(r) = self.jobs.get_mut(&job_id) {
            r.told = true;
            self.pending = self.pending.saturating_sub(1);
        }
        Ok(())
    }

    fn tell_sync(&mut self, instance: u64, position: usize, loss: f64) -> Result<(), CoreError> {
        let Some(inst) = self.open.get_mut(&instance) else {
            return Err(internal("bracket instance closed with a job outstanding"));
        };
        let Some(slot) = inst.results.get_mut(position) else {
            return Err(internal("job position outside its rung"));
        };
        slot.1 = Some(loss);
        inst.told += 1;
        let n_rungs = self.plan.get(inst.bracket).map_or(0, |b| b.rungs.len());
        if inst.told < rung_plan(&self.plan, inst.bracket, inst.rung)?.n_configs {
            return Ok(());
        }
        if inst.rung + 1 >= n_rungs {
            self.open.remove(&instance);
            return Ok(());
        }
        let keep = rung_plan(&self.plan, inst.bracket, inst.rung + 1)?.n_configs as usize;
        let mut ranked: Vec<(f64, usize, u64)> = inst
            .results
            .iter()
            .enumerate()
            .map(|(pos, &(config, l))| (l.unwrap_or(f64::INFINITY), pos, config))
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        inst.promoted = ranked.iter().take(keep).map(|&(_, _, c)| c).collect();
        inst.rung += 1;
        inst.results.clear();
        inst.told = 0;
        Ok(())
    }
}
