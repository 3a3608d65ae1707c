//! Hyperband and successive halving (owned by the pruner work).
