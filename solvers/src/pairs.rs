//! The positive-pair matrix pi in compressed sparse row form.

use crate::error::{Error, Result};

/// Symmetric positive-pair matrix pi_jk >= 0 with entries summing to 1, and its
/// view weights w_j = sum_k pi_jk.
///
/// Stored as compressed rows with sorted column indices; zero entries are
/// dropped, so a k-nearest-neighbour truncated augmentation costs O(nnz).
#[derive(Debug, Clone, PartialEq)]
pub struct PositivePairs {
    n: usize,
    row_start: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f64>,
    view_weights: Vec<f64>,
}

/// Tolerance on symmetry and on the total mass of pi, relative to its largest entry.
const PAIR_TOLERANCE: f64 = 1e-10;

impl PositivePairs {
    /// Builds pi from a dense row-major n x n array.
    pub fn from_dense(n: usize, dense: &[f64]) -> Result<Self> {
        if dense.len() != n * n {
            return Err(Error::SizeMismatch {
                what: "dense positive-pair matrix",
                expected: n * n,
                found: dense.len(),
            });
        }
        let mut row_start = Vec::with_capacity(n + 1);
        let mut columns = Vec::new();
        let mut values = Vec::new();
        row_start.push(0);
        for row in dense.chunks_exact(n.max(1)).take(n) {
            for (k, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    columns.push(k);
                    values.push(v);
                }
            }
            row_start.push(columns.len());
        }
        Self::from_csr(n, row_start, columns, values)
    }

    /// Builds pi from compressed rows: row j contains `columns[row_start[j]..row_start[j+1]]`.
    /// Columns within a row must be strictly increasing.
    pub fn from_csr(
        n: usize,
        row_start: Vec<usize>,
        columns: Vec<usize>,
        values: Vec<f64>,
    ) -> Result<Self> {
        if row_start.len() != n + 1 {
            return Err(Error::SizeMismatch {
                what: "row starts of the positive-pair matrix",
                expected: n + 1,
                found: row_start.len(),
            });
        }
        if columns.len() != values.len() || row_start[n] != values.len() {
            return Err(Error::SizeMismatch {
                what: "entries of the positive-pair matrix",
                expected: row_start[n],
                found: values.len(),
            });
        }
        for j in 0..n {
            let cols = &columns[row_start[j]..row_start[j + 1]];
            if cols.windows(2).any(|c| c[0] >= c[1]) || cols.iter().any(|&c| c >= n) {
                return Err(Error::Unsupported(
                    "positive-pair rows need strictly increasing column indices below n",
                ));
            }
        }
        if let Some(&bad) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(Error::InvalidParameter {
                name: "positive-pair entry",
                value: bad,
                reason: "entries must be finite and non-negative",
            });
        }

        let view_weights: Vec<f64> = (0..n)
            .map(|j| values[row_start[j]..row_start[j + 1]].iter().sum())
            .collect();
        let pairs = PositivePairs {
            n,
            row_start,
            columns,
            values,
            view_weights,
        };
        pairs.check_invariants()?;
        Ok(pairs)
    }

    fn check_invariants(&self) -> Result<()> {
        let total: f64 = self.view_weights.iter().sum();
        let largest = self.values.iter().cloned().fold(0.0, f64::max);
        if (total - 1.0).abs() > 1e-9 {
            return Err(Error::InvalidParameter {
                name: "sum of positive-pair entries",
                value: total,
                reason: "pi must be a probability on pairs (entries summing to 1)",
            });
        }
        for j in 0..self.n {
            if self.view_weights[j] <= 0.0 {
                return Err(Error::InvalidParameter {
                    name: "view weight",
                    value: self.view_weights[j],
                    reason: "every node needs a positive view weight",
                });
            }
            let (cols, vals) = self.row(j);
            for (&k, &v) in cols.iter().zip(vals) {
                let transposed = self.get(k, j);
                if (transposed - v).abs() > PAIR_TOLERANCE * largest {
                    return Err(Error::InvalidParameter {
                        name: "asymmetry of the positive-pair matrix",
                        value: transposed - v,
                        reason: "pi must be symmetric",
                    });
                }
            }
        }
        Ok(())
    }

    /// Number of nodes N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of stored (non-zero) entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// View weights w_j = sum_k pi_jk, positive and summing to 1.
    pub fn view_weights(&self) -> &[f64] {
        &self.view_weights
    }

    /// Column indices and values of row j.
    #[inline]
    pub fn row(&self, j: usize) -> (&[usize], &[f64]) {
        let range = self.row_start[j]..self.row_start[j + 1];
        (&self.columns[range.clone()], &self.values[range])
    }

    /// Entry pi_jk (zero if not stored).
    pub fn get(&self, j: usize, k: usize) -> f64 {
        let (cols, vals) = self.row(j);
        match cols.binary_search(&k) {
            Ok(pos) => vals[pos],
            Err(_) => 0.0,
        }
    }

    /// Computes y = pi x for a vector x of length N.
    pub fn apply(&self, x: &[f64], y: &mut [f64]) {
        for (j, yj) in y.iter_mut().enumerate().take(self.n) {
            let (cols, vals) = self.row(j);
            *yj = cols.iter().zip(vals).map(|(&k, &v)| v * x[k]).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_round_trip_and_weights() {
        let dense = [0.2, 0.1, 0.0, 0.1, 0.3, 0.05, 0.0, 0.05, 0.2];
        let pairs = PositivePairs::from_dense(3, &dense).unwrap();
        assert_eq!(pairs.nnz(), 7);
        assert!((pairs.view_weights()[1] - 0.45).abs() < 1e-15);
        assert_eq!(pairs.get(0, 2), 0.0);
        assert_eq!(pairs.get(1, 2), 0.05);
    }

    #[test]
    fn rejects_asymmetric_and_unnormalised() {
        let asym = [0.3, 0.2, 0.1, 0.4];
        assert!(PositivePairs::from_dense(2, &asym).is_err());
        let heavy = [0.5, 0.25, 0.25, 0.5];
        assert!(PositivePairs::from_dense(2, &heavy).is_err());
        let negative = [0.6, -0.05, -0.05, 0.5];
        assert!(PositivePairs::from_dense(2, &negative).is_err());
    }
}
