//! The trials of a native study, kept as columns, and the TPE step that reads them.
//!
//! Finished trials (COMPLETE and PRUNED; a FAIL never becomes a row) are rows of a column table:
//! trial number, kind, objective value, the pruned-trial sort key, and one column per parameter
//! holding the internal representation (NaN where a trial lacks the parameter). Running trials
//! are kept apart with their parameters so far and, for the constant liar, the relative
//! parameters sampled for them. A TPE step splits the finished rows as Optuna's TPE does, puts
//! the running trials into "above", and runs [`tpe::sample_step`] with the store's own MT19937
//! stream, so a trial costs no rebuild of the history.

use crate::parzen::ParzenParams;
use crate::rng::Mt19937;
use crate::sort::ArgSort;
use crate::space::Dim;
use crate::split::{KIND_COMPLETE, KIND_INFEASIBLE, KIND_PRUNED};
use crate::{tpe, CoreError};
use std::collections::BTreeMap;

/// Optuna's `default_weights(n)`: flat for the newest 25 observations, a linear ramp
/// (`numpy.linspace(1/n, 1, n - 25)`) before them.
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let start = 1.0 / n as f64;
    let mut w = Vec::with_capacity(n);
    if ramp == 1 {
        w.push(start);
    } else if ramp > 1 {
        let step = (1.0 - start) / (ramp - 1) as f64;
        w.extend((0..ramp).map(|i| i as f64 * step + start));
        if let Some(last) = w.last_mut() {
            *last = 1.0;
        }
    }
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// What a running trial contributes as a constant liar.
#[derive(Clone, Debug, Default)]
struct Running {
    /// Relative parameters sampled for it (internal representation).
    liar: Vec<(usize, f64)>,
    /// Parameters actually suggested so far.
    params: Vec<(usize, f64)>,
}

impl Running {
    /// Value of column `col` as the liar sees it: a suggested value wins over a relative one.
    fn get(&self, col: usize) -> Option<f64> {
        self.params
            .iter()
            .chain(self.liar.iter())
            .find(|(c, _)| *c == col)
            .map(|&(_, v)| v)
    }
}

/// One TPE step's request.
pub struct SampleRequest<'a> {
    /// Parameter columns sampled jointly, in search-space order.
    pub cols: &'a [usize],
    /// Their dimensions (same length as `cols`).
    pub dims: &'a [Dim],
    /// Number of the trial being sampled (left out of the running trials).
    pub exclude: i64,
    /// Size of "below" (gamma of the number of finished trials).
    pub n_below: usize,
    /// Rows (indices of finished trials) that go below, when the caller ranks the trials itself
    /// (multi-objective studies); `None` ranks them as single-objective TPE does.
    pub below_rows: Option<&'a [usize]>,
    /// Uniform "below" weights (multi-objective) instead of the default ramp.
    pub uniform_below: bool,
    /// Include the running trials in "above" (the constant liar).
    pub constant_liar: bool,
    pub params: ParzenParams,
    pub n_candidates: usize,
}

/// The trials of one study (see the module documentation).
#[derive(Clone, Debug)]
pub struct TrialStore {
    number: Vec<i64>,
    kind: Vec<i8>,
    value: Vec<f64>,
    prune_step: Vec<f64>,
    prune_value: Vec<f64>,
    infeasible: Vec<f64>,
    columns: Vec<Vec<f64>>,
    /// Row indices ordered by trial number (rows are appended in the order trials finish).
    by_number: Vec<usize>,
    /// COMPLETE rows in ranking order: by value (descending when maximising), ties by number,
    /// which is the stable sort of the rows in number order that Optuna performs.
    ranked: Vec<usize>,
    /// Scratch marks of the rows that go below (kept to avoid an allocation per step).
    marks: Vec<bool>,
    running: BTreeMap<i64, Running>,
    maximize: bool,
    rng: Mt19937,
}

impl TrialStore {
    pub fn new(maximize: bool, rng: Mt19937) -> Self {
        TrialStore {
            number: Vec::new(),
            kind: Vec::new(),
            value: Vec::new(),
            prune_step: Vec::new(),
            prune_value: Vec::new(),
            infeasible: Vec::new(),
            columns: Vec::new(),
            by_number: Vec::new(),
            ranked: Vec::new(),
            marks: Vec::new(),
            running: BTreeMap::new(),
            maximize,
            rng,
        }
    }

