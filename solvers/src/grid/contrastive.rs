//! Fiber potential of the lifted contrastive energy on a latent grid.
//!
//! With fibers gamma_p (cell masses m_{p,a} at cell centres u_a, midpoint
//! quadrature), nu = sum_l w_l gamma_l and R = eta * nu,
//!
//! ```text
//! E = sum_{j,k} pi_jk sum_{a,b} [ log(eta_ab + R_a) + |u_a - u_b|^2 / (2 tau) ] m_{j,a} m_{k,b},
//! Phi_p(u_a) = (1/w_p) sum_b K_ab Gmix_{p,b} + sum_b eta_ab h_b,
//! K_ab = log(eta_ab + R_a) + log(eta_ab + R_b) + |u_a - u_b|^2 / tau,
//! Gmix_p = sum_k pi_pk gamma_k,   h_b = sum_j m_{j,b} q_j(u_b),
//! q_j(u_b) = sum_c Gmix_{j,c} / (eta_bc + R_b).
//! ```
//! Because K is symmetric and pi is symmetric, E = (1/2) sum_p <gamma_p, K Gmix_p>,
//! so the energy reuses the product K Gmix. On the circle |u_a - u_b|^2 is
//! the chordal squared distance 2 - 2 cos(u_a - u_b).
//!
//! Numerics: log eta_ab = -|u_a - u_b|^2 / (2 tau) is exact, and
//! log(eta + R) is a log-sum-exp of log eta and log R, so it is finite even
//! where eta underflows. R comes from an FFT convolution, whose absolute error
//! is a few ulps of max R; cells where R < 1e-10 max R get log R recomputed
//! directly as a log-sum-exp over all cells. q_j is formed as
//! R_b q_j(u_b) = sum_c Gmix_{j,c} R_b / (eta_bc + R_b), whose factors lie in
//! (0, 1], and h_b divides by R_b only after multiplying by m_{j,b} <= R_b / w_j.

use rayon::prelude::*;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::error::{Error, Result};
use crate::grid::latent_grid::{Fibers, GridKind, LatentGrid};
use crate::grid::potential::{FiberPotential, check_fibers};
use crate::grid::spectral::KernelConvolution;
use crate::pairs::PositivePairs;

/// Cells where the FFT value of R is below this fraction of max R get log R
/// recomputed directly, because the FFT error is about 1e-16 of max R.
const DIRECT_LOG_R_THRESHOLD: f64 = 1e-10;

/// Number of fiber columns per dense product. The partition is fixed, so
/// results do not depend on the number of rayon threads.
const COLUMN_BLOCK: usize = 8;

/// Contrastive fiber potential for a positive-pair matrix and temperature.
///
/// Cost per evaluation: O(M_z^2) transcendental functions to form the two
/// dense M_z x M_z kernel matrices, two dense products with the N pi-mixed
/// fibers (O(M_z^2 N) flops) and two FFT convolutions. Memory: two
/// M_z x M_z matrices.
#[derive(Debug, Clone)]
pub struct ContrastivePotential {
    grid: LatentGrid,
    pairs: PositivePairs,
    tau: f64,
    convolution: KernelConvolution,
    /// |u_a - u_b|^2 by cell offset (interval: |a - b|; circle: (a - b) mod M_z).
    squared_distance: Vec<f64>,
    nu: Vec<f64>,
    log_r: Vec<f64>,
    r: Vec<f64>,
    h: Vec<f64>,
    eta_h: Vec<f64>,
    mixture: Vec<f64>,
    pair_kernel: Vec<f64>,
    ratio_kernel: Vec<f64>,
    product: Vec<f64>,
    scaled_q: Vec<f64>,
}

