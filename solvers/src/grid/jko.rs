//! Adaptive JKO time stepping of all fibers.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::grid::diffusion::{BackAndForthOptions, BackAndForthReport, solve_entropic_step};
use crate::grid::latent_grid::{Fibers, LatentGrid};
use crate::grid::legendre::proximal_map;
use crate::grid::potential::{FiberPotential, check_fibers};
use crate::grid::spectral::InverseLaplacian;
use crate::grid::transport::deposit;
use crate::grid::wasserstein::wasserstein2_squared;

/// Settings of the JKO stepper.
#[derive(Debug, Clone, PartialEq)]
pub struct JkoOptions {
    /// Diffusion beta >= 0; the energy gains beta sum_p w_p int gamma_p log gamma_p.
    pub diffusion: f64,
    /// Stopping rule of the back-and-forth solver (used only when beta > 0).
    pub back_and_forth: BackAndForthOptions,
    /// Extra solves with Phi re-evaluated at the new iterate (a fully implicit
    /// step); 0 keeps Phi frozen at the start of the step.
    pub fixed_point_iterations: usize,
    /// The fixed-point loop stops once no fiber changes by more than this in
    /// the l1 norm of its cell masses.
    pub fixed_point_tolerance: f64,
    /// Absolute slack of the JKO inequality check.
    pub energy_tolerance: f64,
    /// Slack of the JKO inequality check relative to max(|E^n|, 1).
    pub relative_energy_tolerance: f64,
    /// Smallest step size tried before `Error::StepTooSmall`.
    pub min_step: f64,
    /// Factor applied to the suggested next step after a step accepted at
    /// the first try.
    pub growth: f64,
}

impl Default for JkoOptions {
    fn default() -> Self {
        JkoOptions {
            diffusion: 0.0,
            back_and_forth: BackAndForthOptions::default(),
            fixed_point_iterations: 0,
            fixed_point_tolerance: 1e-10,
            energy_tolerance: 1e-12,
            relative_energy_tolerance: 1e-9,
            min_step: 1e-12,
            growth: 1.5,
        }
    }
}

/// State of the grid scheme, owned by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct GridState {
    pub time: f64,
    /// Number of accepted steps.
    pub step: u64,
    pub fibers: Fibers,
}

/// Record of one accepted step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Accepted step size h.
    pub step_size: f64,
    /// Number of rejected tries before acceptance (each halved h).
    pub retries: usize,
    /// Largest JKO-inequality violation among the rejected tries (0 if none).
    pub rejected_violation: f64,
    /// E^{n+1} + sum_p w_p W2^2 / (2h) - E^n of the accepted try (at most the tolerance).
    pub violation: f64,
    /// Total energy (with entropy) before and after the step.
    pub energy_before: f64,
    pub energy_after: f64,
    /// sum_p w_p W2^2(gamma_p^{n+1}, gamma_p^n).
    pub transport_cost: f64,
    /// Back-and-forth iterations of the accepted try, summed over fibers.
    pub inner_iterations: usize,
    /// Largest final back-and-forth residual over fibers (0 without diffusion).
    pub inner_residual: f64,
    /// Whether every back-and-forth solve met its tolerance.
    pub inner_converged: bool,
    /// Fixed-point re-evaluations of Phi used by the accepted try.
    pub fixed_point_iterations: usize,
    /// Step size proposed for the next call.
    pub suggested_step: f64,
}

/// JKO stepper over a fiber potential.
///
/// Each step freezes Phi^n = Phi(gamma^n) and moves every fiber by its own
/// JKO problem: without diffusion the fiber is pushed forward by the discrete
/// proximal map of Phi_p^n (`proximal_map`) and deposited with the linear
/// split of `deposit`; with diffusion the back-and-forth solver of the
/// entropic problem is used. The step is accepted when
/// E(gamma^{n+1}) + sum_p w_p W2^2(gamma_p^{n+1}, gamma_p^n) / (2h) <= E(gamma^n) + slack,
/// with W2 exact between the piecewise-constant fibers; otherwise h is halved.
/// Fibers are solved in parallel, each on one thread, and all reductions run
/// sequentially in fiber order, so results do not depend on the thread count.
pub struct JkoStepper<P: FiberPotential> {
    potential: P,
    options: JkoOptions,
    grid: LatentGrid,
    laplacian: InverseLaplacian,
    suggested_step: Option<f64>,
}