    /// Number of finished rows.
    pub fn len(&self) -> usize {
        self.number.len()
    }

    pub fn is_empty(&self) -> bool {
        self.number.is_empty()
    }

    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    pub fn n_running(&self) -> usize {
        self.running.len()
    }

    /// Heap bytes held by the finished-trial table (allocated capacity, running trials and
    /// the random state excluded).
    pub fn table_bytes(&self) -> usize {
        use std::mem::size_of;
        self.number.capacity() * size_of::<i64>()
            + self.kind.capacity() * size_of::<i8>()
            + (self.value.capacity()
                + self.prune_step.capacity()
                + self.prune_value.capacity()
                + self.infeasible.capacity())
                * size_of::<f64>()
            + (self.by_number.capacity() + self.ranked.capacity()) * size_of::<usize>()
            + self.marks.capacity() * size_of::<bool>()
            + self
                .columns
                .iter()
                .map(|c| c.capacity() * size_of::<f64>())
                .sum::<usize>()
    }

    pub fn rng(&self) -> &Mt19937 {
        &self.rng
    }

    /// Add a parameter column (NaN for every existing row) and return its index.
    pub fn add_column(&mut self) -> usize {
        self.columns.push(vec![f64::NAN; self.number.len()]);
        self.columns.len() - 1
    }

    /// A column's values, one per row in row order.
    pub fn column(&self, col: usize) -> Result<&[f64], CoreError> {
        self.columns
            .get(col)
            .map(Vec::as_slice)
            .ok_or_else(|| CoreError::InvalidArgument(format!("no parameter column {col}")))
    }

    /// Trial numbers of the rows, in row order.
    pub fn numbers(&self) -> &[i64] {
        &self.number
    }

    fn check_col(&self, col: usize) -> Result<(), CoreError> {
        if col >= self.columns.len() {
            return Err(CoreError::InvalidArgument(format!(
                "no parameter column {col} ({} exist)",
                self.columns.len()
            )));
        }
        Ok(())
    }

    fn running_mut(&mut self, number: i64) -> Result<&mut Running, CoreError> {
        self.running
            .get_mut(&number)
            .ok_or_else(|| CoreError::InvalidArgument(format!("trial {number} is not running")))
    }

    /// Register a new running trial.
    pub fn start(&mut self, number: i64) -> Result<(), CoreError> {
        if self.running.contains_key(&number) || self.number.contains(&number) {
            return Err(CoreError::InvalidArgument(format!(
                "trial {number} already exists"
            )));
        }
        self.running.insert(number, Running::default());
        Ok(())
    }

    /// Record a suggested parameter of a running trial (internal representation).
    pub fn set_param(&mut self, number: i64, col: usize, value: f64) -> Result<(), CoreError> {
        self.check_col(col)?;
        if value.is_nan() {
            return Err(CoreError::InvalidArgument(format!(
                "trial {number}: a parameter value must not be NaN"
            )));
        }
        let r = self.running_mut(number)?;
        if r.params.iter().any(|(c, _)| *c == col) {
            return Err(CoreError::InvalidArgument(format!(
                "trial {number} already has a value for column {col}"
            )));
        }
        r.params.push((col, value));
        Ok(())
    }

    /// Record the relative parameters sampled for a running trial (its constant-liar values).
    pub fn set_liar(
        &mut self,
        number: i64,
        cols: &[usize],
        values: &[f64],
    ) -> Result<(), CoreError> {
        if cols.len() != values.len() {
            return Err(CoreError::InvalidArgument(
                "cols and values must have equal lengths".into(),
            ));
        }
        for &c in cols {
            self.check_col(c)?;
        }
        let r = self.running_mut(number)?;
        r.liar = cols.iter().copied().zip(values.iter().copied()).collect();
        Ok(())
    }

