//! `clflow compare`: the particle method against the grid JKO scheme, from
//! the same initial fibers, with the W2 gap between them over time and a
//! refinement study.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use clflow_solvers::grid::{LatentGrid, wasserstein2_squared_particles};

use crate::commands::write_grid_coordinates;
use crate::error::{Error, Result};
use crate::output::hdf5::{DiagnosticsSeries, ResultsFile};
use crate::output::plots::{self, HeatmapPanel};
use crate::run::dynamics::{Dynamics, GridDynamics};
use crate::run::observers::{
    Control, DIAGNOSTICS_COLUMNS, DiagnosticsTracker, Observer, Progress, RunEnd, Schedule,
    SnapshotStorage, WallClock,
};
use crate::run::summary::SolverSummary;
use crate::run::{
    Problem, SolverRun, Summary, integrate, prepare_output_dir, write_events, write_problem,
};
use crate::scenario::Scenario;

/// Particles per node when the scenario keeps the default of 1: enough for a
/// W2 gap well below the fiber width, small enough for a run of minutes on
/// two cores with a few hundred nodes.
pub const DEFAULT_PARTICLES_PER_NODE: usize = 8;

/// Mean W2 distance between particle and grid fibers, weighted by the view weights:
/// sum_p w_p W2(particles of node p, grid fiber p).
pub fn mean_fiber_distance(
    grid: &LatentGrid,
    fibers: &clflow_solvers::grid::Fibers,
    positions: &[f64],
    dim: usize,
    per_node: usize,
    weights: &[f64],
) -> Result<f64> {
    let uniform = vec![1.0 / per_node as f64; per_node];
    let mut total = 0.0;
    let mut points = vec![0.0; per_node];
    for (p, w) in weights.iter().enumerate() {
        for m in 0..per_node {
            let row = &positions[(p * per_node + m) * dim..(p * per_node + m + 1) * dim];
            points[m] = if grid.is_periodic() {
                row[1].atan2(row[0]).rem_euclid(std::f64::consts::TAU)
            } else {
                row[0]
            };
        }
        let w2 = wasserstein2_squared_particles(grid, fibers.fiber(p), &points, &uniform).map_err(
            |source| Error::Solver {
                context: "W2 between particle and grid fibers".into(),
                source,
            },
        )?;
        total += w * w2.max(0.0).sqrt();
    }
    Ok(total)
}

/// Histogram of each node's particles on the grid cells, row-major N x M_z.
fn particle_histograms(
    grid: &LatentGrid,
    positions: &[f64],
    dim: usize,
    per_node: usize,
    nodes: usize,
) -> Vec<f64> {
    let cells = grid.cells();
    let mut out = vec![0.0; nodes * cells];
    for (i, row) in positions.chunks_exact(dim).enumerate() {
        let u = if grid.is_periodic() {
            row[1].atan2(row[0]).rem_euclid(std::f64::consts::TAU)
        } else {
            row[0]
        };
        let cell = ((u - grid.lower()) / grid.spacing())
            .floor()
            .clamp(0.0, (cells - 1) as f64) as usize;
        out[(i / per_node) * cells + cell] += 1.0 / per_node as f64;
    }
    out
}

/// Rows of `values` (rows x cols) reordered by `order`.
fn reorder_rows(values: &[f64], cols: usize, order: &[usize]) -> Vec<f64> {
    order
        .iter()
        .flat_map(|&p| values[p * cols..(p + 1) * cols].iter().copied())
        .collect()
}

/// Grid state captured for the fiber heat maps.
struct Capture {
    time: f64,
    grid: Vec<f64>,
    particles: Vec<f64>,
}

/// Advances the grid scheme alongside the particles and measures the gap.
struct GridFollower<'a> {
    interval: f64,
    grid: GridDynamics,
    tracker: DiagnosticsTracker<'a>,
    snapshots: SnapshotStorage,
    /// Grid snapshots follow the scenario's snapshot interval, checked at diagnostics times.
    snapshot_interval: f64,
    next_snapshot: f64,
    w2_series: DiagnosticsSeries,
    weights: &'a [f64],
    per_node: usize,
    capture_times: Vec<f64>,
    captures: Vec<Capture>,
    times: Vec<f64>,
    w2: Vec<f64>,
}

