//! The run summary: written to summary.json and printed as a table.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::augmentation::SpectrumDiagnostics;
use crate::error::{Error, Result};
use crate::run::observers::Events;
use crate::run::{Problem, SolverRun};

/// Outcome of one solver in a run.
#[derive(Debug, Clone, Serialize)]
pub struct SolverSummary {
    pub solver: String,
    pub stop_reason: String,
    pub final_time: f64,
    pub steps: u64,
    pub events: Events,
    pub final_alpha: f64,
    pub final_separable: Option<bool>,
    pub final_margin: f64,
    pub final_energy: f64,
}

/// Everything a reader needs to judge a run without opening the HDF5 file.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub clflow_version: String,
    pub seed: u64,
    pub nodes: usize,
    pub data_dim: usize,
    pub classes: usize,
    pub latent_space: String,
    pub latent_dim: usize,
    pub tau: f64,
    pub augmentation_scale: f64,
    pub alpha_star: f64,
    pub spectrum: SpectrumDiagnostics,
    pub top_eigenvalues: Vec<f64>,
    pub initial_alpha: f64,
    /// Logistic upper bound on t_align from the linear phase.
    pub predicted_t_align: f64,
    pub solvers: Vec<SolverSummary>,
    pub wall_time_seconds: f64,
    /// Extra tables (for example the comparison's convergence study).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<serde_json::Value>,
}

fn last(series: &[f64]) -> f64 {
    series.last().copied().unwrap_or(f64::NAN)
}

impl SolverSummary {
    pub fn from_run(label: &str, run: &SolverRun) -> Self {
        let separable = last(&run.record.separable);
        SolverSummary {
            solver: label.to_string(),
            stop_reason: run.end.reason.as_str().to_string(),
            final_time: run.end.time,
            steps: run.end.steps,
            events: run.events,
            final_alpha: last(&run.record.alpha),
            final_separable: if separable.is_nan() {
                None
            } else {
                Some(separable == 1.0)
            },
            final_margin: last(&run.record.margin),
            final_energy: last(&run.record.energy),
        }
    }
}

impl Summary {
    pub fn new(problem: &Problem, solvers: Vec<SolverSummary>, wall_time_seconds: f64) -> Self {
        let (initial_alpha, predicted) = problem.predicted_alignment();
        let s = &problem.scenario;
        Summary {
            scenario: s.display_name(),
            clflow_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: s.seed,
            nodes: problem.data.len(),
            data_dim: problem.data.dim,
            classes: problem.data.class_count(),
            latent_space: s.latent.space.clone(),
            latent_dim: problem.space.dim(),
            tau: s.loss.tau,
            augmentation_scale: problem.operator.kernel.scale,
            alpha_star: s.diagnostics.alpha_star,
            spectrum: problem.spectrum(),
            top_eigenvalues: problem
                .operator
                .eigenvalues
                .iter()
                .take(problem.k + 3)
                .copied()
                .collect(),
            initial_alpha,
            predicted_t_align: predicted,
            solvers,
            wall_time_seconds,
            comparison: None,
        }
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Numerical(format!("summary serialisation failed: {e}")))?;
        std::fs::write(path, text + "\n").map_err(|e| Error::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
            hint: "choose a writable folder with --out".into(),
        })
    }

    /// Formats the summary as a short human-readable table.
    pub fn table(&self) -> String {
        let fmt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {}: N = {}, d = {}, C = {}, latent {} k = {}, tau = {}",
            self.scenario,
            self.nodes,
            self.data_dim,
            self.classes,
            self.latent_space,
            self.latent_dim,
            self.tau
        );
        let _ = writeln!(
            out,
            "spectrum (K = {}): gap {:.4}, mixing {:.4}, leakage {}",
            self.spectrum.k,
            self.spectrum.gap,
            self.spectrum.mixing,
            self.spectrum
                .leakage
                .map(|l| format!("{l:.4}"))
                .unwrap_or_else(|| "-".into())
        );
        let _ = writeln!(
            out,
            "initial alpha {:.3e}; predicted t_align <= {:.4} (logistic bound)",
            self.initial_alpha, self.predicted_t_align
        );
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>9} {:>12} {:>10} {:>9} {:>16}",
            "solver", "t_align", "t_sep", "lag", "alpha@t_sep", "final a", "t_end", "stop"
        );
        for s in &self.solvers {
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>9} {:>9} {:>12} {:>10.4} {:>9.4} {:>16}",
                s.solver,
                fmt(s.events.t_align),
                fmt(s.events.t_sep),
                fmt(s.events.lag),
                fmt(s.events.alpha_at_sep),
                s.final_alpha,
                s.final_time,
                s.stop_reason
            );
        }
        if let Some(c) = &self.comparison {
            let number = |key: &str| c.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
            let _ = writeln!(
                out,
                "particles vs grid: max |alpha difference| {:.4}, mean W2 gap final {:.3e}, max {:.3e}",
                number("max_alpha_difference"),
                number("final_w2"),
                number("max_w2")
            );
            if let Some(levels) = c.get("refinement").and_then(|v| v.as_array()) {
                for level in levels {
                    let _ = writeln!(
                        out,
                        "  refinement: M_z = {:>5}, M = {:>3}, JKO step {:.4}: W2 gap at t = {:.3} is {:.3e}",
                        level["cells"].as_u64().unwrap_or(0),
                        level["particles_per_node"].as_u64().unwrap_or(0),
                        level["jko_max_step"].as_f64().unwrap_or(f64::NAN),
                        level["time"].as_f64().unwrap_or(f64::NAN),
                        level["w2"].as_f64().unwrap_or(f64::NAN)
                    );
                }
            }
            if let Some(orders) = c.get("observed_orders").and_then(|v| v.as_array()) {
                let orders: Vec<String> = orders
                    .iter()
                    .map(|o| format!("{:.2}", o.as_f64().unwrap_or(f64::NAN)))
                    .collect();
                let _ = writeln!(
                    out,
                    "  observed order per refinement by 2: {}",
                    orders.join(", ")
                );
            }
        }
        let _ = write!(out, "wall time {:.2} s", self.wall_time_seconds);
        out
    }
}
