//! Hyperband and successive halving: bracket arithmetic, rung bookkeeping and an ask/tell
//! scheduler. Everything is exact integer arithmetic where Optuna or Li et al. define integers,
//! and every fallible function returns `Result<_, CoreError>` (no panics on any input).
//!
//! One concept per file:
//! - [`crc32`]: the CRC-32 (IEEE 802.3, as `zlib`/`binascii.crc32`) used to assign trials to
//!   brackets.
//! - [`brackets`]: Optuna's pruner-side bracket arithmetic (number of brackets, allocation
//!   budgets, bracket of a trial, rung promotion steps).
//! - [`rungs`]: the rung promotion rule (the k-th order statistic test of asynchronous successive
//!   halving) and [`RungTable`], an incremental index of rung values with rank queries.
//! - [`plan`]: Li et al.'s synchronous bracket tables `(n_i, r_i)`.
//! - [`scheduler`]: an ask/tell Hyperband scheduler, synchronous (Li et al.) or asynchronous
//!   (ASHA promotions).
//!
//! ## The bracket count
//!
//! Optuna computes `floor(log_eta(max/min)) + 1` with a floating-point logarithm, so exact powers
//! can land just below an integer: `math.log(243, 3) = 4.999…` gives 5 brackets for
//! `(min, max, eta) = (1, 243, 3)`. [`brackets::n_brackets`] counts with integers instead and gives
//! the mathematically exact 6.

pub mod brackets;
pub mod crc32;
pub mod plan;
pub mod rungs;
pub mod scheduler;

pub use brackets::{allocation_budgets, bracket_of, n_brackets, promotion_step};
pub use crc32::crc32;
pub use plan::{hyperband_plan, max_bracket_index, BracketPlan, RungPlan};
pub use rungs::{is_promotable, Direction, PromotionRule, RungTable, Verdict};
pub use scheduler::{Job, Mode, Scheduler};