impl Observer for GridFollower<'_> {
    fn schedule(&self) -> Schedule {
        Schedule::Every(self.interval)
    }

    fn observe(&mut self, particles: &mut dyn Dynamics) -> Result<Control> {
        let t = particles.time();
        let eps = 1e-9 * t.max(1.0);
        while self.grid.time() < t - eps {
            let h = t - self.grid.time();
            self.grid.step(h)?;
        }
        self.tracker.observe(&mut self.grid)?;
        if t >= self.next_snapshot - eps {
            self.snapshots.observe(&mut self.grid)?;
            self.next_snapshot = ((t + eps) / self.snapshot_interval).floor()
                * self.snapshot_interval
                + self.snapshot_interval;
        }
        let positions = particles.snapshot();
        let dim = particles.latent_dim();
        let gap = mean_fiber_distance(
            self.grid.grid(),
            self.grid.fibers(),
            &positions,
            dim,
            self.per_node,
            self.weights,
        )?;
        self.w2_series.append(&[t, gap])?;
        self.times.push(t);
        self.w2.push(gap);
        if self
            .capture_times
            .iter()
            .any(|c| (c - t).abs() <= eps + 0.5 * self.interval)
            && self
                .captures
                .iter()
                .all(|c| (c.time - t).abs() > 0.5 * self.interval)
        {
            let nodes = self.weights.len();
            self.captures.push(Capture {
                time: t,
                grid: self.grid.fibers().masses().to_vec(),
                particles: particle_histograms(
                    self.grid.grid(),
                    &positions,
                    dim,
                    self.per_node,
                    nodes,
                ),
            });
        }
        Ok(Control::Continue)
    }

    fn finish(&mut self, end: &RunEnd) -> Result<()> {
        self.tracker.finish(end)
    }
}

/// One level of the refinement study.
#[derive(Debug, Clone, Serialize)]
pub struct RefinementLevel {
    pub cells: usize,
    pub particles_per_node: usize,
    pub jko_max_step: f64,
    /// Mean W2 gap at `time`.
    pub w2: f64,
    pub time: f64,
}

/// The comparison part of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonSummary {
    pub particles_per_node: usize,
    pub cells: usize,
    pub max_alpha_difference: f64,
    pub final_w2: f64,
    pub max_w2: f64,
    pub refinement: Vec<RefinementLevel>,
    /// log2 of the W2 ratio between consecutive levels (cells, M and the JKO
    /// step all refined by 2).
    pub observed_orders: Vec<f64>,
}

/// Advances both discretisations to `time` without output and returns the mean W2 gap.
fn gap_at(
    problem: &Problem,
    grid: LatentGrid,
    per_node: usize,
    jko_max_step: f64,
    time: f64,
) -> Result<f64> {
    let mut scenario_grid = problem.grid_dynamics_with_step(grid, jko_max_step)?;
    let mut particles = problem.particle_dynamics(per_node)?;
    while particles.time() < time - 1e-12 {
        let h = time - particles.time();
        particles.step(h)?;
    }
    while scenario_grid.time() < time - 1e-12 {
        let h = time - scenario_grid.time();
        scenario_grid.step(h)?;
    }
    mean_fiber_distance(
        scenario_grid.grid(),
        scenario_grid.fibers(),
        particles.positions(),
        particles.latent_dim(),
        per_node,
        problem.operator.view_weights(),
    )
}

