//! The augmentation operator of a data set: augmentation Markov matrix A,
//! positive-pair matrix pi, view weights w and the eigenpairs of
//! P = diag(w)^-1 pi.
//!
//! ```text
//! A_ij  = mu_j k(x_i, x_j) / sum_l mu_l k(x_i, x_l)      (a view of x_i lands on x_j)
//! pi_jk = sum_i mu_i A_ij A_ik                           (two views of one sample)
//! w_j   = sum_k pi_jk,   S = diag(w)^-1/2 pi diag(w)^-1/2,   phi = diag(w)^-1/2 u
//! ```
//! S is symmetric positive semidefinite with top eigenvalue 1 and
//! eigenvector sqrt(w), so the phi_i are w-orthonormal and P phi_i = lambda_i phi_i.

use faer::{Mat, Par, Side};
use rayon::prelude::*;

use clflow_solvers::PositivePairs;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::scenario::Scenario;

/// Largest N for a dense kernel and for the eigensolver: the N x N matrices
/// A, pi and S take 200 MB each at this size, and the full
/// eigendecomposition about 10 s on two cores (an estimate from the O(N^3)
/// scaling of faer's 2000-node time).
pub const DENSE_LIMIT: usize = 5000;

/// Tolerance on the eigenpair residual |S u - lambda u| and on the
/// w-orthonormality of the phi_i. A failure means a solver problem, not an input problem.
const EIGEN_TOLERANCE: f64 = 1e-8;

/// Gaussian augmentation kernel exp(-(x - x')^T C^-1 (x - x') / 2) with
/// covariance C = s_u^2 u u^T + s^2 I (u a unit vector; s_u = 0 for isotropic).
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentationKernel {
    /// Isotropic scale s, in data units.
    pub scale: f64,
    /// Unit direction u of the extra shift and its scale s_u.
    pub shift: Option<(Vec<f64>, f64)>,
    /// Number of nearest neighbours kept per node (self included); None for dense.
    pub knn: Option<usize>,
}

impl AugmentationKernel {
    /// Quadratic form (x - x')^T C^-1 (x - x') via Sherman-Morrison:
    /// C^-1 = s^-2 [ I - s_u^2 / (s^2 + s_u^2) u u^T ].
    pub fn mahalanobis2(&self, a: &[f64], b: &[f64]) -> f64 {
        let s2 = self.scale * self.scale;
        let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        match &self.shift {
            None => d2 / s2,
            Some((u, su)) => {
                let along: f64 = a
                    .iter()
                    .zip(b)
                    .zip(u)
                    .map(|((x, y), uc)| (x - y) * uc)
                    .sum();
                let su2 = su * su;
                (d2 - su2 / (s2 + su2) * along * along) / s2
            }
        }
    }

    pub fn evaluate(&self, a: &[f64], b: &[f64]) -> f64 {
        (-0.5 * self.mahalanobis2(a, b)).exp()
    }
}

/// Spectral summary of an augmentation design.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpectrumDiagnostics {
    /// Dimension K of the eigenspace used for alignment.
    pub k: usize,
    /// Mass of pi on pairs of different classes (None without labels).
    pub leakage: Option<f64>,
    /// Spectral gap lambda_K - lambda_{K+1}.
    pub gap: f64,
    /// Mixing lambda_{K+1}.
    pub mixing: f64,
}

/// The augmentation operator of one data set.
#[derive(Debug, Clone)]
pub struct AugmentationOperator {
    pub kernel: AugmentationKernel,
    /// Positive-pair matrix pi (with the view weights).
    pub pairs: PositivePairs,
    /// Top eigenvalues of P, descending.
    pub eigenvalues: Vec<f64>,
    /// Matching eigenfunctions phi_i, w-orthonormal, one Vec of length N each.
    pub eigenvectors: Vec<Vec<f64>>,
}

