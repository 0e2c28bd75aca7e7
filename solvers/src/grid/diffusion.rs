//! One fiber's JKO step with entropy, by the back-and-forth method.
//!
//! The step solves, for a frozen potential Phi, cell masses mu of the previous
//! fiber, step h and diffusion beta > 0,
//!
//! ```text
//! min_rho U(rho) + W_c(rho, mu),   U(rho) = sum_a Phi_a rho_a + beta sum_a rho_a log(rho_a / dx),
//! ```
//! with the transport cost c(x, y) = d(x, y)^2 / (2h), over probability
//! vectors rho. Its Kantorovich dual is the concave problem
//!
//! ```text
//! max_phi J(phi) = sum_b mu_b phi^c(y_b) - U*(-phi),
//! phi^c(y) = min_x c(x, y) - phi(x),   U*(-phi) = beta log sum_a dx exp(-(Phi_a + phi_a) / beta),
//! ```
//! whose gradient is rho(phi) - T_phi # mu, with the Gibbs density
//! rho(phi) proportional to exp(-(Phi + phi) / beta) and T_phi(y) the
//! minimiser in phi^c(y). The back-and-forth method alternates gradient ascent steps in the H^1 metric, i.e.
//! preconditioned by the inverse Laplacian, on phi and on the dual variable
//! psi = phi^c (whose gradient is mu - S_psi # rho(psi^c)), with a c-transform
//! after each step. Here c-transforms are discrete Moreau envelopes over the
//! cell centres, the maps T and S are the sub-cell refined minimisers of
//! `proximal_map`, and push-forwards use the linear-split `deposit`.
//!
//! The ascent starts from phi = -Phi - beta log(mu / dx), where rho(phi) = mu,
//! with one step size for both half-steps: it starts at the inverse of a
//! curvature bound of J, is halved whenever the residual grows and grows by
//! 1.2 otherwise. Iteration stops when the H^-1 norm of the residual
//! rho(phi) - T_phi # mu falls below the tolerance. The returned fiber is
//! rho(phi) of the iterate with the smallest residual, so it is positive and
//! has mass 1 even when the tolerance is not met.
//!
//! NOTE: on the grid the two half-steps have slightly different fixed points
//! (the linear-split deposit is not inverted by the reverse map), so the
//! alternation stalls at a residual of about 1e-4 for fibers of O(1) density.
//! Once the residual falls by less than 10% over 10 iterations the solver
//! continues with ascent on phi alone, whose convergence is slow (sublinear)
//! below that level: about 500 iterations reach 1e-5 in the Gaussian tests.

use crate::error::{Error, Result};
use crate::grid::latent_grid::LatentGrid;
use crate::grid::legendre::proximal_map;
use crate::grid::spectral::InverseLaplacian;
use crate::grid::transport::deposit;

/// Stopping rule of the back-and-forth iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackAndForthOptions {
    /// Target H^-1 norm of rho(phi) - T_phi # mu; in units of the fiber
    /// density (mass per unit length) times length^(1/2) for a 1-D grid.
    pub tolerance: f64,
    /// Maximum number of back-and-forth iterations (each has two half-steps).
    pub max_iterations: usize,
}

impl Default for BackAndForthOptions {
    fn default() -> Self {
        BackAndForthOptions {
            tolerance: 5e-5,
            max_iterations: 500,
        }
    }
}

/// Outcome of one fiber's back-and-forth solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackAndForthReport {
    pub iterations: usize,
    /// Final H^-1 norm of the residual rho(phi) - T_phi # mu.
    pub residual: f64,
    pub converged: bool,
}

/// Growth of the ascent step size after an iteration that lowered the residual.
const STEP_GROWTH: f64 = 1.2;

/// The back-and-forth alternation stops (and plain ascent on phi goes on)
/// once the residual falls by less than 1 - STALL_RATIO over STALL_WINDOW iterations.
const STALL_WINDOW: usize = 10;
const STALL_RATIO: f64 = 0.9;

/// Relative density below which the initial dual potential treats a cell as
/// nearly empty.
const INITIAL_DENSITY_FLOOR: f64 = 1e-12;

/// Buffers and fixed data of one fiber's solve.
struct Solver<'a> {
    grid: &'a LatentGrid,
    phi: &'a [f64],
    h: f64,
    beta: f64,
}

impl Solver<'_> {
    /// Gibbs masses rho_a proportional to exp(-(Phi_a + potential_a) / beta);
    /// returns U*(-potential).
    fn gibbs(&self, potential: &[f64], rho: &mut [f64]) -> f64 {
        let exponent = |a: usize| -(self.phi[a] + potential[a]) / self.beta;
        let largest = (0..rho.len())
            .map(exponent)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (a, r) in rho.iter_mut().enumerate() {
            *r = (exponent(a) - largest).exp();
            sum += *r;
        }
        rho.iter_mut().for_each(|r| *r /= sum);
        self.beta * (largest + (sum * self.grid.spacing()).ln())
    }

    /// c-transform of `potential`: envelope[y] = min_x c(x, y) - potential(x)
    /// and the refined minimiser.
    fn c_transform(
        &self,
        potential: &[f64],
        envelope: &mut [f64],
        target: &mut [f64],
    ) -> Result<()> {
        let negated: Vec<f64> = potential.iter().map(|v| -v).collect();
        proximal_map(self.grid, &negated, self.h, envelope, target)
    }
}

