"""ferrotune: Rust-accelerated hyperparameter optimisation."""
