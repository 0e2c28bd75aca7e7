//! Observables of a run: spectral alignment, label proxies, separation.

pub mod separation;