/// `clflow compare`: runs particles (M per node) and the grid scheme from the
/// same initial fibers and writes compare.h5, plots and summary.json.
pub fn compare(
    scenario: Scenario,
    out: &Path,
    refine: bool,
    show_progress: bool,
) -> Result<Summary> {
    let started = Instant::now();
    let file_name = scenario.path.display().to_string();
    let sphere = scenario.latent.space == "sphere";
    if !((!sphere && scenario.latent.dim == 1) || (sphere && scenario.latent.dim == 2)) {
        return Err(Error::input(
            &file_name,
            "latent",
            format!(
                "compare needs latent R^1 or the circle, found {} dim {}",
                scenario.latent.space, scenario.latent.dim
            ),
            "set latent.dim = 1 (euclidean) or dim = 2 with space = \"sphere\"",
        ));
    }
    prepare_output_dir(out)?;
    let per_node = if scenario.solver.particles_per_node > 1 {
        scenario.solver.particles_per_node
    } else {
        log::warn!(
            "solver.particles_per_node = 1 samples no fiber; compare uses {DEFAULT_PARTICLES_PER_NODE} particles per node"
        );
        DEFAULT_PARTICLES_PER_NODE
    };
    let problem = Problem::build(scenario)?;
    let scenario = &problem.scenario;
    let grid = problem.latent_grid()?;

    let file = ResultsFile::create(&out.join("compare.h5"))?;
    write_problem(&file, &problem, "compare")?;
    write_grid_coordinates(&file, &grid)?;
    let weights = problem.operator.view_weights();

    let mut particles = problem.particle_dynamics(per_node)?;
    let grid_dynamics = problem.grid_dynamics(grid)?;
    let new_tracker = |label: &str| -> Result<DiagnosticsTracker<'_>> {
        let series =
            file.diagnostics_series(&format!("{label}/diagnostics"), &DIAGNOSTICS_COLUMNS)?;
        Ok(DiagnosticsTracker::new(
            scenario.diagnostics_interval(),
            &problem.operator.pairs,
            &problem.operator.eigenvectors,
            problem.k,
            problem.data.labels.as_deref(),
            problem.data.class_count(),
            scenario.diagnostics.alpha_star,
            "end",
            Some(series),
        ))
    };
    let mut particle_tracker = new_tracker("particles")?;
    let mut particle_snapshots = SnapshotStorage::new(
        scenario.snapshot_interval(),
        &file,
        "particles/snapshots",
        &particles,
    )?;
    let end_time = scenario.solver.end_time;
    let grid_snapshots = SnapshotStorage::new(
        scenario.snapshot_interval(),
        &file,
        "grid/snapshots",
        &grid_dynamics,
    )?;
    let w2_series = file.diagnostics_series("comparison", &[("time", "model time t of each row"), ("w2", "w-weighted mean over nodes of the exact 1-D W2 distance between the particle fiber and the grid fiber")])?;
    let mut follower = GridFollower {
        interval: scenario.diagnostics_interval(),
        grid: grid_dynamics,
        tracker: new_tracker("grid")?,
        snapshots: grid_snapshots,
        snapshot_interval: scenario.snapshot_interval(),
        next_snapshot: 0.0,
        w2_series,
        weights,
        per_node,
        capture_times: vec![0.0, end_time / 4.0, end_time / 2.0, end_time],
        captures: Vec::new(),
        times: Vec::new(),
        w2: Vec::new(),
    };
    let mut progress = Progress::new(end_time, "compare");
    let mut wall = WallClock::new(if scenario.solver.wall_time > 0.0 {
        scenario.solver.wall_time
    } else {
        f64::INFINITY
    });
    let mut observers: Vec<&mut dyn Observer> = vec![
        &mut particle_tracker,
        &mut particle_snapshots,
        &mut follower,
        &mut wall,
    ];
    if show_progress {
        observers.push(&mut progress);
    }
    let (end, error) = integrate(&mut particles, &mut observers, end_time);
    drop(observers);
    write_events(&file, "particles", &particle_tracker.events, &end)?;
    let grid_end = RunEnd {
        reason: end.reason,
        time: follower.grid.time(),
        steps: follower.grid.steps(),
    };
    write_events(&file, "grid", &follower.tracker.events, &grid_end)?;
    if let Some(error) = error {
        return Err(error);
    }

    let max_alpha_difference = particle_tracker
        .record
        .alpha
        .iter()
        .zip(&follower.tracker.record.alpha)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let mut refinement = Vec::new();
    if refine {
        refinement = refinement_study(&problem, &follower, per_node)?;
    }
    let observed_orders = refinement
        .windows(2)
        .map(|pair| (pair[0].w2 / pair[1].w2).log2())
        .collect();
    let comparison = ComparisonSummary {
        particles_per_node: per_node,
        cells: scenario.grid.cells,
        max_alpha_difference,
        final_w2: follower.w2.last().copied().unwrap_or(f64::NAN),
        max_w2: follower.w2.iter().copied().fold(0.0, f64::max),
        refinement,
        observed_orders,
    };

    let particle_run = SolverRun {
        end,
        record: particle_tracker.record,
        events: particle_tracker.events,
        snapshot_times: Vec::new(),
        snapshot_features: Vec::new(),
        error: None,
    };
    let grid_run = SolverRun {
        end: grid_end,
        record: follower.tracker.record.clone(),
        events: follower.tracker.events,
        snapshot_times: Vec::new(),
        snapshot_features: Vec::new(),
        error: None,
    };
    write_compare_plots(&problem, &particle_run, &grid_run, &follower, out)?;

    let mut summary = Summary::new(
        &problem,
        vec![
            SolverSummary::from_run("particles", &particle_run),
            SolverSummary::from_run("grid", &grid_run),
        ],
        started.elapsed().as_secs_f64(),
    );
    summary.comparison = serde_json::to_value(&comparison).ok();
    summary.wall_time_seconds = started.elapsed().as_secs_f64();
    summary.write_json(&out.join("summary.json"))?;
    log::info!(
        "compare: max |alpha_particles - alpha_grid| = {:.4}, final W2 gap {:.4e}",
        comparison.max_alpha_difference,
        comparison.final_w2
    );
    Ok(summary)
}