impl ContrastivePotential {
    /// Builds the potential for pairs `pairs` (N nodes) and temperature `tau > 0`.
    pub fn new(grid: LatentGrid, pairs: &PositivePairs, tau: f64) -> Result<Self> {
        if !(tau.is_finite() && tau > 0.0) {
            return Err(Error::InvalidParameter {
                name: "temperature tau",
                value: tau,
                reason: "must be positive and finite",
            });
        }
        let m = grid.cells();
        let n = pairs.n();
        let squared_distance: Vec<f64> = (0..m)
            .map(|d| grid.kernel_squared_distance(d as isize))
            .collect();
        let convolution = KernelConvolution::new(&grid, |d| {
            (-grid.kernel_squared_distance(d) / (2.0 * tau)).exp()
        });
        Ok(ContrastivePotential {
            grid,
            pairs: pairs.clone(),
            tau,
            convolution,
            squared_distance,
            nu: vec![0.0; m],
            log_r: vec![0.0; m],
            r: vec![0.0; m],
            h: vec![0.0; m],
            eta_h: vec![0.0; m],
            mixture: vec![0.0; n * m],
            pair_kernel: vec![0.0; m * m],
            ratio_kernel: vec![0.0; m * m],
            product: vec![0.0; n * m],
            scaled_q: vec![0.0; n * m],
        })
    }

    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// log R at the cell centres from the last evaluation.
    pub fn log_kernel_density(&self) -> &[f64] {
        &self.log_r
    }

    /// Fills nu, R, log R, the pi-mixtures and the product K Gmix; with
    /// `with_potential` also h and eta * h.
    fn evaluate(&mut self, fibers: &Fibers, with_potential: bool) -> Result<()> {
        let n = self.pairs.n();
        check_fibers(&self.grid, n, fibers)?;
        let m = self.grid.cells();
        let weights = self.pairs.view_weights();
        let masses = fibers.masses();

        for (b, nu) in self.nu.iter_mut().enumerate() {
            *nu = (0..n).map(|l| weights[l] * masses[l * m + b]).sum();
        }
        self.convolution.apply(&self.nu, &mut self.r)?;
        self.fill_log_r();

        let pairs = &self.pairs;
        self.mixture
            .par_chunks_mut(m)
            .enumerate()
            .for_each(|(p, mix)| {
                mix.iter_mut().for_each(|x| *x = 0.0);
                let (cols, vals) = pairs.row(p);
                for (&k, &pi) in cols.iter().zip(vals) {
                    for (x, g) in mix.iter_mut().zip(&masses[k * m..(k + 1) * m]) {
                        *x += pi * g;
                    }
                }
            });

        self.fill_kernels(with_potential);
        dense_product(m, n, &self.pair_kernel, &self.mixture, &mut self.product);
        if !with_potential {
            return Ok(());
        }

        dense_product(m, n, &self.ratio_kernel, &self.mixture, &mut self.scaled_q);
        for b in 0..m {
            self.h[b] = if self.nu[b] > 0.0 && self.r[b] > 0.0 {
                let weighted: f64 = (0..n)
                    .map(|j| masses[j * m + b] * self.scaled_q[j * m + b])
                    .sum();
                weighted / self.r[b]
            } else {
                0.0
            };
        }
        self.convolution.apply(&self.h, &mut self.eta_h)?;
        Ok(())
    }

    fn fill_log_r(&mut self) {
        let max_r = self.r.iter().cloned().fold(0.0, f64::max);
        let threshold = DIRECT_LOG_R_THRESHOLD * max_r;
        let inv2tau = 0.5 / self.tau;
        let nu = &self.nu;
        let grid = self.grid;
        let squared_distance = &self.squared_distance;
        let offset = |a: usize, b: usize| cell_offset(&grid, a, b);
        self.log_r
            .par_iter_mut()
            .zip(self.r.par_iter_mut())
            .enumerate()
            .for_each(|(a, (log_r, r))| {
                if *r >= threshold && *r > 0.0 {
                    *log_r = r.ln();
                    return;
                }
                let mut largest = f64::NEG_INFINITY;
                for (b, &v) in nu.iter().enumerate() {
                    if v > 0.0 {
                        largest = largest.max(v.ln() - squared_distance[offset(a, b)] * inv2tau);
                    }
                }
                let mut sum = 0.0;
                for (b, &v) in nu.iter().enumerate() {
                    if v > 0.0 {
                        sum += (v.ln() - squared_distance[offset(a, b)] * inv2tau - largest).exp();
                    }
                }
                *log_r = largest + sum.ln();
                *r = log_r.exp();
            });
    }

