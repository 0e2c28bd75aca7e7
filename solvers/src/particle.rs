//! Particle method: explicit integration of dz_i/dt = -(1/w_i) dL/dz_i.
//!
//! Each node carries M >= 1 particles of view weight w_p / M (M = 1 gives the
//! discrete dynamics, M > 1 samples diffuse fibers). The step size adapts so
//! that no particle moves more than `max_displacement * sqrt(tau)` in one step,
//! because sqrt(tau) is the length scale of the similarity kernel.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::energy::{ContrastiveEnergy, EnergyWorkspace, Parallelism};
use crate::error::{Error, Result};
use crate::latent::LatentSpace;

/// Explicit time integrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrator {
    /// Forward Euler, first order; Euler-Maruyama when diffusion is on.
    Euler,
    /// Heun's method (explicit trapezoid), second order.
    Heun,
    /// Classical fourth-order Runge-Kutta.
    Rk4,
}

/// Step control and noise of the particle method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticleOptions {
    /// Time integrator. Default: Heun.
    pub integrator: Integrator,
    /// Largest displacement of any particle in one step, in units of
    /// sqrt(tau). Default 0.05.
    pub max_displacement: f64,
    /// Upper bound on the step size, in model time. Default 0.05.
    pub max_step: f64,
    /// Lower bound on the step size; a smaller step is an error. Default 1e-10.
    pub min_step: f64,
    /// Diffusion coefficient beta >= 0 (SGD noise): Brownian increments
    /// sqrt(2 beta dt) per coordinate. Needs the Euler integrator. Default 0.
    pub diffusion: f64,
    /// Seed of the Brownian increments.
    pub noise_seed: u64,
    /// Whether kernel sums use the rayon pool.
    pub parallelism: Parallelism,
}

impl Default for ParticleOptions {
    fn default() -> Self {
        ParticleOptions {
            integrator: Integrator::Heun,
            max_displacement: 0.05,
            max_step: 0.05,
            min_step: 1e-10,
            diffusion: 0.0,
            noise_seed: 0,
            parallelism: Parallelism::Rayon,
        }
    }
}

/// Particle positions at one time; owned by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticleState {
    /// Model time t.
    pub time: f64,
    /// Number of accepted steps so far.
    pub step: u64,
    /// Positions, row-major: particle i = node * M + m, one row of k coordinates.
    pub z: Vec<f64>,
}

/// Outcome of one accepted step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Size of the step just taken.
    pub step_size: f64,
    /// Energy L at the start of the step.
    pub loss: f64,
    /// Largest particle speed |v_i| at the start of the step.
    pub max_speed: f64,
}

/// Integrates the particle dynamics for one energy and latent space.
pub struct ParticleSolver<'a> {
    energy: ContrastiveEnergy<'a>,
    space: LatentSpace,
    options: ParticleOptions,
    workspace: EnergyWorkspace,
    stages: [Vec<f64>; 4],
    trial: Vec<f64>,
    rng: StdRng,
}

