//! Observers of the time loop: diagnostics, snapshot storage, progress and
//! wall-clock limit. Each has a schedule; the loop calls it when due.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use clflow_solvers::PositivePairs;

use crate::diagnostics::alignment::{kernel_target_alignment, spectral_alignment};
use crate::diagnostics::separation::{between_class_fraction, linear_separation};
use crate::error::Result;
use crate::output::hdf5::{DiagnosticsSeries, ResultsFile, SnapshotSeries};
use crate::run::dynamics::Dynamics;

/// When an observer runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// At t = 0, dt, 2 dt, ... (model time).
    Every(f64),
    /// After every accepted step (and at t = 0).
    EveryStep,
}

/// Reason a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTime,
    AlignmentReached,
    Separated,
    WallTime,
    NonFinite,
    SolverFailure,
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::EndTime => "end_time",
            StopReason::AlignmentReached => "alignment_reached",
            StopReason::Separated => "separated",
            StopReason::WallTime => "wall_time",
            StopReason::NonFinite => "non_finite",
            StopReason::SolverFailure => "solver_failure",
        }
    }
}

/// Decision of an observer: continue the loop or stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop(StopReason),
}

/// Last state of a run, handed to every observer at the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunEnd {
    pub reason: StopReason,
    pub time: f64,
    pub steps: u64,
}

/// Something that watches the state between steps.
pub trait Observer {
    fn schedule(&self) -> Schedule;
    fn observe(&mut self, dynamics: &mut dyn Dynamics) -> Result<Control>;
    fn finish(&mut self, _end: &RunEnd) -> Result<()> {
        Ok(())
    }
}

/// First times at which spectral alignment and separation were reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Events {
    /// First diagnostics time with alpha >= alpha*.
    pub t_align: Option<f64>,
    /// First diagnostics time from which the classes stayed linearly separable to the end.
    pub t_sep: Option<f64>,
    /// t_sep - t_align.
    pub lag: Option<f64>,
    /// alpha at t_sep.
    pub alpha_at_sep: Option<f64>,
}

/// The time series a diagnostics tracker records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiagnosticsRecord {
    pub time: Vec<f64>,
    pub energy: Vec<f64>,
    pub alpha: Vec<f64>,
    pub between_class: Vec<f64>,
    pub kernel_target_alignment: Vec<f64>,
    pub separable: Vec<f64>,
    pub margin: Vec<f64>,
    pub mass_error: Vec<f64>,
}

/// Names and descriptions of the diagnostics datasets, in `DiagnosticsRecord` order.
pub const DIAGNOSTICS_COLUMNS: [(&str, &str); 8] = [
    ("time", "model time t of each diagnostics row"),
    ("energy", "energy L (particles) or E (grid) of the state"),
    (
        "alpha",
        "spectral alignment: share of the w-centred features in the top-K eigenspace of P",
    ),
    (
        "between_class",
        "between-class share of the w-weighted feature variance (NaN without labels)",
    ),
    (
        "kernel_target_alignment",
        "Frobenius alignment of the centred feature Gram matrix with S minus its constant eigenpair",
    ),
    (
        "separable",
        "1 if every pair of classes is linearly separable in the latent space, else 0 (NaN without labels)",
    ),
    (
        "margin",
        "smallest l1 half-distance between class hulls over class pairs; negative overlap in 1-D, and 0 up to the LP tolerance for a non-separable pair in k >= 2",
    ),
    (
        "mass_error",
        "largest deviation of a fiber mass from 1 (0 for particles)",
    ),
];

/// Computes the diagnostics, detects events and writes each row to HDF5.
pub struct DiagnosticsTracker<'a> {
    interval: f64,
    pairs: &'a PositivePairs,
    phis: &'a [Vec<f64>],
    k: usize,
    labels: Option<&'a [usize]>,
    class_count: usize,
    alpha_star: f64,
    stop_rule: String,
    storage: Option<DiagnosticsSeries>,
    pub record: DiagnosticsRecord,
    pub events: Events,
    separable_since: Option<(f64, f64)>,
}

impl<'a> DiagnosticsTracker<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        interval: f64,
        pairs: &'a PositivePairs,
        phis: &'a [Vec<f64>],
        k: usize,
        labels: Option<&'a [usize]>,
        class_count: usize,
        alpha_star: f64,
        stop_rule: &str,
        storage: Option<DiagnosticsSeries>,
    ) -> Self {
        DiagnosticsTracker {
            interval,
            pairs,
            phis,
            k,
            labels,
            class_count,
            alpha_star,
            stop_rule: stop_rule.to_string(),
            storage,
            record: DiagnosticsRecord::default(),
            events: Events::default(),
            separable_since: None,
        }
    }
}

