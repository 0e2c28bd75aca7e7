//! Random inputs shared by the benchmarks.

use clflow_solvers::PositivePairs;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Builds a dense symmetric positive-pair matrix with entries drawn from
/// [0.1, 1) and scaled to sum to 1.
pub fn dense_pairs(n: usize, seed: u64) -> PositivePairs {
    let mut rng = StdRng::seed_from_u64(seed);
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
    PositivePairs::from_dense(n, &dense).expect("dense benchmark pairs are valid")
}

/// Builds a sparse symmetric positive-pair matrix shaped like a k-nearest-neighbour
/// graph: the diagonal plus `neighbours` random partners per node, mirrored,
/// so a row stores about 2 * neighbours + 1 entries.
#[allow(
    dead_code,
    reason = "each benchmark compiles this module, and only some use every function"
)]
pub fn sparse_pairs(n: usize, neighbours: usize, seed: u64) -> PositivePairs {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows: Vec<Vec<(usize, f64)>> = (0..n).map(|j| vec![(j, 1.0)]).collect();
    for j in 0..n {
        for _ in 0..neighbours {
            let k = rng.random_range(0..n);
            let v: f64 = rng.random_range(0.1..1.0);
            rows[j].push((k, v));
            rows[k].push((j, v));
        }
    }

    let mut row_start = vec![0];
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for row in &mut rows {
        row.sort_by_key(|&(k, _)| k);
        // Repeated partners are merged by summing, which keeps the matrix
        // symmetric because both mirrored entries receive the same terms.
        for &(k, v) in row.iter() {
            if columns.len() > *row_start.last().unwrap() && *columns.last().unwrap() == k {
                *values.last_mut().unwrap() += v;
            } else {
                columns.push(k);
                values.push(v);
            }
        }
        row_start.push(columns.len());
    }
    let total: f64 = values.iter().sum();
    values.iter_mut().for_each(|v| *v /= total);
    PositivePairs::from_csr(n, row_start, columns, values)
        .expect("sparse benchmark pairs are valid")
}

/// Draws `count` values uniformly from [-scale, scale).
pub fn random_values(count: usize, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| scale * rng.random_range(-1.0..1.0))
        .collect()
}
