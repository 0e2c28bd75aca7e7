//! The two discretisations behind one interface, so that the run loop and
//! its observers do not depend on which one runs.

use clflow_solvers::grid::{
    ContrastivePotential, Fibers, GridKind, GridState, JkoOptions, JkoStepper, LatentGrid,
};
use clflow_solvers::{
    ContrastiveEnergy, EnergyWorkspace, Integrator, LatentSpace, Parallelism, ParticleOptions,
    ParticleSolver, ParticleState, PositivePairs,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};

/// Report of one accepted step to the loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    pub step_size: f64,
}

/// A discretisation of the latent gradient flow, stepping its own state.
pub trait Dynamics {
    /// "particles" or "grid"; also the HDF5 group name.
    fn label(&self) -> &'static str;
    fn time(&self) -> f64;
    fn steps(&self) -> u64;
    /// Takes one step of size at most `h_max`.
    fn step(&mut self, h_max: f64) -> Result<StepInfo>;
    /// Latent dimension k of the node features.
    fn latent_dim(&self) -> usize;
    /// Node features f_p (fiber means), row-major N x k.
    fn node_features(&self) -> Vec<f64>;
    /// Energy of the current state.
    fn energy(&mut self) -> Result<f64>;
    /// Shape (rows, cols) of one stored snapshot and its description.
    fn snapshot_layout(&self) -> (usize, usize, &'static str, &'static str);
    /// Returns the state as stored in a snapshot, row-major rows x cols.
    fn snapshot(&self) -> Vec<f64>;
    /// Largest deviation of any fiber mass from 1 (0 for particles).
    fn mass_error(&self) -> f64 {
        0.0
    }
}

fn solver_error(context: &str, source: clflow_solvers::Error) -> Error {
    Error::Solver {
        context: context.to_string(),
        source,
    }
}

/// Interacting particles, M per node.
pub struct ParticleDynamics<'a> {
    solver: ParticleSolver<'a>,
    state: ParticleState,
    per_node: usize,
    energy_workspace: EnergyWorkspace,
}

impl<'a> ParticleDynamics<'a> {
    /// Places M particles per node: at f_0(x_p) when M = 1; otherwise they
    /// sample the initial fiber N(f_0(x_p), fiber_sigma^2). In latent R^1 and
    /// on the circle (along the angle) the samples sit at the normal
    /// quantiles (m + 1/2) / M, so every node's particle mean is f_0(x_p)
    /// exactly, as for the grid fibers. In higher dimensions they are random
    /// normal draws shifted to the same mean.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pairs: &'a PositivePairs,
        space: LatentSpace,
        tau: f64,
        initial: &[f64],
        per_node: usize,
        fiber_sigma: f64,
        options: ParticleOptions,
        seed: u64,
    ) -> Result<Self> {
        let dim = space.dim();
        let energy = ContrastiveEnergy::new(pairs, tau, per_node, dim)
            .map_err(|e| solver_error("building the energy", e))?;
        let z = sample_fibers(space, initial, per_node, fiber_sigma, seed);
        let solver = ParticleSolver::new(energy, space, options)
            .map_err(|e| solver_error("building the particle solver", e))?;
        Ok(ParticleDynamics {
            solver,
            state: ParticleState {
                time: 0.0,
                step: 0,
                z,
            },
            per_node,
            energy_workspace: EnergyWorkspace::default(),
        })
    }

    /// Particle positions, row-major (N M) x k.
    pub fn positions(&self) -> &[f64] {
        &self.state.z
    }

    pub fn per_node(&self) -> usize {
        self.per_node
    }
}

impl Dynamics for ParticleDynamics<'_> {
    fn label(&self) -> &'static str {
        "particles"
    }

    fn time(&self) -> f64 {
        self.state.time
    }

    fn steps(&self) -> u64 {
        self.state.step
    }

    fn step(&mut self, h_max: f64) -> Result<StepInfo> {
        let report = self
            .solver
            .step(&mut self.state, h_max)
            .map_err(|e| solver_error("particle step", e))?;
        log::debug!(
            "particle step {} to t = {:.6}: h = {:.3e} (requested at most {:.3e}), max speed {:.3e}",
            self.state.step,
            self.state.time,
            report.step_size,
            h_max,
            report.max_speed
        );
        Ok(StepInfo {
            step_size: report.step_size,
        })
    }

    fn latent_dim(&self) -> usize {
        self.solver.space().dim()
    }

    fn node_features(&self) -> Vec<f64> {
        let dim = self.latent_dim();
        let m = self.per_node;
        let nodes = self.state.z.len() / (dim * m);
        let mut out = vec![0.0; nodes * dim];
        for (i, row) in self.state.z.chunks_exact(dim).enumerate() {
            for c in 0..dim {
                out[(i / m) * dim + c] += row[c] / m as f64;
            }
        }
        out
    }

    fn energy(&mut self) -> Result<f64> {
        let par = self.solver.options().parallelism;
        self.solver
            .energy()
            .loss(&self.state.z, par, &mut self.energy_workspace)
            .map_err(|e| solver_error("evaluating the energy", e))
    }

    fn snapshot_layout(&self) -> (usize, usize, &'static str, &'static str) {
        let dim = self.latent_dim();
        (
            self.state.z.len() / dim,
            dim,
            "features",
            "particle positions z, shape snapshots x (N M) x k; particle i belongs to node i / M",
        )
    }

    fn snapshot(&self) -> Vec<f64> {
        self.state.z.clone()
    }
}

