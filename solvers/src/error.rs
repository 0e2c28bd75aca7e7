//! Typed errors of the numerical core. Each variant carries the values that
//! explain it; the `clflow` crate adds file names and scenario keys.

use thiserror::Error;

/// Failure of a solver construction or of a time step.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Two inputs that must agree in size do not.
    #[error("size mismatch for {what}: expected {expected}, found {found}")]
    SizeMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    /// A parameter is outside its valid range.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        reason: &'static str,
    },

    /// Two options that cannot be combined.
    #[error("unsupported combination: {0}")]
    Unsupported(&'static str),

    /// The state became NaN or infinite during a step.
    #[error(
        "non-finite state at t = {time:.6e} (step {step}, step size {step_size:.3e}); \
         lower the maximum step size or the maximum displacement per step"
    )]
    NonFinite {
        time: f64,
        step: u64,
        step_size: f64,
    },

    /// The adaptive step size fell below its floor.
    #[error(
        "step size {step_size:.3e} fell below the minimum {min_step:.3e} at t = {time:.6e} (step {step})"
    )]
    StepTooSmall {
        time: f64,
        step: u64,
        step_size: f64,
        min_step: f64,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
