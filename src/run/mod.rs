//! One run of a scenario: assembling the problem, the time loop with its
//! observers, and the outputs written at the end.

pub mod dynamics;
pub mod observers;
pub mod summary;

use std::path::Path;
use std::time::Instant;

use clflow_solvers::LatentSpace;
use clflow_solvers::grid::{JkoOptions, LatentGrid};

use crate::augmentation::{AugmentationOperator, SpectrumDiagnostics};
use crate::data::{self, Dataset};
use crate::diagnostics::alignment::{predicted_alignment_time, spectral_alignment};
use crate::error::{Error, Result};
use crate::init::initial_features;
use crate::output::hdf5::ResultsFile;
use crate::scenario::Scenario;

use dynamics::{Dynamics, GridDynamics, ParticleDynamics, particle_options};
use observers::{
    Control, DIAGNOSTICS_COLUMNS, DiagnosticsTracker, Observer, Progress, RunEnd, Schedule,
    SnapshotStorage, StopReason, WallClock,
};
pub use summary::Summary;

/// A scenario resolved into data, augmentation operator and initial features.
pub struct Problem {
    pub scenario: Scenario,
    pub data: Dataset,
    pub operator: AugmentationOperator,
    pub space: LatentSpace,
    /// Dimension K of the alignment eigenspace.
    pub k: usize,
    /// Initial node features f_0(x_p), row-major N x k.
    pub initial: Vec<f64>,
}

impl Problem {
    /// Loads the data, builds the augmentation operator and the initial features.
    pub fn build(scenario: Scenario) -> Result<Problem> {
        let started = Instant::now();
        let data = data::load(&scenario)?;

        let file = scenario.path.display().to_string();
        if data.len() < 3 {
            return Err(Error::input(
                &file,
                "data",
                format!("only {} data points", data.len()),
                "a run needs at least 3 data points",
            ));
        }
        let k = scenario
            .diagnostics
            .k
            .unwrap_or(if data.class_count() >= 2 {
                data.class_count()
            } else {
                2
            });
        if k >= data.len() {
            return Err(Error::input(
                &file,
                "diagnostics.k",
                format!("K = {k} needs more than {} data points", data.len()),
                "lower diagnostics.k",
            ));
        }
        let eigenpairs = scenario
            .diagnostics
            .eigenpairs
            .unwrap_or((k + 10).max(20))
            .max(k + 1)
            .min(data.len());
        let operator = AugmentationOperator::build(&scenario, &data, eigenpairs)?;

        let space = LatentSpace::new(scenario.latent.space == "sphere", scenario.latent.dim)
            .map_err(|e| {
                Error::input(
                    &file,
                    "latent",
                    e.to_string(),
                    "use dim 1 to 3 (2 or 3 on the sphere)",
                )
            })?;
        let initial = initial_features(&scenario, &data, operator.kernel.scale)?;
        log::info!(
            "problem built in {:.2} s: N = {}, d = {}, classes = {}, augmentation scale {:.4}",
            started.elapsed().as_secs_f64(),
            data.len(),
            data.dim,
            data.class_count(),
            operator.kernel.scale
        );
        Ok(Problem {
            scenario,
            data,
            operator,
            space,
            k,
            initial,
        })
    }

    pub fn spectrum(&self) -> SpectrumDiagnostics {
        self.operator
            .diagnostics(self.k, self.data.labels.as_deref())
    }

    /// Alignment of the initial features and the logistic-bound prediction of t_align.
    pub fn predicted_alignment(&self) -> (f64, f64) {
        let alpha0 = spectral_alignment(
            &self.initial,
            self.space.dim(),
            self.operator.view_weights(),
            &self.operator.eigenvectors,
            self.k,
        );
        let spectrum = self.spectrum();
        let t = predicted_alignment_time(
            self.scenario.loss.tau,
            spectrum.gap,
            alpha0,
            self.scenario.diagnostics.alpha_star,
        );
        (alpha0, t)
    }