/// Solves one fiber's entropic JKO step; writes rho into `out`.
#[allow(clippy::too_many_arguments)]
pub fn solve_entropic_step(
    grid: &LatentGrid,
    laplacian: &InverseLaplacian,
    phi: &[f64],
    previous: &[f64],
    h: f64,
    beta: f64,
    options: &BackAndForthOptions,
    out: &mut [f64],
) -> Result<BackAndForthReport> {
    grid.check_len("potential of the entropic step", phi.len())?;
    grid.check_len("previous fiber of the entropic step", previous.len())?;
    grid.check_len("output of the entropic step", out.len())?;
    if !(beta.is_finite() && beta > 0.0) {
        return Err(Error::InvalidParameter {
            name: "diffusion beta",
            value: beta,
            reason: "the back-and-forth step needs a positive, finite diffusion",
        });
    }
    if !(h.is_finite() && h > 0.0) {
        return Err(Error::InvalidParameter {
            name: "JKO step h",
            value: h,
            reason: "must be positive and finite",
        });
    }
    let solver = Solver { grid, phi, h, beta };
    let m = grid.cells();
    let dx = grid.spacing();

    // Step size from the curvature bound of J in the H^1 metric:
    // density / beta on the lowest Laplacian mode plus h times the density.
    let max_density = previous.iter().cloned().fold(0.0, f64::max) / dx;
    let length = grid.length();
    let curvature =
        max_density * length * length / (std::f64::consts::PI.powi(2) * beta) + max_density * h;
    let mut step = 1.0 / curvature;

    // Start where rho(phi) = mu, with mu floored at a tiny fraction of its
    // peak so that empty cells do not get an infinite potential.
    let floor = INITIAL_DENSITY_FLOOR * max_density;
    let mut potential: Vec<f64> = (0..m)
        .map(|a| -phi[a] - beta * (previous[a] / dx).max(floor).ln())
        .collect();
    let mut best_potential = vec![0.0; m];
    let mut psi = vec![0.0; m];
    let mut envelope = vec![0.0; m];
    let mut target = vec![0.0; m];
    let mut rho = vec![0.0; m];
    let mut pushed = vec![0.0; m];
    let mut gradient = vec![0.0; m];
    let mut direction = vec![0.0; m];

    let mut best_residual = f64::INFINITY;
    let mut previous_residual = f64::INFINITY;
    let mut checkpoint_residual = f64::INFINITY;
    let mut alternate = true;
    for iteration in 0..options.max_iterations {
        // Ascent on phi: gradient rho(phi) - T_phi # mu.
        solver.gibbs(&potential, &mut rho);
        solver.c_transform(&potential, &mut envelope, &mut target)?;
        deposit(grid, previous, &target, &mut pushed)?;
        for a in 0..m {
            gradient[a] = (rho[a] - pushed[a]) / dx;
        }
        laplacian.apply(&gradient, &mut direction)?;
        let residual = h_minus_one_norm(&gradient, &direction, dx);
        if !residual.is_finite() {
            return Err(Error::InvalidParameter {
                name: "back-and-forth residual",
                value: residual,
                reason: "became non-finite; lower the step size or raise the diffusion",
            });
        }
        if residual < best_residual {
            best_residual = residual;
            best_potential.copy_from_slice(&potential);
        }
        if residual < options.tolerance {
            out.copy_from_slice(&rho);
            return Ok(BackAndForthReport {
                iterations: iteration,
                residual,
                converged: true,
            });
        }
        if residual > previous_residual {
            step *= 0.5;
        } else {
            step *= STEP_GROWTH;
        }
        previous_residual = residual;
        for a in 0..m {
            potential[a] += step * direction[a];
        }
        if iteration % STALL_WINDOW == 0 {
            if residual > STALL_RATIO * checkpoint_residual {
                alternate = false;
            }
            checkpoint_residual = residual;
        }
        if !alternate {
            continue;
        }
        solver.c_transform(&potential, &mut psi, &mut target)?;

        // Ascent on psi = phi^c: gradient mu - S_psi # rho(psi^c).
        solver.c_transform(&psi, &mut envelope, &mut target)?;
        solver.gibbs(&envelope, &mut rho);
        deposit(grid, &rho, &target, &mut pushed)?;
        for a in 0..m {
            gradient[a] = (previous[a] - pushed[a]) / dx;
        }
        laplacian.apply(&gradient, &mut direction)?;
        for a in 0..m {
            psi[a] += step * direction[a];
        }
        solver.c_transform(&psi, &mut potential, &mut target)?;
    }

    solver.gibbs(&best_potential, out);
    Ok(BackAndForthReport {
        iterations: options.max_iterations,
        residual: best_residual,
        converged: false,
    })
}

/// H^-1 norm sqrt(int g (-L)^{-1} g) of a zero-mean density g, given (-L)^{-1} g.
fn h_minus_one_norm(density: &[f64], potential: &[f64], dx: f64) -> f64 {
    let pairing: f64 = density.iter().zip(potential).map(|(g, v)| g * v).sum();
    (pairing * dx).max(0.0).sqrt()
}
