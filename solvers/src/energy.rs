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
use crate::fastexp::{exp_nonpositive, ln_positive};
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

/// Number of independent partial sums per accumulated quantity. Pairs are
/// processed in chunks of this many, and pair b of a chunk always goes to
/// partial sum b. The partial sums are added in index order at the end of the
/// row, so results do not depend on the thread count. Independent sums let
/// the loops vectorise and hide the latency of floating-point addition.
const LANES: usize = 8;

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
    q_sums: Vec<f64>,
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
        ws.q_sums.resize(n, 0.0);
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

        gauss_transform(
            &ws.coords,
            &ws.weights,
            inv2tau,
            &mut ws.r,
            Some(&mut ws.s),
            par,
        );
        self.pair_pass(ws, par, true);
        gauss_transform(
            &ws.coords,
            &ws.q,
            inv2tau,
            &mut ws.q_sums,
            Some(&mut ws.t),
            par,
        );

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

    /// One pass over the stored pairs: per-row loss, q_i, and (with
    /// `with_gradient`) the first two gradient terms. Needs `ws.r` filled.
    fn pair_pass(&self, ws: &mut EnergyWorkspace, par: Parallelism, with_gradient: bool) {
        match self.dim {
            1 => self.pair_pass_dim::<1>(ws, par, with_gradient),
            2 => self.pair_pass_dim::<2>(ws, par, with_gradient),
            3 => self.pair_pass_dim::<3>(ws, par, with_gradient),
            other => unreachable!("ContrastiveEnergy::new rejects latent dimension {other}"),
        }
    }

    fn pair_pass_dim<const K: usize>(
        &self,
        ws: &mut EnergyWorkspace,
        par: Parallelism,
        with_gradient: bool,
    ) {
        let dim = self.dim;
        let m = self.per_node;
        let inv_tau = 1.0 / self.tau;
        let inputs = PairInputs::<K> {
            coords: std::array::from_fn(|c| ws.coords[c].as_slice()),
            r: &ws.r,
            pairs: self.pairs,
            per_node: m,
            pair_scale: 1.0 / (m * m) as f64,
            inv2tau: 0.5 / self.tau,
        };
        let avx2 = avx2_available();

        let row = |i: usize, loss: &mut f64, qi: &mut f64, g: &mut [f64]| {
            let sums = if with_gradient {
                pair_row_dispatch::<K, true>(avx2, &inputs, i)
            } else {
                pair_row_dispatch::<K, false>(avx2, &inputs, i)
            };
            *loss = sums.loss;
            *qi = sums.q;
            for c in 0..dim {
                g[c] = inv_tau * sums.gradient[c];
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

/// Reports whether the running CPU has AVX2. The AVX2 copies of the kernels
/// perform the same IEEE operations in the same order as the portable copies
/// (Rust never fuses a multiply and an add on its own, and FMA is not
/// enabled), so both return the same bits; AVX2 only processes four lanes per
/// instruction instead of two.
fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Adds the partial sums of one row in index order.
#[inline(always)]
fn sum_lanes(lanes: &[f64; LANES]) -> f64 {
    let mut total = 0.0;
    for &v in lanes {
        total += v;
    }
    total
}

/// Read-only inputs of the pass over the stored pairs of pi.
struct PairInputs<'a, const K: usize> {
    coords: [&'a [f64]; K],
    r: &'a [f64],
    pairs: &'a PositivePairs,
    per_node: usize,
    /// 1 / M^2: the share of pi_pk carried by each pair of particles.
    pair_scale: f64,
    inv2tau: f64,
}

/// Row results of the pair pass, before the 1/tau factor of the gradient.
struct PairRowSums {
    loss: f64,
    q: f64,
    gradient: [f64; MAX_DIM],
}

/// Partial sums of one row of the pair pass, one per lane.
struct PairLanes<const K: usize> {
    loss: [f64; LANES],
    q: [f64; LANES],
    gradient: [[f64; LANES]; K],
}

fn pair_row_dispatch<const K: usize, const GRADIENT: bool>(
    avx2: bool,
    inputs: &PairInputs<K>,
    i: usize,
) -> PairRowSums {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reported AVX2.
        return unsafe { pair_row_avx2::<K, GRADIENT>(inputs, i) };
    }
    let _ = avx2;
    pair_row::<K, GRADIENT>(inputs, i)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pair_row_avx2<const K: usize, const GRADIENT: bool>(
    inputs: &PairInputs<K>,
    i: usize,
) -> PairRowSums {
    pair_row::<K, GRADIENT>(inputs, i)
}

/// Sums over the stored pairs (i, j) of particle i's row:
/// loss_i = sum_j pi_ij [log(eta_ij + R_i) - log eta_ij], q_i = sum_j Q_ij and
/// (with `GRADIENT`) sum_j [2 pi_ij - (Q_ij + Q_ji) eta_ij] d_ij.
///
/// The stored pairs are gathered into chunks of `LANES`; the last chunk is
/// padded with the pair (i, i) at weight 0, which adds exact zeros.
#[inline(always)]
fn pair_row<const K: usize, const GRADIENT: bool>(inputs: &PairInputs<K>, i: usize) -> PairRowSums {
    let m = inputs.per_node;
    let (cols, vals) = inputs.pairs.row(i / m);
    let zi: [f64; K] = std::array::from_fn(|c| inputs.coords[c][i]);
    let mut lanes = PairLanes::<K> {
        loss: [0.0; LANES],
        q: [0.0; LANES],
        gradient: [[0.0; LANES]; K],
    };

    let mut partners = [i; LANES];
    let mut weights = [0.0; LANES];
    let mut filled = 0;
    for (&k, &pi) in cols.iter().zip(vals) {
        let pi = pi * inputs.pair_scale;
        for j in k * m..(k + 1) * m {
            partners[filled] = j;
            weights[filled] = pi;
            filled += 1;
            if filled == LANES {
                pair_chunk::<K, GRADIENT>(inputs, i, &zi, &partners, &weights, &mut lanes);
                filled = 0;
            }
        }
    }
    if filled > 0 {
        partners[filled..].fill(i);
        weights[filled..].fill(0.0);
        pair_chunk::<K, GRADIENT>(inputs, i, &zi, &partners, &weights, &mut lanes);
    }

    let mut gradient = [0.0; MAX_DIM];
    for c in 0..K {
        gradient[c] = sum_lanes(&lanes.gradient[c]);
    }
    PairRowSums {
        loss: sum_lanes(&lanes.loss),
        q: sum_lanes(&lanes.q),
        gradient,
    }
}

/// Adds the terms of `LANES` stored pairs (i, partners[b]) with weights
/// pi_ij / M^2 to the partial sums, pair b to lane b.
#[inline(always)]
fn pair_chunk<const K: usize, const GRADIENT: bool>(
    inputs: &PairInputs<K>,
    i: usize,
    zi: &[f64; K],
    partners: &[usize; LANES],
    weights: &[f64; LANES],
    lanes: &mut PairLanes<K>,
) {
    // Indexed loads first, so that the arithmetic below is one branch-free
    // block that the compiler vectorises.
    let mut d = [[0.0; LANES]; K];
    let mut dist2 = [0.0; LANES];
    let mut r_partner = [0.0; LANES];
    for b in 0..LANES {
        let j = partners[b];
        for c in 0..K {
            d[c][b] = zi[c] - inputs.coords[c][j];
            dist2[b] += d[c][b] * d[c][b];
        }
        r_partner[b] = inputs.r[j];
    }
    let r_i = inputs.r[i];

    for b in 0..LANES {
        let pi = weights[b];
        let log_eta = -dist2[b] * inputs.inv2tau;
        let eta = exp_nonpositive(log_eta);
        // R_i >= w_i > 0, so the logarithm and the ratios stay finite even
        // where eta underflows to 0.
        let denom_i = eta + r_i;
        lanes.loss[b] += pi * (ln_positive(denom_i) - log_eta);
        if GRADIENT {
            // One division gives both ratios. Both denominators lie in
            // [min(R), 2], so their product neither overflows nor underflows.
            let denom_j = eta + r_partner[b];
            let pi_over_product = pi / (denom_i * denom_j);
            let q_ij = pi_over_product * denom_j;
            let q_ji = pi_over_product * denom_i;
            lanes.q[b] += q_ij;
            let coef = 2.0 * pi - (q_ij + q_ji) * eta;
            for c in 0..K {
                lanes.gradient[c][b] += coef * d[c][b];
            }
        } else {
            lanes.q[b] += pi / denom_i;
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
    let coords: [&[f64]; K] = std::array::from_fn(|c| coords[c].as_slice());
    let avx2 = avx2_available();
    let with_moment = |i: usize, sum: &mut f64, moment: &mut [f64]| {
        let (s, m) = gauss_row_dispatch::<K, true>(avx2, &coords, weights, inv2tau, i);
        *sum = s;
        moment.copy_from_slice(&m);
    };
    let without_moment = |i: usize, sum: &mut f64| {
        *sum = gauss_row_dispatch::<K, false>(avx2, &coords, weights, inv2tau, i).0;
    };

    match (moments, par) {
        (Some(mom), Parallelism::Rayon) => sums
            .par_iter_mut()
            .zip(mom.par_chunks_mut(K))
            .enumerate()
            .for_each(|(i, (s, m))| with_moment(i, s, m)),
        (Some(mom), Parallelism::Sequential) => sums
            .iter_mut()
            .zip(mom.chunks_mut(K))
            .enumerate()
            .for_each(|(i, (s, m))| with_moment(i, s, m)),
        (None, Parallelism::Rayon) => sums
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, s)| without_moment(i, s)),
        (None, Parallelism::Sequential) => sums
            .iter_mut()
            .enumerate()
            .for_each(|(i, s)| without_moment(i, s)),
    }
}

fn gauss_row_dispatch<const K: usize, const MOMENT: bool>(
    avx2: bool,
    coords: &[&[f64]; K],
    weights: &[f64],
    inv2tau: f64,
    i: usize,
) -> (f64, [f64; K]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reported AVX2.
        return unsafe { gauss_row_avx2::<K, MOMENT>(coords, weights, inv2tau, i) };
    }
    let _ = avx2;
    gauss_row::<K, MOMENT>(coords, weights, inv2tau, i)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn gauss_row_avx2<const K: usize, const MOMENT: bool>(
    coords: &[&[f64]; K],
    weights: &[f64],
    inv2tau: f64,
    i: usize,
) -> (f64, [f64; K]) {
    gauss_row::<K, MOMENT>(coords, weights, inv2tau, i)
}

/// Row i of the Gauss transform: the sum and (with `MOMENT`) the moment.
/// The columns are taken in chunks of `LANES`; the last chunk is padded with
/// copies of z_i at weight 0, which add exact zeros.
#[inline(always)]
fn gauss_row<const K: usize, const MOMENT: bool>(
    coords: &[&[f64]; K],
    weights: &[f64],
    inv2tau: f64,
    i: usize,
) -> (f64, [f64; K]) {
    let n = weights.len();
    let zi: [f64; K] = std::array::from_fn(|c| coords[c][i]);
    let mut sums = [0.0; LANES];
    let mut moments = [[0.0; LANES]; K];

    let full = n - n % LANES;
    for start in (0..full).step_by(LANES) {
        let end = start + LANES;
        let w: &[f64; LANES] = weights[start..end]
            .try_into()
            .expect("chunk of LANES weights");
        let columns: [&[f64; LANES]; K] = std::array::from_fn(|c| {
            coords[c][start..end]
                .try_into()
                .expect("chunk of LANES coordinates")
        });
        gauss_chunk::<K, MOMENT>(&zi, &columns, w, inv2tau, &mut sums, &mut moments);
    }
    if full < n {
        let tail = n - full;
        let mut w = [0.0; LANES];
        w[..tail].copy_from_slice(&weights[full..]);
        let mut padded = [[0.0; LANES]; K];
        for c in 0..K {
            padded[c] = [zi[c]; LANES];
            padded[c][..tail].copy_from_slice(&coords[c][full..]);
        }
        let columns: [&[f64; LANES]; K] = std::array::from_fn(|c| &padded[c]);
        gauss_chunk::<K, MOMENT>(&zi, &columns, &w, inv2tau, &mut sums, &mut moments);
    }

    let mut moment = [0.0; K];
    for c in 0..K {
        moment[c] = sum_lanes(&moments[c]);
    }
    (sum_lanes(&sums), moment)
}

#[inline(always)]
fn gauss_chunk<const K: usize, const MOMENT: bool>(
    zi: &[f64; K],
    columns: &[&[f64; LANES]; K],
    weights: &[f64; LANES],
    inv2tau: f64,
    sums: &mut [f64; LANES],
    moments: &mut [[f64; LANES]; K],
) {
    let mut d = [[0.0; LANES]; K];
    let mut dist2 = [0.0; LANES];
    for c in 0..K {
        for b in 0..LANES {
            d[c][b] = zi[c] - columns[c][b];
            dist2[b] += d[c][b] * d[c][b];
        }
    }
    for b in 0..LANES {
        let e = weights[b] * exp_nonpositive(-dist2[b] * inv2tau);
        sums[b] += e;
        if MOMENT {
            for c in 0..K {
                moments[c][b] += e * d[c][b];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a dense symmetric pi with distinct entries, summing to 1.
    fn uneven_pairs(n: usize) -> PositivePairs {
        let mut dense = vec![0.0; n * n];
        for j in 0..n {
            for k in 0..n {
                dense[j * n + k] = 1.0 + ((j * k) % 7) as f64 + (j + k) as f64 * 0.01;
            }
        }
        let total: f64 = dense.iter().sum();
        dense.iter_mut().for_each(|v| *v /= total);
        PositivePairs::from_dense(n, &dense).unwrap()
    }

    /// The AVX2 copies of the row kernels must return the same bits as the
    /// portable copies, or results would depend on the CPU.
    #[test]
    fn avx2_kernels_match_portable_bits() {
        if !avx2_available() {
            return;
        }
        // 37 particles, so every row ends in a padded chunk.
        let n = 37;
        let pairs = uneven_pairs(n);
        let coords: Vec<Vec<f64>> = (0..3)
            .map(|c| {
                (0..n)
                    .map(|i| ((i * (c + 3)) % 11) as f64 * 0.13 - 0.6)
                    .collect()
            })
            .collect();
        let coords: [&[f64]; 3] = std::array::from_fn(|c| coords[c].as_slice());
        let weights = pairs.view_weights();
        let inv2tau = 0.5 / 0.2;
        let r: Vec<f64> = (0..n)
            .map(|i| gauss_row::<3, false>(&coords, weights, inv2tau, i).0)
            .collect();
        let inputs = PairInputs::<3> {
            coords,
            r: &r,
            pairs: &pairs,
            per_node: 1,
            pair_scale: 1.0,
            inv2tau,
        };

        for i in 0..n {
            let portable = gauss_row::<3, true>(&coords, weights, inv2tau, i);
            // SAFETY: avx2_available() returned true above.
            let avx2 = unsafe { gauss_row_avx2::<3, true>(&coords, weights, inv2tau, i) };
            assert_eq!(
                portable.0.to_bits(),
                avx2.0.to_bits(),
                "Gauss sum of row {i}"
            );
            for c in 0..3 {
                assert_eq!(
                    portable.1[c].to_bits(),
                    avx2.1[c].to_bits(),
                    "Gauss moment {c} of row {i}"
                );
            }

            let portable = pair_row::<3, true>(&inputs, i);
            // SAFETY: avx2_available() returned true above.
            let avx2 = unsafe { pair_row_avx2::<3, true>(&inputs, i) };
            assert_eq!(
                portable.loss.to_bits(),
                avx2.loss.to_bits(),
                "pair loss of row {i}"
            );
            assert_eq!(portable.q.to_bits(), avx2.q.to_bits(), "q of row {i}");
            for c in 0..3 {
                assert_eq!(
                    portable.gradient[c].to_bits(),
                    avx2.gradient[c].to_bits(),
                    "pair gradient {c} of row {i}"
                );
            }
        }
    }
}