    /// Finish a running trial as a row: `kind` is [`KIND_COMPLETE`] or [`KIND_PRUNED`]; `value`
    /// is its objective value (single objective; NaN otherwise); `prune_step`/`prune_value` its
    /// pruned-trial sort key. Returns the row index.
    pub fn finish(
        &mut self,
        number: i64,
        kind: i8,
        value: f64,
        prune_step: f64,
        prune_value: f64,
    ) -> Result<usize, CoreError> {
        if kind != KIND_COMPLETE && kind != KIND_PRUNED && kind != KIND_INFEASIBLE {
            return Err(CoreError::InvalidArgument(format!(
                "unknown trial kind {kind}"
            )));
        }
        let r = self
            .running
            .remove(&number)
            .ok_or_else(|| CoreError::InvalidArgument(format!("trial {number} is not running")))?;
        let row = self.number.len();
        for column in &mut self.columns {
            column.push(f64::NAN);
        }
        for (c, v) in r.params {
            // Columns were checked when the parameters were set.
            if let Some(slot) = self.columns.get_mut(c).and_then(|col| col.last_mut()) {
                *slot = v;
            }
        }
        self.number.push(number);
        self.kind.push(kind);
        self.value.push(value);
        self.prune_step.push(prune_step);
        self.prune_value.push(prune_value);
        self.infeasible.push(0.0);
        // Keep `by_number` sorted; trials mostly finish in order, so this is usually a push.
        let pos = self
            .by_number
            .partition_point(|&other| self.number[other] < number);
        self.by_number.insert(pos, row);
        if kind == KIND_COMPLETE {
            // NaN values (multi-objective rows, ranked by the caller) compare as ties.
            let key = |r: usize| {
                let v = if self.maximize {
                    -self.value[r]
                } else {
                    self.value[r]
                };
                (v, self.number[r])
            };
            let new = key(row);
            let pos = self.ranked.partition_point(|&other| {
                let k = key(other);
                match k.0.partial_cmp(&new.0) {
                    Some(std::cmp::Ordering::Less) => true,
                    Some(std::cmp::Ordering::Greater) => false,
                    _ => k.1 < new.1,
                }
            });
            self.ranked.insert(pos, row);
        }
        self.marks.push(false);
        Ok(row)
    }

    /// Drop a running trial without a row (it failed).
    pub fn discard(&mut self, number: i64) -> Result<(), CoreError> {
        self.running
            .remove(&number)
            .map(|_| ())
            .ok_or_else(|| CoreError::InvalidArgument(format!("trial {number} is not running")))
    }

    /// One TPE step over the stored trials; returns the chosen point (internal representation).
    pub fn sample(
        &mut self,
        req: &SampleRequest<'_>,
        sorter: &dyn ArgSort,
    ) -> Result<Vec<f64>, CoreError> {
        let d = req.cols.len();
        if d == 0 || req.dims.len() != d {
            return Err(CoreError::InvalidArgument(format!(
                "{} columns for {} dimensions",
                d,
                req.dims.len()
            )));
        }
        for &c in req.cols {
            self.check_col(c)?;
        }
        let (below_rows, above_rows) = match req.below_rows {
            Some(rows) => self.explicit_split(rows)?,
            None => self.ranked_split(req.n_below),
        };
        let (below, nb) = self.gather(&below_rows, req.cols, None);
        let liars: Vec<(i64, &Running)> = if req.constant_liar {
            self.running
                .iter()
                .filter(|(&n, _)| n != req.exclude)
                .map(|(&n, r)| (n, r))
                .collect()
        } else {
            Vec::new()
        };
        let (above, na) = self.gather(&above_rows, req.cols, Some(&liars));
        let below_weights = if req.uniform_below {
            vec![1.0; nb]
        } else {
            default_weights(nb)
        };
        let above_weights = default_weights(na);
        tpe::sample_step(
            req.dims,
            &below,
            nb,
            &below_weights,
            &above,
            na,
            &above_weights,
            &req.params,
            req.n_candidates,
            &mut self.rng,
            sorter,
        )
    }

