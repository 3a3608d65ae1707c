//! Bindings of the Hyperband / successive-halving core (owned by the pruner work).

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
