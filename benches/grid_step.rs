//! Speed of one step of the grid JKO scheme with the contrastive potential.
//!
//! Cases: N = 1024 and 4096 nodes, each with a fiber of M_z = 256 cells on the
//! interval [-3, 3], a dense random pi, Gaussian initial fibers of standard
//! deviation 0.3 around random means in [-1, 1], temperature 0.5, no
//! diffusion, and the default `JkoOptions`. Every timed step starts from the
//! same initial fibers. The stepper is reused, so from the second step on it
//! starts from its own suggested step size (capped by `MAX_STEP`). After the
//! Criterion run, a plain timing loop prints seconds per step and the retries
//! of the last step (skipped under `cargo test --benches`).
//!
//! Run with `cargo bench --bench grid_step`.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use clflow_solvers::grid::{
    ContrastivePotential, Fibers, GridState, JkoOptions, JkoStepper, LatentGrid, StepReport,
};
use criterion::{BatchSize, BenchmarkId, Criterion};

const NODES: [usize; 2] = [1024, 4096];
const CELLS: usize = 256;
const TAU: f64 = 0.5;
const FIBER_SIGMA: f64 = 0.3;
/// Largest step size passed to `JkoStepper::step`.
const MAX_STEP: f64 = 0.01;
/// Minimum wall time of each row of the plain timing table.
const TABLE_TIME: Duration = Duration::from_secs(3);

/// A stepper and the initial state of one benchmark case.
struct Case {
    stepper: JkoStepper<ContrastivePotential>,
    initial: GridState,
}

impl Case {
    fn new(nodes: usize) -> Self {
        let grid = LatentGrid::interval(-3.0, 3.0, CELLS).expect("valid interval grid");
        let pairs = support::dense_pairs(nodes, 3);
        let means = support::random_values(nodes, 1.0, 4);
        let fibers = Fibers::gaussian(&grid, &means, FIBER_SIGMA).expect("valid Gaussian fibers");
        let potential =
            ContrastivePotential::new(grid, &pairs, TAU).expect("valid contrastive potential");
        let stepper = JkoStepper::new(potential, JkoOptions::default()).expect("valid JKO options");
        Case {
            stepper,
            initial: GridState {
                time: 0.0,
                step: 0,
                fibers,
            },
        }
    }

    /// Takes one step from the initial state and returns its report.
    fn step(&mut self) -> StepReport {
        let mut state = self.initial.clone();
        self.stepper
            .step(&mut state, MAX_STEP)
            .expect("JKO step succeeds")
    }
}

fn bench_grid_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("jko_step/contrastive_interval");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for nodes in NODES {
        let mut case = Case::new(nodes);
        let initial = case.initial.clone();
        group.bench_function(BenchmarkId::new(format!("cells{CELLS}"), nodes), |b| {
            b.iter_batched(
                || initial.clone(),
                |mut state| {
                    black_box(
                        case.stepper
                            .step(&mut state, MAX_STEP)
                            .expect("JKO step succeeds"),
                    )
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Times repeated steps for at least `TABLE_TIME` and prints the median and
/// minimum seconds per step. The timing includes cloning the initial state.
fn print_table() {
    println!();
    println!(
        "JkoStepper::step, ContrastivePotential, {} rayon threads",
        rayon::current_num_threads()
    );
    println!(
        "{:>5} {:>5} {:>5} {:>12} {:>12} {:>10} {:>8}",
        "N", "M_z", "runs", "median s", "min s", "step h", "retries"
    );
    for nodes in NODES {
        let mut case = Case::new(nodes);
        let mut report = case.step();
        let mut seconds = Vec::new();
        let start = Instant::now();
        while seconds.len() < 3 || start.elapsed() < TABLE_TIME {
            let run = Instant::now();
            report = black_box(case.step());
            seconds.push(run.elapsed().as_secs_f64());
        }
        seconds.sort_by(f64::total_cmp);
        println!(
            "{:>5} {:>5} {:>5} {:>12.4e} {:>12.4e} {:>10.3e} {:>8}",
            nodes,
            CELLS,
            seconds.len(),
            seconds[seconds.len() / 2],
            seconds[0],
            report.step_size,
            report.retries
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_grid_step(&mut criterion);
    criterion.final_summary();

    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // there the table would only cost time.
    if std::env::args().any(|arg| arg == "--bench") {
        print_table();
    }
}
