//! Numerical core of clflow: the contrastive energy of a positive-pair matrix,
//! latent spaces, the particle method and the grid JKO scheme. No I/O happens
//! here; callers own the state and observe it between steps.

// Index loops over the k <= 3 latent coordinates mirror the formulas in the
// docs, and `!(x > 0.0)` comparisons deliberately reject NaN as well.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod energy;
pub mod error;
pub mod fastexp;
pub mod grid;
pub mod latent;
pub mod pairs;
pub mod particle;

pub use energy::{ContrastiveEnergy, EnergyWorkspace, Parallelism};
pub use error::{Error, Result};
pub use latent::LatentSpace;
pub use pairs::PositivePairs;
pub use particle::{Integrator, ParticleOptions, ParticleSolver, ParticleState, StepReport};