/// Eulerian grid JKO scheme on a 1-D latent grid (interval or circle).
pub struct GridDynamics {
    stepper: JkoStepper<ContrastivePotential>,
    state: GridState,
    grid: LatentGrid,
    suggested: f64,
    max_step: f64,
    warned_inner: bool,
}

impl GridDynamics {
    /// Builds Gaussian fibers N(mean_p, fiber_sigma^2) on `grid`; on the
    /// circle the means are angles.
    pub fn new(
        pairs: &PositivePairs,
        grid: LatentGrid,
        tau: f64,
        means: &[f64],
        fiber_sigma: f64,
        options: JkoOptions,
        max_step: f64,
    ) -> Result<Self> {
        let fibers = Fibers::gaussian(&grid, means, fiber_sigma)
            .map_err(|e| solver_error("building the initial fibers", e))?;
        let potential = ContrastivePotential::new(grid, pairs, tau)
            .map_err(|e| solver_error("building the fiber potential", e))?;
        let stepper = JkoStepper::new(potential, options)
            .map_err(|e| solver_error("building the JKO stepper", e))?;
        Ok(GridDynamics {
            stepper,
            state: GridState {
                time: 0.0,
                step: 0,
                fibers,
            },
            grid,
            suggested: max_step,
            max_step,
            warned_inner: false,
        })
    }

    pub fn grid(&self) -> &LatentGrid {
        &self.grid
    }

    pub fn fibers(&self) -> &Fibers {
        &self.state.fibers
    }
}

impl Dynamics for GridDynamics {
    fn label(&self) -> &'static str {
        "grid"
    }

    fn time(&self) -> f64 {
        self.state.time
    }

    fn steps(&self) -> u64 {
        self.state.step
    }

    fn step(&mut self, h_max: f64) -> Result<StepInfo> {
        let h = h_max.min(self.suggested).min(self.max_step);
        let report = self
            .stepper
            .step(&mut self.state, h)
            .map_err(|e| solver_error("JKO step", e))?;
        if report.retries > 0 {
            log::debug!(
                "JKO step at t = {:.4e}: {} retries, JKO inequality violated by {:.3e}",
                self.state.time,
                report.retries,
                report.rejected_violation
            );
        }
        if !report.inner_converged && !self.warned_inner {
            log::warn!(
                "JKO step at t = {:.4e}: the back-and-forth solver stopped at residual {:.3e} before its tolerance; later misses are logged at debug level",
                self.state.time,
                report.inner_residual
            );
            self.warned_inner = true;
        } else if !report.inner_converged {
            log::debug!(
                "JKO step at t = {:.4e}: back-and-forth residual {:.3e}",
                self.state.time,
                report.inner_residual
            );
        }
        self.suggested = report.suggested_step.max(1e-12);
        Ok(StepInfo {
            step_size: report.step_size,
        })
    }

    fn latent_dim(&self) -> usize {
        match self.grid.kind() {
            GridKind::Interval => 1,
            GridKind::Circle => 2,
        }
    }

    /// Fiber means: on the interval the mean position, on the circle the mean
    /// of the embedded points (cos u, sin u), which lies inside the disk.
    fn node_features(&self) -> Vec<f64> {
        let fibers = &self.state.fibers;
        let centres = self.grid.centres();
        let mut out = Vec::with_capacity(fibers.nodes() * self.latent_dim());
        for p in 0..fibers.nodes() {
            let fiber = fibers.fiber(p);
            match self.grid.kind() {
                GridKind::Interval => {
                    out.push(fiber.iter().zip(&centres).map(|(m, u)| m * u).sum())
                }
                GridKind::Circle => {
                    out.push(fiber.iter().zip(&centres).map(|(m, u)| m * u.cos()).sum());
                    out.push(fiber.iter().zip(&centres).map(|(m, u)| m * u.sin()).sum());
                }
            }
        }
        out
    }

    fn energy(&mut self) -> Result<f64> {
        self.stepper
            .total_energy(&self.state.fibers)
            .map_err(|e| solver_error("evaluating the grid energy", e))
    }

    fn snapshot_layout(&self) -> (usize, usize, &'static str, &'static str) {
        (
            self.state.fibers.nodes(),
            self.grid.cells(),
            "fibers",
            "cell masses of every fiber, shape snapshots x N x M_z; each row sums to 1",
        )
    }

    fn snapshot(&self) -> Vec<f64> {
        self.state.fibers.masses().to_vec()
    }

    fn mass_error(&self) -> f64 {
        let fibers = &self.state.fibers;
        (0..fibers.nodes())
            .map(|p| (fibers.fiber(p).iter().sum::<f64>() - 1.0).abs())
            .fold(0.0, f64::max)
    }
}