    /// The single-objective below/above split (as [`crate::split::split`] on the rows in number order),
    /// reading the incrementally ranked COMPLETE rows instead of sorting them each step.
    fn ranked_split(&mut self, n_below: usize) -> (Vec<usize>, Vec<usize>) {
        let take = n_below.min(self.ranked.len());
        let mut below: Vec<usize> = self.ranked[..take].to_vec();
        let mut quota = n_below - take;
        if quota > 0 && self.ranked.len() < self.by_number.len() {
            // Pruned (then infeasible) rows rank after the complete ones; they are rare, so they
            // are sorted here, exactly as `crate::split::split` sorts them.
            let mut pruned: Vec<usize> = Vec::new();
            let mut infeasible: Vec<usize> = Vec::new();
            for &r in &self.by_number {
                match self.kind[r] {
                    KIND_PRUNED => pruned.push(r),
                    KIND_INFEASIBLE => infeasible.push(r),
                    _ => {}
                }
            }
            let cmp = |a: f64, b: f64| a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
            pruned.sort_by(|&a, &b| {
                cmp(self.prune_step[a], self.prune_step[b])
                    .then_with(|| cmp(self.prune_value[a], self.prune_value[b]))
            });
            infeasible.sort_by(|&a, &b| cmp(self.infeasible[a], self.infeasible[b]));
            for group in [&pruned, &infeasible] {
                let t = quota.min(group.len());
                below.extend_from_slice(&group[..t]);
                quota -= t;
            }
        }
        below.sort_by_key(|&r| self.number[r]);
        for &r in &below {
            self.marks[r] = true;
        }
        let above: Vec<usize> = self
            .by_number
            .iter()
            .copied()
            .filter(|&r| !self.marks[r])
            .collect();
        for &r in &below {
            self.marks[r] = false;
        }
        (below, above)
    }

    /// Rows `below` go below, every other finished row above; both in trial-number order.
    fn explicit_split(&self, below: &[usize]) -> Result<(Vec<usize>, Vec<usize>), CoreError> {
        let n = self.number.len();
        let mut is_below = vec![false; n];
        for &r in below {
            match is_below.get_mut(r) {
                Some(slot) => *slot = true,
                None => {
                    return Err(CoreError::InvalidArgument(format!(
                        "row {r} is out of range for {n} finished trials"
                    )))
                }
            }
        }
        let mut b = Vec::with_capacity(below.len());
        let mut a = Vec::with_capacity(n);
        for &r in &self.by_number {
            if is_below[r] {
                b.push(r);
            } else {
                a.push(r);
            }
        }
        Ok((b, a))
    }

