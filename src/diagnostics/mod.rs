//! Observables of a run: spectral alignment, label proxies, separation.

pub mod alignment;
pub mod separation;
