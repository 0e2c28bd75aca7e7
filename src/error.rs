//! Errors of the clflow library and CLI, with the file, key and fix attached.

use std::path::PathBuf;

use thiserror::Error;

/// Failure of a clflow command. `exit_code` maps it to the documented codes.
#[derive(Debug, Error)]
pub enum Error {
    /// Invalid scenario, data file or command-line value.
    #[error("{file}: {}{message}\n  hint: {hint}", key_prefix(key))]
    Input {
        file: String,
        key: String,
        message: String,
        hint: String,
    },

    /// An output folder or file that cannot be created or written.
    #[error("cannot write {}: {message}\n  hint: {hint}", path.display())]
    Output {
        path: PathBuf,
        message: String,
        hint: String,
    },

    /// A solver failure during a run, with what was running.
    #[error("{context}: {source}")]
    Solver {
        context: String,
        #[source]
        source: clflow_solvers::Error,
    },

    /// An HDF5 library failure while reading or writing a results file.
    #[error("HDF5 error in {}: {source}", path.display())]
    Hdf5 {
        path: PathBuf,
        #[source]
        source: hdf5::Error,
    },

    /// A plot that could not be drawn or saved.
    #[error("cannot draw plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },

    /// A numerical check on derived data that failed (for example an
    /// eigenpair residual); this points at a bug or an ill-posed input.
    #[error("numerical check failed: {0}")]
    Numerical(String),
}

/// "key: " for a named key; nothing when the error concerns the whole file ("-").
fn key_prefix(key: &str) -> String {
    if key.is_empty() || key == "-" {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl Error {
    /// Process exit code: 2 for usage errors (bad input), 1 for run failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } | Error::Output { .. } => 2,
            _ => 1,
        }
    }

    /// Shorthand for an input error.
    pub fn input(
        file: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::Input {
            file: file.into(),
            key: key.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