    /// Latent grid of the JKO scheme: the circle for the sphere S^1, else an
    /// interval from `grid.range` or, by default, centred on the initial
    /// means with half-width max|f_0 - centre| + 4 fiber_sigma + 6 sqrt(tau);
    /// the features spread to a few sqrt(tau) while clusters separate.
    pub fn latent_grid(&self) -> Result<LatentGrid> {
        let spec = &self.scenario.grid;
        let file = self.scenario.path.display().to_string();
        let grid = if self.space.is_sphere() {
            LatentGrid::circle(spec.cells)
        } else {
            let (lo, hi) = match spec.range {
                Some([lo, hi]) => (lo, hi),
                None => {
                    let min = self.initial.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = self
                        .initial
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max);
                    let centre = 0.5 * (min + max);
                    let half = 0.5 * (max - min)
                        + 4.0 * spec.fiber_sigma
                        + 6.0 * self.scenario.loss.tau.sqrt();
                    (centre - half, centre + half)
                }
            };
            LatentGrid::interval(lo, hi, spec.cells)
        };
        grid.map_err(|e| {
            Error::input(
                file,
                "grid",
                e.to_string(),
                "check grid.cells and grid.range",
            )
        })
    }

    /// Initial fiber means for the grid: positions on the interval, angles on the circle.
    pub fn grid_means(&self) -> Vec<f64> {
        if self.space.is_sphere() {
            self.initial
                .chunks_exact(2)
                .map(|z| z[1].atan2(z[0]).rem_euclid(2.0 * std::f64::consts::PI))
                .collect()
        } else {
            self.initial.clone()
        }
    }

    /// Particle dynamics with `per_node` particles per node.
    pub fn particle_dynamics(&self, per_node: usize) -> Result<ParticleDynamics<'_>> {
        let solver = &self.scenario.solver;
        ParticleDynamics::new(
            &self.operator.pairs,
            self.space,
            self.scenario.loss.tau,
            &self.initial,
            per_node,
            self.scenario.grid.fiber_sigma,
            particle_options(solver, self.scenario.seed),
            self.scenario.seed,
        )
    }

    /// Grid dynamics on `grid`.
    pub fn grid_dynamics(&self, grid: LatentGrid) -> Result<GridDynamics> {
        self.grid_dynamics_with_step(grid, self.scenario.grid.max_step)
    }

    /// Grid dynamics on `grid` with a largest JKO step `max_step`.
    pub fn grid_dynamics_with_step(&self, grid: LatentGrid, max_step: f64) -> Result<GridDynamics> {
        let options = JkoOptions {
            diffusion: self.scenario.solver.diffusion,
            fixed_point_iterations: self.scenario.grid.fixed_point_iterations,
            ..JkoOptions::default()
        };
        let means = self.grid_means();
        GridDynamics::new(&self.operator.pairs, grid, self.scenario.loss.tau, &means, self.scenario.grid.fiber_sigma, options, max_step).map_err(|e| match e {
            Error::Solver { source: source @ clflow_solvers::Error::InvalidParameter { .. }, .. } => Error::input(self.scenario.path.display().to_string(), "grid.fiber_sigma", source.to_string(), "use at least two latent cells per fiber standard deviation: raise grid.cells or grid.fiber_sigma"),
            other => other,
        })
    }
}

/// Tolerance for "a due time has been reached", relative to the end time.
const TIME_EPSILON: f64 = 1e-9;