/// W2 gap at a quarter of the run for the scenario's resolution and for
/// cells, particles per node and JKO step refined by 2 (and coarsened by 2
/// where the fibers still span two cells).
fn refinement_study(
    problem: &Problem,
    follower: &GridFollower<'_>,
    per_node: usize,
) -> Result<Vec<RefinementLevel>> {
    let scenario = &problem.scenario;
    let Some(index) = follower
        .times
        .iter()
        .position(|t| *t >= 0.25 * scenario.solver.end_time - 1e-9)
    else {
        return Ok(Vec::new());
    };
    let time = follower.times[index];
    let base = follower.grid.grid();
    let mut levels = Vec::new();
    for factor in [0.5, 1.0, 2.0] {
        let cells = (scenario.grid.cells as f64 * factor).round() as usize;
        let m = ((per_node as f64 * factor).round() as usize).max(2);
        let step = scenario.grid.max_step * factor.recip();
        let grid = if base.is_periodic() {
            LatentGrid::circle(cells)
        } else {
            LatentGrid::interval(base.lower(), base.upper(), cells)
        };
        let Ok(grid) = grid else { continue };
        if scenario.grid.fiber_sigma < 2.0 * grid.spacing() {
            log::info!("refinement level with {cells} cells skipped: fiber_sigma below two cells");
            continue;
        }
        let w2 = if factor == 1.0 {
            follower.w2[index]
        } else {
            gap_at(problem, grid, m, step, time)?
        };
        levels.push(RefinementLevel {
            cells,
            particles_per_node: m,
            jko_max_step: step,
            w2,
            time,
        });
    }
    Ok(levels)
}

fn write_compare_plots(
    problem: &Problem,
    particles: &SolverRun,
    grid: &SolverRun,
    follower: &GridFollower<'_>,
    out: &Path,
) -> Result<()> {
    let alpha_star = problem.scenario.diagnostics.alpha_star;
    let series: [(&str, &[f64], &[f64]); 2] = [
        ("particles", &particles.record.time, &particles.record.alpha),
        ("grid (JKO)", &grid.record.time, &grid.record.alpha),
    ];
    plots::alignment_comparison(&out.join("alignment_compare.png"), &series, alpha_star)?;
    plots::series(
        &out.join("w2_gap.png"),
        &follower.times,
        &follower.w2,
        "W2 gap between particle and grid fibers",
        "mean W2 over nodes",
        false,
    )?;
    plots::spectrum(
        &out.join("spectrum.png"),
        &problem.operator.eigenvalues,
        problem.k,
    )?;

    let nodes = problem.data.len();
    let mut order: Vec<usize> = (0..nodes).collect();
    if let Some(labels) = &problem.data.labels {
        order.sort_by_key(|&p| (labels[p], p));
    }
    let cells = follower.grid.grid().cells();
    let range = (follower.grid.grid().lower(), follower.grid.grid().upper());
    let sorted: Vec<(f64, Vec<f64>, Vec<f64>)> = follower
        .captures
        .iter()
        .map(|c| {
            (
                c.time,
                reorder_rows(&c.grid, cells, &order),
                reorder_rows(&c.particles, cells, &order),
            )
        })
        .collect();
    let mut panels = Vec::new();
    for (time, grid_values, _) in &sorted {
        panels.push(HeatmapPanel {
            title: format!("grid, t = {time:.2}"),
            values: grid_values,
            rows: nodes,
            cols: cells,
            y_range: range,
        });
    }
    for (time, _, particle_values) in &sorted {
        panels.push(HeatmapPanel {
            title: format!("particles, t = {time:.2}"),
            values: particle_values,
            rows: nodes,
            cols: cells,
            y_range: range,
        });
    }
    if !panels.is_empty() {
        plots::fiber_heatmaps(&out.join("fibers.png"), &panels)?;
    }
    Ok(())
}
