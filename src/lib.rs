//! clflow: training dynamics of contrastive learning as a Wasserstein gradient flow.
//!
//! The numerical core lives in the `clflow-solvers` crate. This crate reads
//! scenarios and data, builds the augmentation operator, runs the time loop
//! with its observers, and writes HDF5, plots and summaries.

// Index loops over the k <= 3 latent coordinates mirror the formulas in the
// docs, and `!(x > 0.0)` comparisons deliberately reject NaN as well.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

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