/// Maps the scenario's integrator name to the solver enum.
pub fn integrator(name: &str) -> Integrator {
    match name {
        "euler" => Integrator::Euler,
        "rk4" => Integrator::Rk4,
        _ => Integrator::Heun,
    }
}

/// Particle options from the scenario's `[solver]`.
pub fn particle_options(solver: &crate::scenario::SolverSpec, seed: u64) -> ParticleOptions {
    ParticleOptions {
        integrator: integrator(&solver.integrator),
        max_displacement: solver.max_displacement,
        max_step: solver.max_step,
        diffusion: solver.diffusion,
        noise_seed: seed,
        parallelism: Parallelism::Rayon,
        ..ParticleOptions::default()
    }
}

/// Positions of M particles per node sampling N(f_0, sigma^2) fibers (see
/// `ParticleDynamics::new`).
fn sample_fibers(
    space: LatentSpace,
    initial: &[f64],
    per_node: usize,
    sigma: f64,
    seed: u64,
) -> Vec<f64> {
    let dim = space.dim();
    let mut z = Vec::with_capacity(initial.len() * per_node);
    if per_node == 1 {
        z.extend_from_slice(initial);
        return z;
    }
    let quantiles: Vec<f64> = (0..per_node)
        .map(|m| sigma * inverse_normal_cdf((m as f64 + 0.5) / per_node as f64))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    for row in initial.chunks_exact(dim) {
        match (space, dim) {
            (LatentSpace::Euclidean { .. }, 1) => z.extend(quantiles.iter().map(|q| row[0] + q)),
            (LatentSpace::Sphere { .. }, 2) => {
                let angle = row[1].atan2(row[0]);
                for q in &quantiles {
                    z.push((angle + q).cos());
                    z.push((angle + q).sin());
                }
            }
            _ => {
                let mut draws: Vec<f64> = (0..per_node * dim)
                    .map(|_| {
                        let x: f64 = StandardNormal.sample(&mut rng);
                        sigma * x
                    })
                    .collect();
                for c in 0..dim {
                    let mean = draws.iter().skip(c).step_by(dim).sum::<f64>() / per_node as f64;
                    draws
                        .iter_mut()
                        .skip(c)
                        .step_by(dim)
                        .for_each(|v| *v += row[c] - mean);
                }
                z.extend(draws);
            }
        }
    }
    space.retract(&mut z);
    z
}

/// Inverse of the standard normal CDF, by Acklam's rational approximation
/// (relative error below 1.2e-9 on (0, 1)).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inverse_normal_cdf(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_cdf_known_values() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-12);
        assert!((inverse_normal_cdf(0.975) - 1.959963984540054).abs() < 1e-8);
        assert!((inverse_normal_cdf(0.01) + 2.326347874040841).abs() < 1e-8);
    }

    #[test]
    fn quantile_particles_keep_the_mean() {
        let space = LatentSpace::new(false, 1).unwrap();
        let z = sample_fibers(space, &[0.3, -1.0], 7, 0.05, 1);
        let mean0: f64 = z[..7].iter().sum::<f64>() / 7.0;
        assert!((mean0 - 0.3).abs() < 1e-15);
        let plane = LatentSpace::new(false, 2).unwrap();
        let z = sample_fibers(plane, &[0.3, -1.0], 5, 0.05, 1);
        let mean_y: f64 = z.iter().skip(1).step_by(2).sum::<f64>() / 5.0;
        assert!((mean_y + 1.0).abs() < 1e-14);
    }
}
