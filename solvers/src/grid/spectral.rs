//! FFT-based operators on a latent grid: convolution with a translation
//! invariant kernel and the inverse of the discrete Laplacian.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{Error, Result};
use crate::grid::latent_grid::{GridKind, LatentGrid};

/// Convolution (k * x)_a = sum_b k(a - b) x_b over the cells of a grid.
///
/// On the circle the convolution is periodic with length M_z. On the interval
/// the input is zero-padded to length 2 M_z, which contains every offset
/// -(M_z - 1)..=(M_z - 1) without wrap-around. The absolute error is a few
/// ulps of sum_b |x_b| max|k|, so outputs far below that level are noise.
#[derive(Clone)]
pub struct KernelConvolution {
    cells: usize,
    padded: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    spectrum: Vec<Complex<f64>>,
}

impl std::fmt::Debug for KernelConvolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelConvolution")
            .field("cells", &self.cells)
            .field("padded", &self.padded)
            .finish()
    }
}

impl KernelConvolution {
    /// Plans the convolution with kernel(offset), for offsets in cells.
    pub fn new(grid: &LatentGrid, kernel: impl Fn(isize) -> f64) -> Self {
        let m = grid.cells();
        let padded = match grid.kind() {
            GridKind::Interval => 2 * m,
            GridKind::Circle => m,
        };
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(padded);
        let inverse = planner.plan_fft_inverse(padded);
        let mut taps = vec![0.0; padded];
        match grid.kind() {
            GridKind::Interval => {
                for d in 0..m as isize {
                    taps[d as usize] = kernel(d);
                    if d > 0 {
                        taps[padded - d as usize] = kernel(-d);
                    }
                }
            }
            GridKind::Circle => {
                for (d, tap) in taps.iter_mut().enumerate() {
                    *tap = kernel(d as isize);
                }
            }
        }
        let mut spectrum = forward.make_output_vec();
        forward
            .process(&mut taps, &mut spectrum)
            .expect("buffers come from the plan itself");
        let scale = 1.0 / padded as f64;
        spectrum.iter_mut().for_each(|c| *c *= scale);
        KernelConvolution {
            cells: m,
            padded,
            forward,
            inverse,
            spectrum,
        }
    }

    /// Writes k * input into `output` (both of length M_z).
    pub fn apply(&self, input: &[f64], output: &mut [f64]) -> Result<()> {
        check_len("convolution input", self.cells, input.len())?;
        check_len("convolution output", self.cells, output.len())?;
        let mut signal = vec![0.0; self.padded];
        signal[..self.cells].copy_from_slice(input);
        let mut coefficients = self.forward.make_output_vec();
        self.forward
            .process(&mut signal, &mut coefficients)
            .expect("buffers come from the plan itself");
        for (c, k) in coefficients.iter_mut().zip(&self.spectrum) {
            *c *= *k;
        }
        clear_imaginary_ends(&mut coefficients, self.padded);
        self.inverse
            .process(&mut coefficients, &mut signal)
            .expect("buffers come from the plan itself");
        output.copy_from_slice(&signal[..self.cells]);
        Ok(())
    }
}

/// Inverse of the negative discrete Laplacian on zero-mean grid functions.
///
/// The operator is (-L v)_a = (2 v_a - v_{a-1} - v_{a+1}) / dx^2, periodic on
/// the circle and with mirrored ghost cells v_{-1} = v_0, v_M = v_{M-1}
/// (no-flux, cell-centred Neumann) on the interval. The interval case is
/// diagonalised by the cosine transform (DCT-II), computed here as the real
/// FFT of the even extension of length 2 M_z, on which the Neumann problem
/// becomes periodic. The mean of the right-hand side is removed and the
/// solution has zero mean.
#[derive(Clone)]
pub struct InverseLaplacian {
    cells: usize,
    extended: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    inverse_eigenvalues: Vec<f64>,
}

impl std::fmt::Debug for InverseLaplacian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InverseLaplacian")
            .field("cells", &self.cells)
            .field("extended", &self.extended)
            .finish()
    }
}

impl InverseLaplacian {
    pub fn new(grid: &LatentGrid) -> Self {
        let m = grid.cells();
        let extended = match grid.kind() {
            GridKind::Interval => 2 * m,
            GridKind::Circle => m,
        };
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(extended);
        let inverse = planner.plan_fft_inverse(extended);
        let dx = grid.spacing();
        let inverse_eigenvalues = (0..extended / 2 + 1)
            .map(|k| {
                if k == 0 {
                    return 0.0;
                }
                let s = (std::f64::consts::PI * k as f64 / extended as f64).sin();
                // Eigenvalue of -L for the Fourier mode k: 4 sin^2(pi k / n) / dx^2.
                dx * dx / (4.0 * s * s) / extended as f64
            })
            .collect();
        InverseLaplacian {
            cells: m,
            extended,
            forward,
            inverse,
            inverse_eigenvalues,
        }
    }

