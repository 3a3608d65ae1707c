//! STUB (owned by the estimator work).
