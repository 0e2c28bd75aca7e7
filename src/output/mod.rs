//! Results written by a run: HDF5 file, PNG plots, summary.

pub mod hdf5;
pub mod plots;