/// Steps `dynamics` to `end_time`, calling each observer when it is due.
/// The step size is cut so that every `Every(dt)` observer sees t = n dt
/// exactly (up to rounding). Returns how the run ended and, for a solver
/// failure, the error; observers are finished in either case.
pub fn integrate(
    dynamics: &mut dyn Dynamics,
    observers: &mut [&mut dyn Observer],
    end_time: f64,
) -> (RunEnd, Option<Error>) {
    let eps = TIME_EPSILON * end_time.max(1.0);
    let mut counts: Vec<u64> = vec![0; observers.len()];
    let due_time = |schedule: Schedule, count: u64| match schedule {
        Schedule::Every(dt) => count as f64 * dt,
        Schedule::EveryStep => f64::NEG_INFINITY,
    };

    let mut outcome: Option<(StopReason, Option<Error>)> = None;
    'outer: loop {
        let t = dynamics.time();
        for (i, observer) in observers.iter_mut().enumerate() {
            let schedule = observer.schedule();
            if due_time(schedule, counts[i]) <= t + eps {
                match observer.observe(dynamics) {
                    Ok(Control::Continue) => {}
                    Ok(Control::Stop(reason)) => {
                        outcome = Some((reason, None));
                    }
                    Err(e) => {
                        outcome = Some((StopReason::SolverFailure, Some(e)));
                        break 'outer;
                    }
                }
                if let Schedule::Every(dt) = schedule {
                    counts[i] = ((t + eps) / dt).floor() as u64 + 1;
                }
            }
        }
        if outcome.is_some() {
            break;
        }
        if t >= end_time - eps {
            outcome = Some((StopReason::EndTime, None));
            break;
        }

        let next_due = observers
            .iter()
            .zip(&counts)
            .map(|(o, &c)| due_time(o.schedule(), c))
            .filter(|d| *d > t + eps)
            .fold(end_time, f64::min);
        if let Err(e) = dynamics.step(next_due - t) {
            let reason = match &e {
                Error::Solver {
                    source: clflow_solvers::Error::NonFinite { .. },
                    ..
                } => StopReason::NonFinite,
                _ => StopReason::SolverFailure,
            };
            outcome = Some((reason, Some(e)));
            break;
        }
    }

    let (reason, error) = outcome.unwrap_or((StopReason::EndTime, None));
    let end = RunEnd {
        reason,
        time: dynamics.time(),
        steps: dynamics.steps(),
    };
    let mut error = error;

    // A stop between due times leaves the final state unrecorded: observe it once more.
    if error.is_none() {
        let t = dynamics.time();
        for (i, observer) in observers.iter_mut().enumerate() {
            if let Schedule::Every(dt) = observer.schedule() {
                let last_observed = counts[i].saturating_sub(1) as f64 * dt;
                if counts[i] > 0 && last_observed < t - eps {
                    if let Err(e) = observer.observe(dynamics) {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
    }
    for observer in observers.iter_mut() {
        if let Err(e) = observer.finish(&end) {
            error.get_or_insert(e);
        }
    }
    (end, error)
}

/// Checks that `dir` can be created and written, before any long computation.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let fail = |message: String| Error::Output {
        path: dir.to_path_buf(),
        message,
        hint: "choose a writable folder with --out".into(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".clflow-write-test");
    std::fs::write(&probe, b"").map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Writes the root attributes, data and augmentation groups of a results file.
pub fn write_problem(file: &ResultsFile, problem: &Problem, solver: &str) -> Result<()> {
    let root = file.group("/")?;
    file.string_attr(&root, "clflow_version", env!("CARGO_PKG_VERSION"))?;
    file.string_attr(&root, "scenario", &problem.scenario.text)?;
    file.string_attr(&root, "scenario_name", &problem.scenario.display_name())?;
    file.u64_attr(&root, "seed", problem.scenario.seed)?;
    file.string_attr(&root, "solver", solver)?;
    file.f64_attr(&root, "tau", problem.scenario.loss.tau)?;
    file.string_attr(&root, "latent_space", &problem.scenario.latent.space)?;
    file.u64_attr(&root, "latent_dim", problem.space.dim() as u64)?;

    let data = &problem.data;
    let group = file.group("data")?;
    file.write_f64(
        &group,
        "x",
        &[data.len(), data.dim],
        &data.x,
        "data nodes x_i, shape N x d",
    )?;
    file.write_f64(
        &group,
        "weights",
        &[data.len()],
        &data.weights,
        "data weights mu_i, summing to 1",
    )?;
    if let Some(labels) = &data.labels {
        let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        file.write_i64(
            &group,
            "labels",
            &labels,
            "class index 0..C-1 of every node; class_names maps it to the source label",
        )?;
        file.string_attr(&group, "class_names", &data.class_names.join(","))?;
    }
    file.write_f64(
        &group,
        "initial_features",
        &[data.len(), problem.space.dim()],
        &problem.initial,
        "initial node features f_0(x_p), shape N x k",
    )?;

    let op = &problem.operator;
    let group = file.group("augmentation")?;
    let n = data.len();
    file.write_f64(
        &group,
        "view_weights",
        &[n],
        op.view_weights(),
        "view weights w_j = sum_k pi_jk",
    )?;
    file.write_f64(
        &group,
        "eigenvalues",
        &[op.eigenvalues.len()],
        &op.eigenvalues,
        "top eigenvalues of the augmentation operator P, descending",
    )?;
    let flat: Vec<f64> = (0..n)
        .flat_map(|i| op.eigenvectors.iter().map(move |phi| phi[i]))
        .collect();
    file.write_f64(&group, "eigenvectors", &[n, op.eigenvectors.len()], &flat, "eigenfunctions phi_i of P as columns, w-orthonormal, largest entry positive; shape N x n_eig")?;
    let pairs = &op.pairs;
    let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..n {
        let (c, v) = pairs.row(j);
        rows.extend(std::iter::repeat_n(j as i64, c.len()));
        cols.extend(c.iter().map(|&k| k as i64));
        vals.extend_from_slice(v);
    }
    file.write_i64(
        &group,
        "pi_rows",
        &rows,
        "row index j of each stored entry of the positive-pair matrix pi",
    )?;
    file.write_i64(
        &group,
        "pi_cols",
        &cols,
        "column index k of each stored entry of pi",
    )?;
    file.write_f64(
        &group,
        "pi_values",
        &[vals.len()],
        &vals,
        "value pi_jk of each stored entry (sparse triplets; absent entries are 0)",
    )?;
    file.f64_attr(&group, "scale", op.kernel.scale)?;
    file.u64_attr(&group, "knn", op.kernel.knn.unwrap_or(0) as u64)?;
    if let Some((direction, shift_scale)) = &op.kernel.shift {
        file.write_f64(
            &group,
            "shift_direction",
            &[direction.len()],
            direction,
            "unit direction u of the augmentation shift; covariance s_u^2 u u^T + s^2 I",
        )?;
        file.f64_attr(&group, "shift_scale", *shift_scale)?;
    }
    file.u64_attr(&group, "k", problem.k as u64)?;
    let spectrum = problem.spectrum();
    file.f64_attr(&group, "gap", spectrum.gap)?;
    file.f64_attr(&group, "mixing", spectrum.mixing)?;
    file.f64_attr(&group, "leakage", spectrum.leakage.unwrap_or(f64::NAN))?;
    file.flush()
}

/// Writes events and the stop reason as attributes of a solver group.
pub fn write_events(
    file: &ResultsFile,
    group: &str,
    events: &observers::Events,
    end: &RunEnd,
) -> Result<()> {
    let g = file.group(group)?;
    let or_nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    file.f64_attr(&g, "t_align", or_nan(events.t_align))?;
    file.f64_attr(&g, "t_sep", or_nan(events.t_sep))?;
    file.f64_attr(&g, "lag", or_nan(events.lag))?;
    file.f64_attr(&g, "alpha_at_sep", or_nan(events.alpha_at_sep))?;
    file.string_attr(&g, "stop_reason", end.reason.as_str())?;
    file.f64_attr(&g, "final_time", end.time)?;
    file.u64_attr(&g, "steps", end.steps)?;
    file.flush()
}

/// Result of one solver's time loop.
pub struct SolverRun {
    pub end: RunEnd,
    pub record: observers::DiagnosticsRecord,
    pub events: observers::Events,
    pub snapshot_times: Vec<f64>,
    pub snapshot_features: Vec<Vec<f64>>,
    pub error: Option<Error>,
}

/// Runs one discretisation with diagnostics, snapshots, progress and the
/// wall-clock limit, writing into `file` under the dynamics' label.
pub fn run_dynamics(
    problem: &Problem,
    dynamics: &mut dyn Dynamics,
    file: &ResultsFile,
    show_progress: bool,
) -> Result<SolverRun> {
    let scenario = &problem.scenario;
    let label = dynamics.label();
    let diag_series =
        file.diagnostics_series(&format!("{label}/diagnostics"), &DIAGNOSTICS_COLUMNS)?;
    let mut tracker = DiagnosticsTracker::new(
        scenario.diagnostics_interval(),
        &problem.operator.pairs,
        &problem.operator.eigenvectors,
        problem.k,
        problem.data.labels.as_deref(),
        problem.data.class_count(),
        scenario.diagnostics.alpha_star,
        &scenario.solver.stop,
        Some(diag_series),
    );
    let mut snapshots = SnapshotStorage::new(
        scenario.snapshot_interval(),
        file,
        &format!("{label}/snapshots"),
        dynamics,
    )?;
    let mut progress = Progress::new(scenario.solver.end_time, label);
    let mut wall = WallClock::new(if scenario.solver.wall_time > 0.0 {
        scenario.solver.wall_time
    } else {
        f64::INFINITY
    });

    let mut observers: Vec<&mut dyn Observer> = vec![&mut tracker, &mut snapshots, &mut wall];
    if show_progress {
        observers.push(&mut progress);
    }
    let started = Instant::now();
    let (end, error) = integrate(dynamics, &mut observers, scenario.solver.end_time);
    log::info!(
        "{label}: {} steps to t = {:.4} in {:.2} s, stopped by {}",
        end.steps,
        end.time,
        started.elapsed().as_secs_f64(),
        end.reason.as_str()
    );
    drop(observers);
    write_events(file, label, &tracker.events, &end)?;
    Ok(SolverRun {
        end,
        record: tracker.record,
        events: tracker.events,
        snapshot_times: snapshots.times,
        snapshot_features: snapshots.node_features,
        error,
    })
}