/// Summary of one frozen-potential solve over all fibers.
struct SolveSummary {
    iterations: usize,
    residual: f64,
    converged: bool,
}

impl<P: FiberPotential> JkoStepper<P> {
    pub fn new(potential: P, options: JkoOptions) -> Result<Self> {
        if !(options.diffusion.is_finite() && options.diffusion >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "diffusion beta",
                value: options.diffusion,
                reason: "must be finite and non-negative",
            });
        }
        if !(options.min_step.is_finite() && options.min_step > 0.0) {
            return Err(Error::InvalidParameter {
                name: "minimum step size",
                value: options.min_step,
                reason: "must be positive and finite",
            });
        }
        if !(options.growth.is_finite() && options.growth >= 1.0) {
            return Err(Error::InvalidParameter {
                name: "step growth factor",
                value: options.growth,
                reason: "must be finite and at least 1",
            });
        }
        for (name, value) in [
            ("energy tolerance", options.energy_tolerance),
            (
                "relative energy tolerance",
                options.relative_energy_tolerance,
            ),
            ("fixed-point tolerance", options.fixed_point_tolerance),
            ("back-and-forth tolerance", options.back_and_forth.tolerance),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::InvalidParameter {
                    name,
                    value,
                    reason: "must be finite and non-negative",
                });
            }
        }
        let grid = *potential.grid();
        Ok(JkoStepper {
            laplacian: InverseLaplacian::new(&grid),
            potential,
            options,
            grid,
            suggested_step: None,
        })
    }

    pub fn potential(&self) -> &P {
        &self.potential
    }

    pub fn potential_mut(&mut self) -> &mut P {
        &mut self.potential
    }

    pub fn options(&self) -> &JkoOptions {
        &self.options
    }

    pub fn grid(&self) -> &LatentGrid {
        &self.grid
    }

    /// Evaluates E(fibers) + beta sum_p w_p sum_a m_a log(m_a / dx).
    pub fn total_energy(&mut self, fibers: &Fibers) -> Result<f64> {
        let energy = self.potential.energy(fibers)?;
        if self.options.diffusion == 0.0 {
            return Ok(energy);
        }
        let dx = self.grid.spacing();
        let weights = self.potential.view_weights();
        let mut entropy = 0.0;
        for (p, &w) in weights.iter().enumerate() {
            let fiber_entropy: f64 = fibers
                .fiber(p)
                .iter()
                .filter(|&&m| m > 0.0)
                .map(|&m| m * (m / dx).ln())
                .sum();
            entropy += w * fiber_entropy;
        }
        Ok(energy + self.options.diffusion * entropy)
    }

    /// Takes one accepted step of size at most `h_max` and advances `state`.
    pub fn step(&mut self, state: &mut GridState, h_max: f64) -> Result<StepReport> {
        if !(h_max.is_finite() && h_max > 0.0) {
            return Err(Error::InvalidParameter {
                name: "maximum step size",
                value: h_max,
                reason: "must be positive and finite",
            });
        }
        let nodes = self.potential.view_weights().len();
        check_fibers(&self.grid, nodes, &state.fibers)?;
        let non_finite = |h: f64| Error::NonFinite {
            time: state.time,
            step: state.step,
            step_size: h,
        };
        if !state.fibers.is_finite() {
            return Err(non_finite(h_max));
        }

        let m = self.grid.cells();
        let mut phi = vec![0.0; nodes * m];
        self.potential.potential(&state.fibers, &mut phi)?;
        let energy_before = self.total_energy(&state.fibers)?;
        if !(energy_before.is_finite() && phi.iter().all(|v| v.is_finite())) {
            return Err(non_finite(h_max));
        }
        let slack = self.options.energy_tolerance
            + self.options.relative_energy_tolerance * energy_before.abs().max(1.0);

        let mut h = self.suggested_step.map_or(h_max, |s| s.min(h_max));
        let mut retries = 0;
        let mut rejected_violation: f64 = 0.0;
        let mut candidate = state.fibers.clone();
        loop {
            if h < self.options.min_step {
                return Err(Error::StepTooSmall {
                    time: state.time,
                    step: state.step,
                    step_size: h,
                    min_step: self.options.min_step,
                });
            }
            let mut summary = self.solve(&phi, &state.fibers, h, &mut candidate)?;
            let mut fixed_point_iterations = 0;
            let mut implicit_phi = vec![0.0; nodes * m];
            while fixed_point_iterations < self.options.fixed_point_iterations {
                self.potential.potential(&candidate, &mut implicit_phi)?;
                let mut next = candidate.clone();
                summary = self.solve(&implicit_phi, &state.fibers, h, &mut next)?;
                fixed_point_iterations += 1;
                let change = (0..nodes)
                    .map(|p| {
                        next.fiber(p)
                            .iter()
                            .zip(candidate.fiber(p))
                            .map(|(a, b)| (a - b).abs())
                            .sum::<f64>()
                    })
                    .fold(0.0, f64::max);
                candidate = next;
                if change <= self.options.fixed_point_tolerance {
                    break;
                }
            }
            if !candidate.is_finite() {
                return Err(non_finite(h));
            }

            let energy_after = self.total_energy(&candidate)?;
            let weights = self.potential.view_weights();
            let mut transport_cost = 0.0;
            for (p, &w) in weights.iter().enumerate() {
                transport_cost += w * wasserstein2_squared(
                    &self.grid,
                    candidate.fiber(p),
                    state.fibers.fiber(p),
                )?;
            }
            if !(energy_after.is_finite() && transport_cost.is_finite()) {
                return Err(non_finite(h));
            }
            let violation = energy_after + transport_cost / (2.0 * h) - energy_before;
            if violation > slack {
                rejected_violation = rejected_violation.max(violation);
                retries += 1;
                h *= 0.5;
                continue;
            }

            let suggested_step = if retries == 0 {
                h * self.options.growth
            } else {
                h
            };
            self.suggested_step = Some(suggested_step);
            state.fibers = candidate;
            state.time += h;
            state.step += 1;
            return Ok(StepReport {
                step_size: h,
                retries,
                rejected_violation,
                violation,
                energy_before,
                energy_after,
                transport_cost,
                inner_iterations: summary.iterations,
                inner_residual: summary.residual,
                inner_converged: summary.converged,
                fixed_point_iterations,
                suggested_step,
            });
        }
    }

    /// Solves every fiber's frozen-potential JKO problem from `previous`.
    fn solve(
        &self,
        phi: &[f64],
        previous: &Fibers,
        h: f64,
        out: &mut Fibers,
    ) -> Result<SolveSummary> {
        let m = self.grid.cells();
        let grid = &self.grid;
        let laplacian = &self.laplacian;
        let beta = self.options.diffusion;
        let inner = &self.options.back_and_forth;
        let reports: Vec<Result<BackAndForthReport>> = out
            .masses_mut()
            .par_chunks_mut(m)
            .enumerate()
            .map(|(p, fiber)| {
                let potential = &phi[p * m..(p + 1) * m];
                if beta > 0.0 {
                    return solve_entropic_step(
                        grid,
                        laplacian,
                        potential,
                        previous.fiber(p),
                        h,
                        beta,
                        inner,
                        fiber,
                    );
                }
                let mut envelope = vec![0.0; m];
                let mut target = vec![0.0; m];
                proximal_map(grid, potential, h, &mut envelope, &mut target)?;
                deposit(grid, previous.fiber(p), &target, fiber)?;
                Ok(BackAndForthReport {
                    iterations: 0,
                    residual: 0.0,
                    converged: true,
                })
            })
            .collect();
        let mut summary = SolveSummary {
            iterations: 0,
            residual: 0.0,
            converged: true,
        };
        for report in reports {
            let report = report?;
            summary.iterations += report.iterations;
            summary.residual = summary.residual.max(report.residual);
            summary.converged &= report.converged;
        }
        Ok(summary)
    }
}