    /// Fills K (symmetric) and, with `with_ratio`, the column-major matrix
    /// B_bc = R_b / (eta_bc + R_b) stored at index c * M_z + b.
    fn fill_kernels(&mut self, with_ratio: bool) {
        let m = self.grid.cells();
        let inv2tau = 0.5 / self.tau;
        let inv_tau = 1.0 / self.tau;
        let log_r = &self.log_r;
        let squared_distance = &self.squared_distance;
        let grid = self.grid;
        let offset = |a: usize, b: usize| cell_offset(&grid, a, b);
        self.pair_kernel
            .par_chunks_mut(m)
            .enumerate()
            .for_each(|(a, column)| {
                for (b, k) in column.iter_mut().enumerate() {
                    let d2 = squared_distance[offset(a, b)];
                    let log_eta = -d2 * inv2tau;
                    *k = log_sum_exp(log_eta, log_r[a])
                        + log_sum_exp(log_eta, log_r[b])
                        + d2 * inv_tau;
                }
            });
        if with_ratio {
            self.ratio_kernel
                .par_chunks_mut(m)
                .enumerate()
                .for_each(|(c, column)| {
                    for (b, ratio) in column.iter_mut().enumerate() {
                        let log_eta = -squared_distance[offset(b, c)] * inv2tau;
                        *ratio = (log_r[b] - log_sum_exp(log_eta, log_r[b])).exp();
                    }
                });
        }
    }
}

impl FiberPotential for ContrastivePotential {
    fn grid(&self) -> &LatentGrid {
        &self.grid
    }

    fn view_weights(&self) -> &[f64] {
        self.pairs.view_weights()
    }

    fn potential(&mut self, fibers: &Fibers, out: &mut [f64]) -> Result<()> {
        let m = self.grid.cells();
        let n = self.pairs.n();
        if out.len() != n * m {
            return Err(Error::SizeMismatch {
                what: "potential output (nodes x cells)",
                expected: n * m,
                found: out.len(),
            });
        }
        self.evaluate(fibers, true)?;
        let weights = self.pairs.view_weights();
        for (p, row) in out.chunks_exact_mut(m).enumerate() {
            let inv_w = 1.0 / weights[p];
            for (a, phi) in row.iter_mut().enumerate() {
                *phi = self.product[p * m + a] * inv_w + self.eta_h[a];
            }
        }
        Ok(())
    }

    fn energy(&mut self, fibers: &Fibers) -> Result<f64> {
        self.evaluate(fibers, false)?;
        let masses = fibers.masses();
        let total: f64 = masses.iter().zip(&self.product).map(|(g, k)| g * k).sum();
        Ok(0.5 * total)
    }
}

/// Index into the table of squared distances by cell offset.
#[inline]
fn cell_offset(grid: &LatentGrid, a: usize, b: usize) -> usize {
    match grid.kind() {
        GridKind::Interval => a.abs_diff(b),
        GridKind::Circle => (a + grid.cells() - b) % grid.cells(),
    }
}

