//! argsort with a pluggable order for tied values. STUB (owned by the estimator work).