impl<'a> ParticleSolver<'a> {
    /// Checks the options against the energy and space and allocates buffers.
    pub fn new(
        energy: ContrastiveEnergy<'a>,
        space: LatentSpace,
        options: ParticleOptions,
    ) -> Result<Self> {
        if space.dim() != energy.dim() {
            return Err(Error::SizeMismatch {
                what: "latent dimension of the energy",
                expected: space.dim(),
                found: energy.dim(),
            });
        }
        let positive = |name, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(Error::InvalidParameter {
                    name,
                    value,
                    reason: "must be positive and finite",
                })
            }
        };
        positive("maximum displacement", options.max_displacement)?;
        positive("maximum step", options.max_step)?;
        positive("minimum step", options.min_step)?;
        if !(options.diffusion.is_finite() && options.diffusion >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "diffusion beta",
                value: options.diffusion,
                reason: "must be non-negative and finite",
            });
        }
        if options.diffusion > 0.0 && options.integrator != Integrator::Euler {
            return Err(Error::Unsupported(
                "diffusion needs the Euler integrator (Euler-Maruyama); \
                 higher-order deterministic stages do not raise the strong order with noise",
            ));
        }
        let len = energy.particle_count() * energy.dim();
        Ok(ParticleSolver {
            energy,
            space,
            options,
            workspace: EnergyWorkspace::default(),
            stages: std::array::from_fn(|_| vec![0.0; len]),
            trial: vec![0.0; len],
            rng: StdRng::seed_from_u64(options.noise_seed),
        })
    }

    pub fn energy(&self) -> &ContrastiveEnergy<'a> {
        &self.energy
    }

    pub fn space(&self) -> LatentSpace {
        self.space
    }

    pub fn options(&self) -> &ParticleOptions {
        &self.options
    }

    /// Writes the (tangent) velocity at `z` into `velocity` and returns L(z).
    pub fn velocity(&mut self, z: &[f64], velocity: &mut [f64]) -> Result<f64> {
        let loss =
            self.energy
                .velocity(z, velocity, self.options.parallelism, &mut self.workspace)?;
        self.space.project_tangent(z, velocity);
        Ok(loss)
    }

    /// Takes one step of size at most `h_max` (and at most the displacement
    /// and step bounds of the options), advancing `state` in place.
    pub fn step(&mut self, state: &mut ParticleState, h_max: f64) -> Result<StepReport> {
        let dim = self.space.dim();
        let mut k1 = std::mem::take(&mut self.stages[0]);
        let loss = self.velocity(&state.z, &mut k1)?;
        let max_speed = k1
            .chunks_exact(dim)
            .map(|v| v.iter().map(|a| a * a).sum::<f64>().sqrt())
            .fold(0.0, f64::max);

        let displacement = self.options.max_displacement * self.energy.tau().sqrt();
        let mut h = h_max.min(self.options.max_step);
        if max_speed > 0.0 {
            h = h.min(displacement / max_speed);
        }
        if !(loss.is_finite() && max_speed.is_finite()) {
            self.stages[0] = k1;
            return Err(Error::NonFinite {
                time: state.time,
                step: state.step,
                step_size: h,
            });
        }
        if h < self.options.min_step {
            self.stages[0] = k1;
            return Err(Error::StepTooSmall {
                time: state.time,
                step: state.step,
                step_size: h,
                min_step: self.options.min_step,
            });
        }

        let result = match self.options.integrator {
            Integrator::Euler => {
                self.add_scaled(&state.z, &[(&k1, h)]);
                self.add_noise(h);
                Ok(())
            }
            Integrator::Heun => self.heun(&state.z, &k1, h),
            Integrator::Rk4 => self.rk4(&state.z, &k1, h),
        };
        self.stages[0] = k1;
        result?;

        self.space.retract(&mut self.trial);
        if self.trial.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                time: state.time,
                step: state.step,
                step_size: h,
            });
        }
        std::mem::swap(&mut state.z, &mut self.trial);
        state.time += h;
        state.step += 1;
        Ok(StepReport {
            step_size: h,
            loss,
            max_speed,
        })
    }

    /// trial = retract(z + sum_s c_s k_s).
    fn add_scaled(&mut self, z: &[f64], terms: &[(&[f64], f64)]) {
        self.trial.copy_from_slice(z);
        for (k, c) in terms {
            for (t, v) in self.trial.iter_mut().zip(k.iter()) {
                *t += c * v;
            }
        }
    }

    fn add_noise(&mut self, h: f64) {
        if self.options.diffusion == 0.0 {
            return;
        }
        let amplitude = (2.0 * self.options.diffusion * h).sqrt();
        let mut noise: Vec<f64> = (0..self.trial.len())
            .map(|_| {
                let x: f64 = StandardNormal.sample(&mut self.rng);
                amplitude * x
            })
            .collect();
        self.space.project_tangent(&self.trial.clone(), &mut noise);
        for (t, n) in self.trial.iter_mut().zip(&noise) {
            *t += n;
        }
    }

    /// Velocity at the retracted stage point z + sum c_s k_s, written into stage `slot`.
    fn stage(&mut self, z: &[f64], terms: &[(&[f64], f64)], slot: usize) -> Result<()> {
        self.add_scaled(z, terms);
        self.space.retract(&mut self.trial);
        let point = std::mem::take(&mut self.trial);
        let mut k = std::mem::take(&mut self.stages[slot]);
        let result = self.velocity(&point, &mut k);
        self.trial = point;
        self.stages[slot] = k;
        result.map(|_| ())
    }

    fn heun(&mut self, z: &[f64], k1: &[f64], h: f64) -> Result<()> {
        self.stage(z, &[(k1, h)], 1)?;
        let k2 = std::mem::take(&mut self.stages[1]);
        self.add_scaled(z, &[(k1, 0.5 * h), (&k2, 0.5 * h)]);
        self.stages[1] = k2;
        Ok(())
    }

    fn rk4(&mut self, z: &[f64], k1: &[f64], h: f64) -> Result<()> {
        self.stage(z, &[(k1, 0.5 * h)], 1)?;
        let k2 = std::mem::take(&mut self.stages[1]);
        self.stage(z, &[(&k2, 0.5 * h)], 2)?;
        let k3 = std::mem::take(&mut self.stages[2]);
        self.stage(z, &[(&k3, h)], 3)?;
        let k4 = std::mem::take(&mut self.stages[3]);
        self.add_scaled(
            z,
            &[
                (k1, h / 6.0),
                (&k2, h / 3.0),
                (&k3, h / 3.0),
                (&k4, h / 6.0),
            ],
        );
        self.stages[1] = k2;
        self.stages[2] = k3;
        self.stages[3] = k4;
        Ok(())
    }
}