/// log(e^a + e^b) without overflow or log(0).
#[inline]
pub(crate) fn log_sum_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// out = lhs * rhs for a column-major M x M `lhs` and a column-major M x N
/// `rhs`, in fixed blocks of `COLUMN_BLOCK` columns, each block on one thread.
fn dense_product(m: usize, n: usize, lhs: &[f64], rhs: &[f64], out: &mut [f64]) {
    let lhs = MatRef::from_column_major_slice(lhs, m, m);
    let block = COLUMN_BLOCK * m;
    out[..n * m]
        .par_chunks_mut(block)
        .zip(rhs[..n * m].par_chunks(block))
        .for_each(|(out_block, rhs_block)| {
            let columns = rhs_block.len() / m;
            let rhs_block = MatRef::from_column_major_slice(rhs_block, m, columns);
            let out_block = MatMut::from_column_major_slice_mut(out_block, m, columns);
            matmul(out_block, Accum::Replace, lhs, rhs_block, 1.0, Par::Seq);
        });
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn random_pairs(n: usize, rng: &mut StdRng) -> PositivePairs {
        let mut dense = vec![0.0; n * n];
        for j in 0..n {
            for k in j..n {
                let v: f64 = rng.random_range(0.1..1.0);
                dense[j * n + k] = v;
                dense[k * n + j] = v;
            }
        }
        let total: f64 = dense.iter().sum();
        dense.iter_mut().for_each(|v| *v /= total);
        PositivePairs::from_dense(n, &dense).unwrap()
    }

    fn random_fibers(grid: &LatentGrid, n: usize, rng: &mut StdRng) -> Fibers {
        let m = grid.cells();
        let mut masses: Vec<f64> = (0..n * m).map(|_| rng.random_range(0.0..1.0)).collect();
        for fiber in masses.chunks_exact_mut(m) {
            let total: f64 = fiber.iter().sum();
            fiber.iter_mut().for_each(|x| *x /= total);
        }
        Fibers::from_masses(n, m, masses).unwrap()
    }

    /// Potential and energy straight from the formulas, with all sums direct.
    fn direct(
        grid: &LatentGrid,
        pairs: &PositivePairs,
        tau: f64,
        fibers: &Fibers,
    ) -> (Vec<f64>, f64) {
        let n = pairs.n();
        let m = grid.cells();
        let w = pairs.view_weights();
        let g = |j: usize, a: usize| fibers.fiber(j)[a];
        let d2 = |a: usize, b: usize| grid.kernel_squared_distance(a as isize - b as isize);
        let eta = |a: usize, b: usize| (-d2(a, b) / (2.0 * tau)).exp();
        let r: Vec<f64> = (0..m)
            .map(|a| {
                (0..m)
                    .map(|b| eta(a, b) * (0..n).map(|l| w[l] * g(l, b)).sum::<f64>())
                    .sum()
            })
            .collect();
        let q = |j: usize, c: usize| -> f64 {
            (0..n)
                .map(|k| {
                    pairs.get(j, k) * (0..m).map(|b| g(k, b) / (eta(c, b) + r[c])).sum::<f64>()
                })
                .sum()
        };
        let h: Vec<f64> = (0..m)
            .map(|c| (0..n).map(|j| g(j, c) * q(j, c)).sum())
            .collect();
        let mut phi = vec![0.0; n * m];
        for p in 0..n {
            for a in 0..m {
                let mut pair_term = 0.0;
                for k in 0..n {
                    for b in 0..m {
                        let integrand =
                            (eta(a, b) + r[a]).ln() + (eta(a, b) + r[b]).ln() + d2(a, b) / tau;
                        pair_term += pairs.get(p, k) * g(k, b) * integrand;
                    }
                }
                let field: f64 = (0..m).map(|c| eta(a, c) * h[c]).sum();
                phi[p * m + a] = pair_term / w[p] + field;
            }
        }
        let mut energy = 0.0;
        for j in 0..n {
            for k in 0..n {
                for a in 0..m {
                    for b in 0..m {
                        energy += pairs.get(j, k)
                            * g(j, a)
                            * g(k, b)
                            * ((eta(a, b) + r[a]).ln() + d2(a, b) / (2.0 * tau));
                    }
                }
            }
        }
        (phi, energy)
    }

    #[test]
    fn potential_matches_direct_evaluation() {
        let mut rng = StdRng::seed_from_u64(17);
        let pairs = random_pairs(4, &mut rng);
        for grid in [
            LatentGrid::interval(-1.5, 2.0, 40).unwrap(),
            LatentGrid::circle(40).unwrap(),
        ] {
            let fibers = random_fibers(&grid, 4, &mut rng);
            let tau = 0.3;
            let mut potential = ContrastivePotential::new(grid, &pairs, tau).unwrap();
            let mut phi = vec![0.0; 4 * 40];
            potential.potential(&fibers, &mut phi).unwrap();
            let energy = potential.energy(&fibers).unwrap();
            let (expected_phi, expected_energy) = direct(&grid, &pairs, tau, &fibers);
            for i in 0..phi.len() {
                assert!(
                    (phi[i] - expected_phi[i]).abs() < 1e-11 * (1.0 + expected_phi[i].abs()),
                    "{:?} entry {i}: {} vs {}",
                    grid.kind(),
                    phi[i],
                    expected_phi[i]
                );
            }
            assert!((energy - expected_energy).abs() < 1e-12 * (1.0 + expected_energy.abs()));
        }
    }

    #[test]
    fn potential_is_first_variation_of_energy() {
        let mut rng = StdRng::seed_from_u64(23);
        let pairs = random_pairs(4, &mut rng);
        for grid in [
            LatentGrid::interval(-1.0, 1.0, 40).unwrap(),
            LatentGrid::circle(40).unwrap(),
        ] {
            let m = grid.cells();
            let fibers = random_fibers(&grid, 4, &mut rng);
            // Mass-preserving perturbation that keeps the masses positive.
            let mut delta: Vec<f64> = fibers
                .masses()
                .iter()
                .map(|g| g * rng.random_range(-1.0..1.0))
                .collect();
            for (p, row) in delta.chunks_exact_mut(m).enumerate() {
                let shift: f64 = row.iter().sum();
                for (d, g) in row.iter_mut().zip(fibers.fiber(p)) {
                    *d -= shift * g;
                }
            }
            let mut potential = ContrastivePotential::new(grid, &pairs, 0.4).unwrap();
            let mut phi = vec![0.0; 4 * m];
            potential.potential(&fibers, &mut phi).unwrap();
            let w = pairs.view_weights();
            let predicted: f64 = (0..4 * m).map(|i| w[i / m] * phi[i] * delta[i]).sum();

            let eps = 1e-5;
            let shifted = |sign: f64| {
                let masses = fibers
                    .masses()
                    .iter()
                    .zip(&delta)
                    .map(|(g, d)| g + sign * eps * d)
                    .collect();
                Fibers::from_masses(4, m, masses).unwrap()
            };
            let plus = potential.energy(&shifted(1.0)).unwrap();
            let minus = potential.energy(&shifted(-1.0)).unwrap();
            let measured = (plus - minus) / (2.0 * eps);
            assert!(
                (measured - predicted).abs() < 1e-7 * (1.0 + predicted.abs()),
                "{:?}: finite difference {measured} vs first variation {predicted}",
                grid.kind()
            );
        }
    }

    #[test]
    fn log_kernel_density_stays_accurate_far_from_mass() {
        // All mass near the left end, so R at the right end is far below the FFT error of max R.
        let grid = LatentGrid::interval(0.0, 8.0, 160).unwrap();
        let n = 2;
        let pairs = PositivePairs::from_dense(n, &[0.3, 0.2, 0.2, 0.3]).unwrap();
        let fibers = Fibers::gaussian(&grid, &[0.5, 0.6], 0.15).unwrap();
        let tau = 0.05;
        let mut potential = ContrastivePotential::new(grid, &pairs, tau).unwrap();
        let mut phi = vec![0.0; n * 160];
        potential.potential(&fibers, &mut phi).unwrap();
        assert!(phi.iter().all(|v| v.is_finite()));
        let w = pairs.view_weights();
        let log_r = potential.log_kernel_density();
        for a in [100, 140, 159] {
            let terms: Vec<f64> = (0..160)
                .filter_map(|b| {
                    let nu: f64 = (0..n).map(|l| w[l] * fibers.fiber(l)[b]).sum();
                    (nu > 0.0)
                        .then(|| nu.ln() - (grid.centre(a) - grid.centre(b)).powi(2) / (2.0 * tau))
                })
                .collect();
            let largest = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let expected = largest + terms.iter().map(|t| (t - largest).exp()).sum::<f64>().ln();
            assert!(
                expected < -100.0,
                "test setup: log R = {expected} is not tiny"
            );
            assert!(
                (log_r[a] - expected).abs() < 1e-10 * expected.abs(),
                "cell {a}: log R = {} vs direct {expected}",
                log_r[a]
            );
        }
    }
}
