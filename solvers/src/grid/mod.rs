//! Eulerian grid discretisation of the lifted model (JKO scheme).
//!
//! Each node p carries a fiber gamma_p, a probability measure on a 1-D latent
//! grid ([`LatentGrid`]: an interval with no-flux ends, or the circle in
//! angle). The main types:
//!
//! - [`Fibers`]: cell masses, row-major N x M_z (fiber p contiguous), each
//!   fiber non-negative with mass 1. [`Fibers::gaussian`] builds discretised
//!   normal (wrapped normal on the circle) initial fibers.
//! - [`FiberPotential`]: an energy E of all fibers and its fiber potentials
//!   Phi_p = (1/w_p) dE/dgamma_p at the cell centres. Implementations:
//!   [`ExternalPotential`] (fixed V_p, for known solutions) and
//!   [`ContrastivePotential`] (the lifted contrastive energy).
//! - [`JkoStepper`]: adaptive JKO steps of a caller-owned [`GridState`];
//!   [`JkoStepper::step`] returns a [`StepReport`].
//! - [`proximal_map`] and [`moreau_envelope`]: linear-time discrete Legendre
//!   (c-)transform for the cost d^2 / (2h).
//! - [`solve_entropic_step`]: one fiber's JKO step with entropy by the
//!   back-and-forth method.
//! - [`wasserstein2_squared`] and [`wasserstein2_squared_particles`]: exact
//!   1-D W2 via quantile functions (with a cut-point search on the circle).
//!
//! Conventions:
//!
//! - Quadrature is the midpoint rule: the energy and the potentials put the
//!   mass of each cell at its centre. The W2 distance instead treats a fiber
//!   as a piecewise-constant density (mass spread uniformly over its cell).
//! - Without diffusion a step pushes each cell's mass to the proximal target
//!   T(u_a) = argmin_u Phi_p(u) + d(u, u_a)^2 / (2h) (discrete minimiser,
//!   refined below the cell width by a parabola fit) and splits it linearly
//!   between the two cell centres that bracket T(u_a). Mass and first moment
//!   are preserved and masses stay non-negative; the split adds a variance of
//!   at most dx^2 / 4 per step (numerical diffusion of order dx).
//! - With diffusion beta > 0 the energy gains beta sum_p w_p sum_a m_a log(m_a / dx).
//! - On the circle the kernel uses the chordal distance |z - z'|^2 = 2 - 2 cos(theta - theta'),
//!   while transport (proximal map, W2) uses the geodesic (angle) distance.
//! - Results do not depend on the number of rayon threads: per-fiber work
//!   runs on one thread each and reductions run in a fixed order.

mod contrastive;
mod diffusion;
mod jko;
mod latent_grid;
mod legendre;
mod potential;
mod spectral;
mod transport;
mod wasserstein;

#[cfg(test)]
mod tests;

pub use contrastive::ContrastivePotential;
pub use diffusion::{BackAndForthOptions, BackAndForthReport, solve_entropic_step};
pub use jko::{GridState, JkoOptions, JkoStepper, StepReport};
pub use latent_grid::{Fibers, GridKind, LatentGrid, MIN_CELLS};
pub use legendre::{moreau_envelope, proximal_map};
pub use potential::{ExternalPotential, FiberPotential};
pub use spectral::{InverseLaplacian, KernelConvolution};
pub use transport::deposit;
pub use wasserstein::{wasserstein2_squared, wasserstein2_squared_particles};
