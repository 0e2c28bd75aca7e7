//! Speed of one evaluation of `ContrastiveEnergy::loss_and_gradient`.
//!
//! Cases: N = 1000 and 4000 particles (one per node), latent dimension 1 and 3,
//! with a dense random pi (N^2 stored pairs) and with a sparse pi of about 31
//! stored entries per row. The dense case measures the two all-pairs Gauss
//! transforms plus an N^2 pass over pi; the sparse case measures mainly the
//! Gauss transforms. Criterion reports throughput as particle pairs (N^2) per
//! second. After the Criterion run, a plain timing loop prints seconds per
//! gradient and pairs per second as a table (skipped under
//! `cargo test --benches`).
//!
//! Run with `cargo bench --bench gradient`.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use clflow_solvers::{ContrastiveEnergy, EnergyWorkspace, Parallelism, PositivePairs};
use criterion::{BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 2] = [1000, 4000];
const DIMS: [usize; 2] = [1, 3];
const TAU: f64 = 0.5;
/// Random partners per node in the sparse pi; mirroring doubles them.
const SPARSE_NEIGHBOURS: usize = 15;
/// Minimum wall time of each row of the plain timing table.
const TABLE_TIME: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum PairsKind {
    Dense,
    Sparse,
}

impl PairsKind {
    fn label(self) -> &'static str {
        match self {
            PairsKind::Dense => "dense_pi",
            PairsKind::Sparse => "sparse_pi",
        }
    }

    fn build(self, n: usize) -> PositivePairs {
        match self {
            PairsKind::Dense => support::dense_pairs(n, 1),
            PairsKind::Sparse => support::sparse_pairs(n, SPARSE_NEIGHBOURS, 1),
        }
    }
}

/// Inputs and buffers of one benchmark case.
struct Case {
    pairs: PositivePairs,
    features: Vec<f64>,
    gradient: Vec<f64>,
    workspace: EnergyWorkspace,
    dim: usize,
}

impl Case {
    fn new(kind: PairsKind, n: usize, dim: usize) -> Self {
        Case {
            pairs: kind.build(n),
            features: support::random_values(n * dim, 1.0, 2),
            gradient: vec![0.0; n * dim],
            workspace: EnergyWorkspace::default(),
            dim,
        }
    }

    /// Runs one loss-and-gradient evaluation and returns the loss.
    fn evaluate(&mut self) -> f64 {
        let energy =
            ContrastiveEnergy::new(&self.pairs, TAU, 1, self.dim).expect("valid energy parameters");
        energy
            .loss_and_gradient(
                black_box(&self.features),
                &mut self.gradient,
                Parallelism::Rayon,
                &mut self.workspace,
            )
            .expect("matching array sizes")
    }
}

fn bench_gradient(c: &mut Criterion) {
    for kind in [PairsKind::Dense, PairsKind::Sparse] {
        let mut group = c.benchmark_group(format!("loss_and_gradient/{}", kind.label()));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        for n in SIZES {
            for dim in DIMS {
                let mut case = Case::new(kind, n, dim);
                group.throughput(Throughput::Elements((n * n) as u64));
                group.bench_function(BenchmarkId::new(format!("k{dim}"), n), |b| {
                    b.iter(|| black_box(case.evaluate()))
                });
            }
        }
        group.finish();
    }
}

/// Times repeated evaluations for at least `TABLE_TIME` and prints the
/// median and the minimum seconds per gradient, and particle pairs per second
/// at the median. The minimum is the figure least disturbed by other load on
/// the machine.
fn print_table() {
    println!();
    println!(
        "loss_and_gradient, Parallelism::Rayon, {} rayon threads",
        rayon::current_num_threads()
    );
    println!(
        "{:<10} {:>5} {:>2} {:>6} {:>12} {:>12} {:>12}",
        "pi", "N", "k", "runs", "median s", "min s", "pairs/s"
    );
    for kind in [PairsKind::Dense, PairsKind::Sparse] {
        for n in SIZES {
            for dim in DIMS {
                let mut case = Case::new(kind, n, dim);
                black_box(case.evaluate());
                let mut seconds = Vec::new();
                let start = Instant::now();
                while seconds.len() < 5 || start.elapsed() < TABLE_TIME {
                    let run = Instant::now();
                    black_box(case.evaluate());
                    seconds.push(run.elapsed().as_secs_f64());
                }
                seconds.sort_by(f64::total_cmp);
                let median = seconds[seconds.len() / 2];
                println!(
                    "{:<10} {:>5} {:>2} {:>6} {:>12.4e} {:>12.4e} {:>12.3e}",
                    kind.label(),
                    n,
                    dim,
                    seconds.len(),
                    median,
                    seconds[0],
                    (n * n) as f64 / median
                );
            }
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_gradient(&mut criterion);
    criterion.final_summary();

    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // there the table would only cost time.
    if std::env::args().any(|arg| arg == "--bench") {
        print_table();
    }
}