impl AugmentationOperator {
    /// Builds the kernel of a scenario (resolving a relative scale on the data),
    /// pi, w and `eigenpairs` top eigenpairs.
    pub fn build(scenario: &Scenario, data: &Dataset, eigenpairs: usize) -> Result<Self> {
        let kernel = kernel_from_scenario(scenario, data)?;
        let pairs = positive_pairs(&kernel, data, &scenario.path.display().to_string())?;
        let (eigenvalues, eigenvectors) = top_eigenpairs(&pairs, eigenpairs.min(data.len()))?;
        Ok(AugmentationOperator {
            kernel,
            pairs,
            eigenvalues,
            eigenvectors,
        })
    }

    pub fn view_weights(&self) -> &[f64] {
        self.pairs.view_weights()
    }

    /// Leakage, gap and mixing for an alignment dimension K.
    pub fn diagnostics(&self, k: usize, labels: Option<&[usize]>) -> SpectrumDiagnostics {
        let lambda = |i: usize| self.eigenvalues.get(i).copied().unwrap_or(f64::NAN);
        let leakage = labels.map(|y| {
            let mut total = 0.0;
            for j in 0..self.pairs.n() {
                let (cols, vals) = self.pairs.row(j);
                for (&c, &v) in cols.iter().zip(vals) {
                    if y[j] != y[c] {
                        total += v;
                    }
                }
            }
            total
        });
        SpectrumDiagnostics {
            k,
            leakage,
            gap: lambda(k - 1) - lambda(k),
            mixing: lambda(k),
        }
    }
}

/// Resolves the scenario's `[augmentation]` into a kernel.
pub fn kernel_from_scenario(scenario: &Scenario, data: &Dataset) -> Result<AugmentationKernel> {
    let spec = &scenario.augmentation;
    let file = scenario.path.display().to_string();
    let scale = match (spec.scale, spec.relative_scale) {
        (Some(s), _) => s,
        (None, relative) => {
            let rank = spec.scale_neighbour.unwrap_or(10);
            if rank >= data.len() {
                return Err(Error::input(
                    &file,
                    "augmentation.scale_neighbour",
                    format!(
                        "neighbour rank {rank} needs more than {} data points",
                        data.len()
                    ),
                    "lower scale_neighbour or set an absolute scale",
                ));
            }
            let median = median_neighbour_distance(data, rank);
            if median <= 0.0 {
                return Err(Error::input(
                    &file,
                    "augmentation.relative_scale",
                    format!("the median distance to the {rank}th neighbour is {median}"),
                    "the data hold many duplicate points; set an absolute scale",
                ));
            }
            relative.unwrap_or(1.0) * median
        }
    };
    let shift = match (&spec.direction, spec.direction_scale) {
        (Some(u), Some(su)) => {
            if u.len() != data.dim {
                return Err(Error::input(
                    &file,
                    "augmentation.direction",
                    format!(
                        "direction has {} components, the data have d = {}",
                        u.len(),
                        data.dim
                    ),
                    "give one component per data coordinate",
                ));
            }
            let norm = u.iter().map(|a| a * a).sum::<f64>().sqrt();
            Some((u.iter().map(|a| a / norm).collect(), su))
        }
        _ => None,
    };
    let n = data.len();
    if n > DENSE_LIMIT {
        return Err(Error::input(
            &file,
            "data",
            format!(
                "N = {n} data points exceed the limit {DENSE_LIMIT} of the dense augmentation operator"
            ),
            "subsample the data (data.subsample for files, fewer points_per_class for generators); augmentation.knn makes pi sparse but the eigensolver is still dense",
        ));
    }
    Ok(AugmentationKernel {
        scale,
        shift,
        knn: spec.knn.map(|k| k.min(n)),
    })
}

/// Median over nodes of the Euclidean distance to the `rank`-th nearest
/// other node. Uses at most 2000 evenly spaced query nodes.
pub fn median_neighbour_distance(data: &Dataset, rank: usize) -> f64 {
    let n = data.len();
    let stride = n.div_ceil(2000).max(1);
    let mut distances: Vec<f64> = (0..n)
        .into_par_iter()
        .step_by(stride)
        .map(|i| {
            let mut d: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    data.point(i)
                        .iter()
                        .zip(data.point(j))
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
                })
                .collect();
            let (_, kth, _) = d.select_nth_unstable_by(rank - 1, f64::total_cmp);
            kth.sqrt()
        })
        .collect();
    distances.sort_by(f64::total_cmp);
    let m = distances.len();
    if m % 2 == 1 {
        distances[m / 2]
    } else {
        0.5 * (distances[m / 2 - 1] + distances[m / 2])
    }
}

