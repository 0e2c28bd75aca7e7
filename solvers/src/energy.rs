//! The contrastive energy (expected Gaussian-kernel InfoNCE loss) and its gradient.
//!
//! For particles z_i with view weights w_i and positive pairs pi_ij,
//!
//! ```text
//! L(z) = sum_{i,j} pi_ij [ log(eta_ij + R_i) - log eta_ij ],   R_i = sum_l w_l eta_il,
//! eta_ij = exp(-|z_i - z_j|^2 / (2 tau)).
//! ```
//!
//! With M particles per node (diffuse fibers), particle (p, m) carries the view
//! weight w_p / M and every pair of particles of nodes p and k carries
//! pi_pk / M^2; this is the lifted energy evaluated at empirical fibers.
//!
//! Numerics: log eta_ij is formed exactly as -|d_ij|^2 / (2 tau) from the
//! difference d_ij = z_i - z_j (never from |z_i|^2 + |z_j|^2 - 2 z_i.z_j, which
//! cancels when the cloud is far from the origin). R_i >= w_i eta_ii = w_i > 0,
//! so log(eta_ij + R_i) and the ratios Q_ij never see 0 / 0 even when eta
//! underflows; an underflowed eta only drops a term below the rounding of R_i.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fastexp::exp_in_place;
use crate::latent::MAX_DIM;
use crate::pairs::PositivePairs;

/// Whether kernel sums run on the rayon pool or on the calling thread.
/// Results are bit-identical either way: every per-particle sum runs in a
/// fixed order on one thread, and totals are summed sequentially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    Sequential,
    #[default]
    Rayon,
}

/// Length of the blocks in which pair arguments are gathered before one
/// vectorised exp; 256 doubles stay in L1 cache.
const BLOCK: usize = 256;

/// The contrastive energy over a fixed positive-pair matrix.
#[derive(Debug, Clone)]
pub struct ContrastiveEnergy<'a> {
    pairs: &'a PositivePairs,
    tau: f64,
    per_node: usize,
    dim: usize,
}

/// Buffers reused between evaluations, sized for one particle count and dimension.
#[derive(Debug, Clone, Default)]
pub struct EnergyWorkspace {
    coords: Vec<Vec<f64>>,
    weights: Vec<f64>,
    r: Vec<f64>,
    s: Vec<f64>,
    q: Vec<f64>,
    t: Vec<f64>,
    pair_grad: Vec<f64>,
    row_loss: Vec<f64>,
}