impl Observer for DiagnosticsTracker<'_> {
    fn schedule(&self) -> Schedule {
        Schedule::Every(self.interval)
    }

    fn observe(&mut self, dynamics: &mut dyn Dynamics) -> Result<Control> {
        let time = dynamics.time();
        let features = dynamics.node_features();
        let dim = dynamics.latent_dim();
        let weights = self.pairs.view_weights();
        let energy = dynamics.energy()?;
        let alpha = spectral_alignment(&features, dim, weights, self.phis, self.k);
        let kta = kernel_target_alignment(&features, dim, self.pairs);
        let (between, separable, margin) = match self.labels {
            Some(labels) => {
                let report = linear_separation(&features, dim, labels, self.class_count);
                let between =
                    between_class_fraction(&features, dim, labels, self.class_count, weights);
                (
                    between,
                    if report.separable { 1.0 } else { 0.0 },
                    report.margin,
                )
            }
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let row = [
            time,
            energy,
            alpha,
            between,
            kta,
            separable,
            margin,
            dynamics.mass_error(),
        ];
        let r = &mut self.record;
        for (series, value) in [
            &mut r.time,
            &mut r.energy,
            &mut r.alpha,
            &mut r.between_class,
            &mut r.kernel_target_alignment,
            &mut r.separable,
            &mut r.margin,
            &mut r.mass_error,
        ]
        .into_iter()
        .zip(row)
        {
            series.push(value);
        }
        if let Some(storage) = &mut self.storage {
            storage.append(&row)?;
        }

        if self.events.t_align.is_none() && alpha >= self.alpha_star {
            self.events.t_align = Some(time);
            log::info!(
                "spectral alignment alpha = {alpha:.3} passed alpha* = {} at t = {time:.4}",
                self.alpha_star
            );
        }
        if separable == 1.0 {
            if self.separable_since.is_none() {
                self.separable_since = Some((time, alpha));
            }
        } else {
            self.separable_since = None;
        }

        let control = match self.stop_rule.as_str() {
            "alignment" if self.events.t_align.is_some() => {
                Control::Stop(StopReason::AlignmentReached)
            }
            "separation" if self.separable_since.is_some() => Control::Stop(StopReason::Separated),
            _ => Control::Continue,
        };
        Ok(control)
    }

    fn finish(&mut self, _end: &RunEnd) -> Result<()> {
        if let Some((t, alpha)) = self.separable_since {
            self.events.t_sep = Some(t);
            self.events.alpha_at_sep = Some(alpha);
        }
        if let (Some(a), Some(s)) = (self.events.t_align, self.events.t_sep) {
            self.events.lag = Some(s - a);
        }
        Ok(())
    }
}

/// Appends the state to an HDF5 snapshot series at a fixed interval.
pub struct SnapshotStorage {
    interval: f64,
    series: SnapshotSeries,
    /// Node features at each snapshot, kept for plots.
    pub node_features: Vec<Vec<f64>>,
    pub times: Vec<f64>,
}

impl SnapshotStorage {
    pub fn new(
        interval: f64,
        file: &ResultsFile,
        group: &str,
        dynamics: &dyn Dynamics,
    ) -> Result<Self> {
        let (rows, cols, name, description) = dynamics.snapshot_layout();
        let series = file.snapshot_series(group, name, rows, cols, description)?;
        Ok(SnapshotStorage {
            interval,
            series,
            node_features: Vec::new(),
            times: Vec::new(),
        })
    }
}

impl Observer for SnapshotStorage {
    fn schedule(&self) -> Schedule {
        Schedule::Every(self.interval)
    }

    fn observe(&mut self, dynamics: &mut dyn Dynamics) -> Result<Control> {
        self.series.append(dynamics.time(), &dynamics.snapshot())?;
        self.times.push(dynamics.time());
        self.node_features.push(dynamics.node_features());
        Ok(Control::Continue)
    }
}

/// A progress bar on a terminal (hidden when output is piped).
pub struct Progress {
    bar: ProgressBar,
    end_time: f64,
}

/// Resolution of the progress bar: thousandths of the end time.
const PROGRESS_TICKS: u64 = 1000;

impl Progress {
    pub fn new(end_time: f64, label: &str) -> Self {
        let bar = ProgressBar::new(PROGRESS_TICKS);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% t = {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        Progress { bar, end_time }
    }
}

impl Observer for Progress {
    fn schedule(&self) -> Schedule {
        Schedule::EveryStep
    }

    fn observe(&mut self, dynamics: &mut dyn Dynamics) -> Result<Control> {
        let fraction = (dynamics.time() / self.end_time).clamp(0.0, 1.0);
        self.bar
            .set_position((fraction * PROGRESS_TICKS as f64) as u64);
        self.bar.set_message(format!("{:.4}", dynamics.time()));
        Ok(Control::Continue)
    }

    fn finish(&mut self, _end: &RunEnd) -> Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}

/// Stops the run after a wall-clock budget.
pub struct WallClock {
    start: Instant,
    limit_seconds: f64,
}

impl WallClock {
    pub fn new(limit_seconds: f64) -> Self {
        WallClock {
            start: Instant::now(),
            limit_seconds,
        }
    }
}

impl Observer for WallClock {
    fn schedule(&self) -> Schedule {
        Schedule::EveryStep
    }

    fn observe(&mut self, _dynamics: &mut dyn Dynamics) -> Result<Control> {
        if self.start.elapsed().as_secs_f64() > self.limit_seconds {
            Ok(Control::Stop(StopReason::WallTime))
        } else {
            Ok(Control::Continue)
        }
    }
}