    /// Observations of `rows` (in trial-number order) for `cols`, leaving out rows that lack a
    /// value; running trials (`liars`, in number order) are merged in by trial number.
    fn gather(
        &self,
        rows: &[usize],
        cols: &[usize],
        liars: Option<&[(i64, &Running)]>,
    ) -> (Vec<f64>, usize) {
        let d = cols.len();
        let liars = liars.unwrap_or(&[]);
        let mut out = Vec::with_capacity((rows.len() + liars.len()) * d);
        let mut n = 0;
        let mut li = 0;
        let mut point = vec![0.0; d];
        let push_liar = |out: &mut Vec<f64>, r: &Running, point: &mut Vec<f64>| -> bool {
            for (slot, &c) in point.iter_mut().zip(cols) {
                match r.get(c) {
                    Some(v) => *slot = v,
                    None => return false,
                }
            }
            out.extend_from_slice(point);
            true
        };
        for &row in rows {
            let num = self.number[row];
            while li < liars.len() && liars[li].0 < num {
                if push_liar(&mut out, liars[li].1, &mut point) {
                    n += 1;
                }
                li += 1;
            }
            let mut complete = true;
            for (slot, &c) in point.iter_mut().zip(cols) {
                let v = self.columns[c][row];
                if v.is_nan() {
                    complete = false;
                    break;
                }
                *slot = v;
            }
            if complete {
                out.extend_from_slice(&point);
                n += 1;
            }
        }
        while li < liars.len() {
            if push_liar(&mut out, liars[li].1, &mut point) {
                n += 1;
            }
            li += 1;
        }
        (out, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::StableArgSort;
    use crate::split::{self, TrialColumns};

    fn numpy_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
        // Reference: numpy's linspace for num >= 2.
        let step = (stop - start) / (num - 1) as f64;
        let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
        v[num - 1] = stop;
        v
    }

    #[test]
    fn default_weights_shape() {
        assert!(default_weights(0).is_empty());
        assert_eq!(default_weights(24), vec![1.0; 24]);
        assert_eq!(default_weights(25), vec![1.0; 25]);
        let w = default_weights(26);
        assert_eq!(w.len(), 26);
        assert_eq!(w[0], 1.0 / 26.0);
        let w = default_weights(100);
        assert_eq!(&w[..75], numpy_linspace(0.01, 1.0, 75).as_slice());
        assert!(w[75..].iter().all(|&x| x == 1.0));
    }

    fn params() -> ParzenParams {
        ParzenParams {
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }

    #[test]
    fn rows_running_and_errors() {
        let mut s = TrialStore::new(false, Mt19937::new(0));
        let c = s.add_column();
        for n in 0..12 {
            s.start(n).unwrap_or_default();
            s.set_param(n, c, n as f64 / 12.0).unwrap_or_default();
        }
        // finish out of order: rows are still ranked in number order
        for n in (0..12).rev() {
            assert!(s.finish(n, KIND_COMPLETE, n as f64, 0.0, 0.0).is_ok());
        }
        assert_eq!(s.len(), 12);
        assert!(s.finish(3, KIND_COMPLETE, 1.0, 0.0, 0.0).is_err());
        assert!(s.start(3).is_err());
        assert!(s.set_param(99, c, 1.0).is_err());
        assert!(s.discard(99).is_err());
        s.start(12).unwrap_or_default();
        assert!(s.set_param(12, 5, 1.0).is_err());
        assert!(s.set_param(12, c, f64::NAN).is_err());
        let dims = [Dim::float(0.0, 1.0, false)];
        let req = SampleRequest {
            cols: &[c],
            dims: &dims,
            exclude: 12,
            n_below: 2,
            below_rows: None,
            uniform_below: false,
            constant_liar: true,
            params: params(),
            n_candidates: 24,
        };
        let x = s.sample(&req, &StableArgSort).unwrap_or_default();
        assert_eq!(x.len(), 1);
        assert!((0.0..=1.0).contains(&x[0]));
        let bad = SampleRequest { cols: &[7], ..req };
        assert!(s.sample(&bad, &StableArgSort).is_err());
    }

    #[test]
    fn ranked_split_equals_split() {
        // Pseudo-random values with many ties, pruned rows, out-of-order finishing.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for maximize in [false, true] {
            let mut s = TrialStore::new(maximize, Mt19937::new(0));
            let n = 120;
            for t in 0..n {
                s.start(t).unwrap_or_default();
            }
            let mut order: Vec<i64> = (0..n).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, next() % (i + 1));
            }
            for &t in &order {
                let kind = if next() % 5 == 0 {
                    KIND_PRUNED
                } else {
                    KIND_COMPLETE
                };
                let value = (next() % 7) as f64;
                let (ps, pv) = (-((next() % 3) as f64), (next() % 4) as f64);
                assert!(s.finish(t, kind, value, ps, pv).is_ok());
            }
            let cols = TrialColumns {
                kind: &s.kind,
                value: &s.value,
                prune_step: &s.prune_step,
                prune_value: &s.prune_value,
                infeasible: &s.infeasible,
                number: &s.number,
            };
            let by_number = s.by_number.clone();
            for n_below in [0, 1, 5, 25, 95, 110, 120, 130] {
                let want = split::split(&cols, &by_number, n_below, maximize).unwrap_or_default();
                let got = s.clone().ranked_split(n_below);
                assert_eq!(got, want, "n_below {n_below}, maximize {maximize}");
            }
        }
    }

    #[test]
    fn gather_merges_liars_by_number() {
        let mut s = TrialStore::new(false, Mt19937::new(0));
        let c = s.add_column();
        for n in 0..4 {
            s.start(n).unwrap_or_default();
        }
        s.set_param(0, c, 0.5).unwrap_or_default();
        s.set_param(2, c, 0.25).unwrap_or_default();
        s.set_liar(1, &[c], &[0.75]).unwrap_or_default();
        s.finish(0, KIND_COMPLETE, 1.0, 0.0, 0.0)
            .unwrap_or_default();
        s.finish(2, KIND_COMPLETE, 2.0, 0.0, 0.0)
            .unwrap_or_default();
        let running: Vec<(i64, &Running)> = s.running.iter().map(|(&n, r)| (n, r)).collect();
        let (obs, n) = s.gather(&[0, 1], &[c], Some(&running));
        // trial 3 has no value for the column and is left out
        assert_eq!(n, 3);
        assert_eq!(obs, vec![0.5, 0.75, 0.25]);
    }
}