/// Rows of A as (column, value) lists, sorted by column.
fn markov_rows(kernel: &AugmentationKernel, data: &Dataset) -> Vec<Vec<(usize, f64)>> {
    let n = data.len();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut row: Vec<(usize, f64)> = (0..n)
                .map(|j| (j, kernel.mahalanobis2(data.point(i), data.point(j))))
                .collect();
            if let Some(k) = kernel.knn {
                // Self has distance 0, so it is always among the k nearest.
                row.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                row.truncate(k);
                row.sort_by_key(|e| e.0);
            }
            // exp(-q/2) relative to the nearest entry so a row never underflows to 0.
            let q_min = row.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
            let mut total = 0.0;
            for e in row.iter_mut() {
                e.1 = data.weights[e.0] * (-0.5 * (e.1 - q_min)).exp();
                total += e.1;
            }
            row.iter_mut().for_each(|e| e.1 /= total);
            row
        })
        .collect()
}

/// Builds pi = A^T diag(mu) A from the kernel, dense through a faer product
/// or sparse through per-node outer products when k-NN truncated.
pub fn positive_pairs(
    kernel: &AugmentationKernel,
    data: &Dataset,
    file: &str,
) -> Result<PositivePairs> {
    let n = data.len();
    let rows = markov_rows(kernel, data);

    let pairs = if kernel.knn.is_none() {
        let b = Mat::<f64>::from_fn(n, n, |i, j| rows[i][j].1 * data.weights[i].sqrt());
        let mut pi = Mat::<f64>::zeros(n, n);
        faer::linalg::matmul::matmul(
            pi.as_mut(),
            faer::Accum::Replace,
            b.transpose(),
            b.as_ref(),
            1.0,
            Par::Seq,
        );
        // Symmetrise exactly: the product is symmetric up to rounding.
        let mut dense = vec![0.0; n * n];
        for j in 0..n {
            for k in 0..n {
                dense[j * n + k] = 0.5 * (pi[(j, k)] + pi[(k, j)]);
            }
        }
        PositivePairs::from_dense(n, &dense)
    } else {
        let mut triplets: Vec<(usize, usize, f64)> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            for &(j, a) in row {
                for &(k, b) in row {
                    triplets.push((j, k, data.weights[i] * a * b));
                }
            }
        }
        triplets.sort_unstable_by_key(|t| (t.0, t.1));
        let mut merged: Vec<(usize, usize, f64)> = Vec::with_capacity(triplets.len());
        for (j, k, v) in triplets {
            match merged.last_mut() {
                Some(last) if last.0 == j && last.1 == k => last.2 += v,
                _ => merged.push((j, k, v)),
            }
        }
        let mut row_start = vec![0usize; n + 1];
        for &(j, _, _) in &merged {
            row_start[j + 1] += 1;
        }
        for j in 0..n {
            row_start[j + 1] += row_start[j];
        }
        let columns = merged.iter().map(|e| e.1).collect();
        let values = merged.iter().map(|e| e.2).collect();
        PositivePairs::from_csr(n, row_start, columns, values)
    };
    pairs.map_err(|e| {
        Error::input(
            file,
            "augmentation",
            format!("invalid positive-pair matrix: {e}"),
            "check the augmentation scale; a scale far below the point spacing isolates every node",
        )
    })
}

/// The symmetric form S = diag(w)^-1/2 pi diag(w)^-1/2, applied through pi.
#[derive(Debug)]
struct SymmetricForm<'a> {
    pairs: &'a PositivePairs,
    inv_sqrt_w: Vec<f64>,
}

