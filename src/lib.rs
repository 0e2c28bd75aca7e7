//! clflow: training dynamics of contrastive learning as a Wasserstein gradient flow.
//!
//! The numerical core lives in the `clflow-solvers` crate; this crate reads
//! scenarios and data, builds the augmentation operator, runs the time loop
//! with its observers, and writes HDF5, plots and summaries.

pub mod augmentation;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod init;
pub mod output;
pub mod run;
pub mod scenario;

pub use error::{Error, Result};
