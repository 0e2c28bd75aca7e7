//! `clflow compare`: particles against the grid JKO scheme.

use std::path::Path;

use crate::error::{Error, Result};
use crate::run::Summary;
use crate::scenario::Scenario;

/// Runs both discretisations from the same initial fibers and compares them.
pub fn compare(_scenario: Scenario, _out: &Path, _refine: bool, _progress: bool) -> Result<Summary> {
    Err(Error::Numerical("compare is not built yet".into()))
}