impl<'a> ContrastiveEnergy<'a> {
    /// Builds the energy for temperature `tau > 0`, `per_node >= 1` particles
    /// per node, and features in R^dim (1 <= dim <= 3).
    pub fn new(pairs: &'a PositivePairs, tau: f64, per_node: usize, dim: usize) -> Result<Self> {
        if !(tau.is_finite() && tau > 0.0) {
            return Err(Error::InvalidParameter {
                name: "temperature tau",
                value: tau,
                reason: "must be positive and finite",
            });
        }
        if per_node == 0 {
            return Err(Error::InvalidParameter {
                name: "particles per node",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::InvalidParameter {
                name: "latent dimension",
                value: dim as f64,
                reason: "must be 1, 2 or 3",
            });
        }
        Ok(ContrastiveEnergy {
            pairs,
            tau,
            per_node,
            dim,
        })
    }

    pub fn tau(&self) -> f64 {
        self.tau
    }

    pub fn per_node(&self) -> usize {
        self.per_node
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn pairs(&self) -> &PositivePairs {
        self.pairs
    }

    /// Number of particles N * M.
    pub fn particle_count(&self) -> usize {
        self.pairs.n() * self.per_node
    }

    /// View weight of particle i, w_{i / M} / M.
    #[inline]
    pub fn particle_weight(&self, i: usize) -> f64 {
        self.pairs.view_weights()[i / self.per_node] / self.per_node as f64
    }

    fn check_len(&self, z: &[f64]) -> Result<()> {
        let expected = self.particle_count() * self.dim;
        if z.len() != expected {
            return Err(Error::SizeMismatch {
                what: "feature array (particles x latent dimension)",
                expected,
                found: z.len(),
            });
        }
        Ok(())
    }

    fn prepare(&self, z: &[f64], ws: &mut EnergyWorkspace) {
        let n = self.particle_count();
        ws.coords.resize(self.dim, Vec::new());
        for (c, coord) in ws.coords.iter_mut().enumerate() {
            coord.clear();
            coord.extend(z.iter().skip(c).step_by(self.dim));
        }
        ws.weights.clear();
        ws.weights.extend((0..n).map(|i| self.particle_weight(i)));
        ws.r.resize(n, 0.0);
        ws.s.resize(n * self.dim, 0.0);
        ws.q.resize(n, 0.0);
        ws.t.resize(n * self.dim, 0.0);
        ws.pair_grad.resize(n * self.dim, 0.0);
        ws.row_loss.resize(n, 0.0);
    }

    /// Evaluates L(z). `z` is row-major, particles x dim.
    pub fn loss(&self, z: &[f64], par: Parallelism, ws: &mut EnergyWorkspace) -> Result<f64> {
        self.check_len(z)?;
        self.prepare(z, ws);
        let inv2tau = 0.5 / self.tau;
        gauss_transform(&ws.coords, &ws.weights, inv2tau, &mut ws.r, None, par);
        self.pair_pass(ws, par, false);
        Ok(ws.row_loss.iter().sum())
    }

    /// Evaluates L(z) and writes dL/dz into `grad` (same layout as `z`).
    ///
    /// ```text
    /// dL/dz_p = (2/tau) sum_k pi_pk d_pk - (1/tau) sum_k (Q_pk + Q_kp) eta_pk d_pk
    ///         - (1/tau) [ q_p sum_l w_l eta_pl d_pl + w_p sum_j q_j eta_pj d_pj ],
    /// Q_jk = pi_jk / (eta_jk + R_j),  q_j = sum_k Q_jk,  d_pk = z_p - z_k.
    /// ```
    /// Cost: two Gauss transforms over all N^2 particle pairs plus one pass over
    /// the stored pairs of pi (times M^2).
    pub fn loss_and_gradient(
        &self,
        z: &[f64],
        grad: &mut [f64],
        par: Parallelism,
        ws: &mut EnergyWorkspace,
    ) -> Result<f64> {
        self.check_len(z)?;
        if grad.len() != z.len() {
            return Err(Error::SizeMismatch {
                what: "gradient array",
                expected: z.len(),
                found: grad.len(),
            });
        }
        self.prepare(z, ws);
        let inv2tau = 0.5 / self.tau;
        let dim = self.dim;

        gauss_transform(&ws.coords, &ws.weights, inv2tau, &mut ws.r, Some(&mut ws.s), par);
        self.pair_pass(ws, par, true);
        let q = std::mem::take(&mut ws.q);
        let mut scratch_sum = vec![0.0; q.len()];
        gauss_transform(&ws.coords, &q, inv2tau, &mut scratch_sum, Some(&mut ws.t), par);
        ws.q = q;

        let inv_tau = 1.0 / self.tau;
        for i in 0..self.particle_count() {
            let wi = ws.weights[i];
            for c in 0..dim {
                let idx = i * dim + c;
                grad[idx] = ws.pair_grad[idx] - inv_tau * (ws.q[i] * ws.s[idx] + wi * ws.t[idx]);
            }
        }
        Ok(ws.row_loss.iter().sum())
    }

    /// Writes the particle velocity v_i = -(1/w_i) dL/dz_i into `velocity` and returns L.
    pub fn velocity(
        &self,
        z: &[f64],
        velocity: &mut [f64],
        par: Parallelism,
        ws: &mut EnergyWorkspace,
    ) -> Result<f64> {
        let loss = self.loss_and_gradient(z, velocity, par, ws)?;
        for (i, v) in velocity.chunks_exact_mut(self.dim).enumerate() {
            let scale = -1.0 / self.particle_weight(i);
            v.iter_mut().for_each(|a| *a *= scale);
        }
        Ok(loss)
    }

    /// One pass over the stored pairs: per-row loss, q_i, and the first two
    /// gradient terms. Needs `ws.r` filled.
    fn pair_pass(&self, ws: &mut EnergyWorkspace, par: Parallelism, with_gradient: bool) {
        let dim = self.dim;
        let m = self.per_node;
        let inv2tau = 0.5 / self.tau;
        let inv_tau = 1.0 / self.tau;
        let scale = 1.0 / (m * m) as f64;
        let coords = &ws.coords;
        let r = &ws.r;
        let pairs = self.pairs;

        let row = |i: usize, loss: &mut f64, qi: &mut f64, g: &mut [f64]| {
            let node = i / m;
            let (cols, vals) = pairs.row(node);
            let mut acc_loss = 0.0;
            let mut acc_q = 0.0;
            let mut acc_g = [0.0; MAX_DIM];
            for (&k, &pi) in cols.iter().zip(vals) {
                let pi = pi * scale;
                for j in k * m..(k + 1) * m {
                    let mut dist2 = 0.0;
                    let mut d = [0.0; MAX_DIM];
                    for c in 0..dim {
                        d[c] = coords[c][i] - coords[c][j];
                        dist2 += d[c] * d[c];
                    }
                    let log_eta = -dist2 * inv2tau;
                    let eta = log_eta.exp();
                    let denom_i = eta + r[i];
                    acc_loss += pi * (denom_i.ln() - log_eta);
                    let q_ij = pi / denom_i;
                    acc_q += q_ij;
                    if with_gradient {
                        let q_ji = pi / (eta + r[j]);
                        let coef = 2.0 * pi - (q_ij + q_ji) * eta;
                        for c in 0..dim {
                            acc_g[c] += coef * d[c];
                        }
                    }
                }
            }
            *loss = acc_loss;
            *qi = acc_q;
            for c in 0..dim {
                g[c] = inv_tau * acc_g[c];
            }
        };

        match par {
            Parallelism::Rayon => ws
                .row_loss
                .par_iter_mut()
                .zip(ws.q.par_iter_mut())
                .zip(ws.pair_grad.par_chunks_mut(dim))
                .enumerate()
                .for_each(|(i, ((l, q), g))| row(i, l, q, g)),
            Parallelism::Sequential => ws
                .row_loss
                .iter_mut()
                .zip(ws.q.iter_mut())
                .zip(ws.pair_grad.chunks_mut(dim))
                .enumerate()
                .for_each(|(i, ((l, q), g))| row(i, l, q, g)),
        }
    }
}

/// Weighted Gauss transform with displacements, over all pairs:
///
/// ```text
/// sums[i]        = sum_l c_l exp(-|z_i - z_l|^2 * inv2tau)
/// moments[i, :]  = sum_l c_l exp(-|z_i - z_l|^2 * inv2tau) (z_i - z_l)
/// ```
/// `coords[c]` holds coordinate c of every particle. Each row is summed in a
/// fixed order by one thread, so the result does not depend on the pool size.
pub fn gauss_transform(
    coords: &[Vec<f64>],
    weights: &[f64],
    inv2tau: f64,
    sums: &mut [f64],
    moments: Option<&mut Vec<f64>>,
    par: Parallelism,
) {
    match coords.len() {
        1 => gauss_transform_dim::<1>(coords, weights, inv2tau, sums, moments, par),
        2 => gauss_transform_dim::<2>(coords, weights, inv2tau, sums, moments, par),
        3 => gauss_transform_dim::<3>(coords, weights, inv2tau, sums, moments, par),
        other => panic!("gauss_transform supports 1 to 3 coordinates, got {other}"),
    }
}

fn gauss_transform_dim<const K: usize>(
    coords: &[Vec<f64>],
    weights: &[f64],
    inv2tau: f64,
    sums: &mut [f64],
    moments: Option<&mut Vec<f64>>,
    par: Parallelism,
) {
    let n = weights.len();
    let row = |i: usize, sum: &mut f64, moment: Option<&mut [f64]>| {
        let mut zi = [0.0; K];
        for c in 0..K {
            zi[c] = coords[c][i];
        }
        let mut block = [0.0; BLOCK];
        let mut acc = 0.0;
        let mut acc_m = [0.0; K];
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            let block = &mut block[..len];
            for (b, arg) in block.iter_mut().enumerate() {
                let mut dist2 = 0.0;
                for c in 0..K {
                    let d = zi[c] - coords[c][start + b];
                    dist2 += d * d;
                }
                *arg = -dist2 * inv2tau;
            }
            exp_in_place(block);
            let w = &weights[start..start + len];
            for b in 0..len {
                let e = w[b] * block[b];
                acc += e;
                if moment.is_some() {
                    for c in 0..K {
                        acc_m[c] += e * (zi[c] - coords[c][start + b]);
                    }
                }
            }
            start += len;
        }
        *sum = acc;
        if let Some(m) = moment {
            m.copy_from_slice(&acc_m);
        }
    };

    match (moments, par) {
        (Some(mom), Parallelism::Rayon) => sums
            .par_iter_mut()
            .zip(mom.par_chunks_mut(K))
            .enumerate()
            .for_each(|(i, (s, m))| row(i, s, Some(m))),
        (Some(mom), Parallelism::Sequential) => sums
            .iter_mut()
            .zip(mom.chunks_mut(K))
            .enumerate()
            .for_each(|(i, (s, m))| row(i, s, Some(m))),
        (None, Parallelism::Rayon) => sums
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, s)| row(i, s, None)),
        (None, Parallelism::Sequential) => sums
            .iter_mut()
            .enumerate()
            .for_each(|(i, s)| row(i, s, None)),
    }
}