impl SymmetricForm<'_> {
    fn apply_vec(&self, x: &[f64], y: &mut [f64]) {
        for (j, yj) in y.iter_mut().enumerate() {
            let (cols, vals) = self.pairs.row(j);
            let sum: f64 = cols
                .iter()
                .zip(vals)
                .map(|(&k, &v)| v * self.inv_sqrt_w[k] * x[k])
                .sum();
            *yj = self.inv_sqrt_w[j] * sum;
        }
    }
}

/// Computes the `count` largest eigenpairs of P = diag(w)^-1 pi, descending,
/// with phi_i = diag(w)^-1/2 u_i w-orthonormal and the sign fixed so that the
/// largest-magnitude entry of each phi_i is positive.
///
/// Full dense decomposition, so at most `DENSE_LIMIT` nodes.
/// Every pair is checked: residual |S u - lambda u| and w-orthonormality
/// below 1e-8, otherwise an error.
pub fn top_eigenpairs(pairs: &PositivePairs, count: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let n = pairs.n();
    let count = count.min(n);
    let w = pairs.view_weights();
    let form = SymmetricForm {
        pairs,
        inv_sqrt_w: w.iter().map(|v| 1.0 / v.sqrt()).collect(),
    };

    if n > DENSE_LIMIT {
        return Err(Error::Numerical(format!(
            "N = {n} exceeds the dense eigensolver limit {DENSE_LIMIT}"
        )));
    }
    // NOTE: a full dense decomposition, O(N^3); a partial Krylov solver for
    // large sparse operators would replace this call. faer 0.24's
    // partial_self_adjoint_eigen looped without end on a k-NN operator with
    // many near-disconnected blocks, so it is not used.
    let mut s = Mat::<f64>::zeros(n, n);
    for j in 0..n {
        let (cols, vals) = pairs.row(j);
        for (&k, &v) in cols.iter().zip(vals) {
            s[(j, k)] = v * form.inv_sqrt_w[j] * form.inv_sqrt_w[k];
        }
    }
    let evd = s.self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::Numerical(format!(
            "eigendecomposition of the augmentation operator failed: {e:?}"
        ))
    })?;
    let u = evd.U();
    let lambda = evd.S().column_vector();
    let (values, vectors): (Vec<f64>, Vec<Vec<f64>>) = (0..count)
        .map(|r| {
            let idx = n - 1 - r;
            (lambda[idx], (0..n).map(|i| u[(i, idx)]).collect())
        })
        .unzip();

    let mut phis = Vec::with_capacity(count);
    let mut su = vec![0.0; n];
    for (lambda, u) in values.iter().copied().zip(vectors) {
        form.apply_vec(&u, &mut su);
        let residual = su
            .iter()
            .zip(&u)
            .map(|(a, b)| (a - lambda * b).powi(2))
            .sum::<f64>()
            .sqrt();
        if !(residual < EIGEN_TOLERANCE) {
            return Err(Error::Numerical(format!(
                "eigenpair residual {residual:e} for lambda = {lambda} exceeds {EIGEN_TOLERANCE:e}"
            )));
        }
        let mut phi: Vec<f64> = u.iter().zip(&form.inv_sqrt_w).map(|(a, b)| a * b).collect();
        let largest = phi
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if largest < 0.0 {
            phi.iter_mut().for_each(|v| *v = -*v);
        }
        phis.push(phi);
    }
    for a in 0..phis.len() {
        for b in 0..=a {
            let inner: f64 = (0..n).map(|i| w[i] * phis[a][i] * phis[b][i]).sum();
            let expected = if a == b { 1.0 } else { 0.0 };
            if (inner - expected).abs() > EIGEN_TOLERANCE {
                return Err(Error::Numerical(format!(
                    "eigenfunctions {a} and {b} have w-inner product {inner}, expected {expected}"
                )));
            }
        }
    }
    Ok((values, phis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn blobs(n_per_class: usize, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for class in 0..3 {
            for _ in 0..n_per_class {
                x.push(2.0 * class as f64 + rng.random_range(-0.5..0.5));
                x.push(rng.random_range(-0.5..0.5));
                labels.push(class);
            }
        }
        let n = labels.len();
        let mut weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        Dataset {
            x,
            dim: 2,
            weights,
            labels: Some(labels),
            class_names: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    fn kernel(scale: f64, knn: Option<usize>) -> AugmentationKernel {
        AugmentationKernel {
            scale,
            shift: None,
            knn,
        }
    }

    #[test]
    fn pairs_symmetric_and_normalised() {
        let data = blobs(30, 1);
        let pairs = positive_pairs(&kernel(0.4, None), &data, "t").unwrap();
        let n = data.len();
        let mut total = 0.0;
        for j in 0..n {
            for k in 0..n {
                assert_eq!(pairs.get(j, k), pairs.get(k, j));
                total += pairs.get(j, k);
            }
        }
        assert!((total - 1.0).abs() < 1e-12);
        // The x-marginal of a view is mu A, so the view weights average A against mu.
        let w = pairs.view_weights();
        assert!(w.iter().all(|v| *v > 0.0));
    }

    #[test]
    fn operator_preserves_constants_and_is_psd() {
        let data = blobs(25, 2);
        let pairs = positive_pairs(&kernel(0.5, None), &data, "t").unwrap();
        let n = data.len();
        let ones = vec![1.0; n];
        let mut pi_one = vec![0.0; n];
        pairs.apply(&ones, &mut pi_one);
        for (j, v) in pi_one.iter().enumerate() {
            // (P 1)_j = (pi 1)_j / w_j = 1.
            assert!((v / pairs.view_weights()[j] - 1.0).abs() < 1e-12);
        }
        let (values, _) = top_eigenpairs(&pairs, n).unwrap();
        assert!(
            (values[0] - 1.0).abs() < 1e-10,
            "top eigenvalue {}",
            values[0]
        );
        assert!(
            values.iter().all(|v| *v > -1e-12),
            "smallest {}",
            values[n - 1]
        );
        assert!(values.windows(2).all(|p| p[0] >= p[1]));
    }

    #[test]
    fn eigenfunctions_are_w_orthonormal() {
        let data = blobs(20, 3);
        let pairs = positive_pairs(&kernel(0.3, None), &data, "t").unwrap();
        let (values, phis) = top_eigenpairs(&pairs, 6).unwrap();
        let w = pairs.view_weights();
        for a in 0..6 {
            for b in 0..6 {
                let inner: f64 = (0..data.len())
                    .map(|i| w[i] * phis[a][i] * phis[b][i])
                    .sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!(
                    (inner - expected).abs() < 1e-10,
                    "<phi_{a}, phi_{b}>_w = {inner}"
                );
            }
            // P phi = lambda phi, with P = diag(w)^-1 pi.
            let mut p_phi = vec![0.0; data.len()];
            pairs.apply(&phis[a], &mut p_phi);
            for i in 0..data.len() {
                assert!((p_phi[i] / w[i] - values[a] * phis[a][i]).abs() < 1e-8);
            }
        }
        // Three well separated blobs: three eigenvalues near 1, then a gap.
        assert!(values[2] > 0.95, "{values:?}");
        assert!(values[3] < 0.9, "{values:?}");
    }

    #[test]
    fn full_knn_equals_dense() {
        let data = blobs(10, 4);
        let dense = positive_pairs(&kernel(0.6, None), &data, "t").unwrap();
        let knn = positive_pairs(&kernel(0.6, Some(data.len())), &data, "t").unwrap();
        for j in 0..data.len() {
            for k in 0..data.len() {
                assert!((dense.get(j, k) - knn.get(j, k)).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn shifted_kernel_ignores_shift_direction() {
        let k = AugmentationKernel {
            scale: 0.1,
            shift: Some((vec![1.0 / 2f64.sqrt(); 2], 1.0)),
            knn: None,
        };
        let along = k.mahalanobis2(&[0.0, 0.0], &[1.0, 1.0]);
        let across = k.mahalanobis2(&[0.0, 0.0], &[1.0, -1.0]);
        // Variance along u is s^2 + s_u^2 = 1.01, across it s^2 = 0.01.
        assert!((along - 2.0 / 1.01).abs() < 1e-12, "{along}");
        assert!((across - 2.0 / 0.01).abs() < 1e-9, "{across}");
    }
}
