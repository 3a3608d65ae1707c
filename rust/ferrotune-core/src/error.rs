//! The error type of the core crate. Every fallible public function returns `Result<_, CoreError>`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// A bad argument: wrong length, NaN where a number is required, bounds out of order, ...
    InvalidArgument(String),
    /// A search-space dimension that cannot be handled.
    InvalidSearchSpace(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::InvalidArgument(m) => write!(f, "{m}"),
            CoreError::InvalidSearchSpace(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for CoreError {}