    /// Solves -L v = rhs - mean(rhs) for the zero-mean v.
    pub fn apply(&self, rhs: &[f64], solution: &mut [f64]) -> Result<()> {
        check_len("Poisson right-hand side", self.cells, rhs.len())?;
        check_len("Poisson solution", self.cells, solution.len())?;
        let m = self.cells;
        let mut signal = vec![0.0; self.extended];
        signal[..m].copy_from_slice(rhs);
        if self.extended == 2 * m {
            for a in 0..m {
                signal[2 * m - 1 - a] = rhs[a];
            }
        }
        let mut coefficients = self.forward.make_output_vec();
        self.forward
            .process(&mut signal, &mut coefficients)
            .expect("buffers come from the plan itself");
        for (c, g) in coefficients.iter_mut().zip(&self.inverse_eigenvalues) {
            *c *= *g;
        }
        clear_imaginary_ends(&mut coefficients, self.extended);
        self.inverse
            .process(&mut coefficients, &mut signal)
            .expect("buffers come from the plan itself");
        solution.copy_from_slice(&signal[..m]);
        Ok(())
    }
}

/// The inverse real FFT needs exactly real DC and Nyquist coefficients; the
/// products above keep them real up to rounding, which this removes.
fn clear_imaginary_ends(coefficients: &mut [Complex<f64>], len: usize) {
    coefficients[0].im = 0.0;
    if len % 2 == 0 {
        let last = coefficients.len() - 1;
        coefficients[last].im = 0.0;
    }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected != found {
        return Err(Error::SizeMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn negative_laplacian(grid: &LatentGrid, v: &[f64]) -> Vec<f64> {
        let m = v.len();
        let dx2 = grid.spacing() * grid.spacing();
        (0..m)
            .map(|a| {
                let (left, right) = match grid.kind() {
                    GridKind::Interval => (v[a.saturating_sub(1)], v[(a + 1).min(m - 1)]),
                    GridKind::Circle => (v[(a + m - 1) % m], v[(a + 1) % m]),
                };
                (2.0 * v[a] - left - right) / dx2
            })
            .collect()
    }

    #[test]
    fn inverse_laplacian_solves_poisson() {
        let mut rng = StdRng::seed_from_u64(3);
        for grid in [
            LatentGrid::interval(-1.0, 2.0, 37).unwrap(),
            LatentGrid::interval(0.0, 1.0, 64).unwrap(),
            LatentGrid::circle(50).unwrap(),
        ] {
            let m = grid.cells();
            let mut rhs: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mean = rhs.iter().sum::<f64>() / m as f64;
            rhs.iter_mut().for_each(|r| *r -= mean);
            let mut v = vec![0.0; m];
            InverseLaplacian::new(&grid).apply(&rhs, &mut v).unwrap();
            let back = negative_laplacian(&grid, &v);
            for a in 0..m {
                assert!(
                    (back[a] - rhs[a]).abs() < 1e-9,
                    "{:?} cell {a}: {} vs {}",
                    grid.kind(),
                    back[a],
                    rhs[a]
                );
            }
            assert!(v.iter().sum::<f64>().abs() < 1e-10);
        }
    }

    #[test]
    fn convolution_matches_direct_sum() {
        let mut rng = StdRng::seed_from_u64(5);
        for grid in [
            LatentGrid::interval(-2.0, 3.0, 45).unwrap(),
            LatentGrid::circle(40).unwrap(),
        ] {
            let m = grid.cells();
            let kernel = |d: isize| (-grid.kernel_squared_distance(d) / 0.6).exp();
            let conv = KernelConvolution::new(&grid, kernel);
            let x: Vec<f64> = (0..m).map(|_| rng.random_range(0.0..1.0)).collect();
            let mut out = vec![0.0; m];
            conv.apply(&x, &mut out).unwrap();
            for a in 0..m {
                let direct: f64 = (0..m).map(|b| kernel(a as isize - b as isize) * x[b]).sum();
                assert!(
                    (out[a] - direct).abs() < 1e-13,
                    "{:?} cell {a}: {} vs {direct}",
                    grid.kind(),
                    out[a]
                );
            }
        }
    }
}
