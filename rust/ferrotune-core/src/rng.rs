//! numpy's legacy `RandomState` stream (MT19937), as Optuna consumes it. STUB: to be implemented.

use crate::CoreError;

pub const MT_N: usize = 624;

#[derive(Clone, Debug)]
pub struct Mt19937 {
    key: [u32; MT_N],
    pos: usize,
}

impl Mt19937 {
    /// `np.random.RandomState(seed)` for an integer seed in [0, 2**32).
    pub fn new(seed: u32) -> Self {
        let _ = seed;
        unimplemented!()
    }
    /// Rebuild from `RandomState.get_state()`'s key (624 words) and position (0..=624).
    pub fn from_state(key: &[u32], pos: usize) -> Result<Self, CoreError> {
        let _ = (key, pos);
        unimplemented!()
    }
    pub fn key(&self) -> &[u32; MT_N] {
        &self.key
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn next_u32(&mut self) -> u32 {
        unimplemented!()
    }
    /// `RandomState.random_sample()`: a 53-bit double in [0, 1).
    pub fn random_sample(&mut self) -> f64 {
        unimplemented!()
    }
    /// `RandomState.uniform(low, high)` for one value: `low + (high - low) * random_sample()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let _ = (low, high);
        unimplemented!()
    }
    /// `RandomState.choice(len(p), p=p, size=size)` (legacy algorithm; `p` already validated and
    /// non-negative with a positive sum).
    pub fn choice_p(&mut self, p: &[f64], size: usize) -> Vec<usize> {
        let _ = (p, size);
        unimplemented!()
    }
}
