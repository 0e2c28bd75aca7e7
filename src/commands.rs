//! The CLI commands, each a function from typed options to a result.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::output::{hdf5::ResultsFile, plots};
use crate::run::summary::SolverSummary;
use crate::run::{Problem, SolverRun, Summary, prepare_output_dir, run_dynamics, write_problem};
use crate::scenario::Scenario;

/// Loads a scenario with `--seed` and `--set` applied.
pub fn load_scenario(path: &Path, seed: Option<u64>, overrides: &[String]) -> Result<Scenario> {
    let mut all = overrides.to_vec();
    if let Some(seed) = seed {
        all.push(format!("seed={seed}"));
    }
    Scenario::load(path, &all)
}

/// Default output folder: output/<scenario name>.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    Path::new("output").join(scenario.display_name())
}

/// `clflow run`: simulate one scenario and write run.h5, plots and summary.json.
pub fn run(
    scenario: Scenario,
    out_dir: &Path,
    solver_override: Option<&str>,
    show_progress: bool,
) -> Result<Summary> {
    let started = Instant::now();
    prepare_output_dir(out_dir)?;
    let mut scenario = scenario;
    if let Some(method) = solver_override {
        scenario.solver.method = method.to_string();
        scenario.validate()?;
    }
    let method = scenario.solver.method.clone();
    let problem = Problem::build(scenario)?;

    let h5_path = out_dir.join("run.h5");
    let file = ResultsFile::create(&h5_path)?;
    write_problem(&file, &problem, &method)?;

    let run = if method == "grid" {
        let grid = problem.latent_grid()?;
        let mut dynamics = problem.grid_dynamics(grid)?;
        write_grid_coordinates(&file, dynamics.grid())?;
        run_dynamics(&problem, &mut dynamics, &file, show_progress)?
    } else {
        let mut dynamics = problem.particle_dynamics(problem.scenario.solver.particles_per_node)?;
        run_dynamics(&problem, &mut dynamics, &file, show_progress)?
    };

    let label = if method == "grid" {
        "grid"
    } else {
        "particles"
    };
    let summary = Summary::new(
        &problem,
        vec![SolverSummary::from_run(label, &run)],
        started.elapsed().as_secs_f64(),
    );
    summary.write_json(&out_dir.join("summary.json"))?;
    write_run_plots(&problem, &run, out_dir)?;
    if let Some(error) = run.error {
        return Err(error);
    }
    Ok(summary)
}

/// Stores the latent grid coordinates in `/grid`.
pub fn write_grid_coordinates(
    file: &ResultsFile,
    grid: &clflow_solvers::grid::LatentGrid,
) -> Result<()> {
    let group = file.group("grid")?;
    let centres = grid.centres();
    file.write_f64(
        &group,
        "cell_centres",
        &[centres.len()],
        &centres,
        "latent coordinate of each grid cell centre (angle in radians on the circle)",
    )?;
    file.f64_attr(&group, "spacing", grid.spacing())?;
    file.string_attr(
        &group,
        "geometry",
        if grid.is_periodic() {
            "circle"
        } else {
            "interval"
        },
    )?;
    file.flush()
}

/// Draws the plots of one solver run.
pub fn write_run_plots(problem: &Problem, run: &SolverRun, out_dir: &Path) -> Result<()> {
    let r = &run.record;
    let labels: Vec<usize> = problem
        .data
        .labels
        .clone()
        .unwrap_or_else(|| vec![0; problem.data.len()]);
    let between = problem
        .data
        .labels
        .as_ref()
        .map(|_| r.between_class.as_slice());
    plots::alignment(
        &out_dir.join("alignment.png"),
        &r.time,
        &r.alpha,
        between,
        problem.scenario.diagnostics.alpha_star,
        run.events.t_align,
        run.events.t_sep,
    )?;
    plots::loss(&out_dir.join("loss.png"), &r.time, &r.energy)?;
    plots::spectrum(
        &out_dir.join("spectrum.png"),
        &problem.operator.eigenvalues,
        problem.k,
    )?;
    let dim = problem.space.dim();
    if dim == 1 && !run.snapshot_features.is_empty() {
        plots::trajectories(
            &out_dir.join("trajectories.png"),
            &run.snapshot_times,
            &run.snapshot_features,
            &labels,
        )?;
    }
    if let Some(last) = run.snapshot_features.last() {
        let title = format!(
            "latent features at t = {:.3}",
            run.snapshot_times.last().copied().unwrap_or(0.0)
        );
        plots::latent_scatter(&out_dir.join("latent.png"), last, dim, &labels, &title)?;
    }
    Ok(())
}

/// `clflow spectrum`: the augmentation diagnostics alone.
pub fn spectrum(scenario: Scenario) -> Result<String> {
    let problem = Problem::build(scenario)?;
    let spectrum = problem.spectrum();
    let (alpha0, predicted) = problem.predicted_alignment();
    let mut out = String::new();
    out.push_str(&format!(
        "scenario {}: N = {}, d = {}, classes = {}, augmentation scale s = {:.4}\n",
        problem.scenario.display_name(),
        problem.data.len(),
        problem.data.dim,
        problem.data.class_count(),
        problem.operator.kernel.scale
    ));
    out.push_str("top eigenvalues of P:");
    for (i, l) in problem
        .operator
        .eigenvalues
        .iter()
        .take(problem.k + 5)
        .enumerate()
    {
        out.push_str(&format!("{}{:.5}", if i == 0 { " " } else { ", " }, l));
    }
    out.push('\n');
    out.push_str(&format!(
        "K = {}: gap lambda_K - lambda_K+1 = {:.5}, mixing lambda_K+1 = {:.5}, leakage = {}\n",
        spectrum.k,
        spectrum.gap,
        spectrum.mixing,
        spectrum
            .leakage
            .map(|l| format!("{l:.5}"))
            .unwrap_or_else(|| "- (no labels)".into())
    ));
    out.push_str(&format!("initial alignment alpha_0 = {alpha0:.3e}; logistic bound t_align <= {predicted:.4} for alpha* = {}", problem.scenario.diagnostics.alpha_star));
    Ok(out)
}

/// `clflow inspect`: groups, datasets with shapes, and attributes of a results file.
pub fn inspect(path: &Path) -> Result<String> {
    let file = ResultsFile::open(path)?;
    let mut out = String::new();
    let h5 = |r: hdf5::Result<Vec<String>>| {
        r.map_err(|source| Error::Hdf5 {
            path: path.to_path_buf(),
            source,
        })
    };
    fn attrs(location: &hdf5::Location, indent: &str, out: &mut String) {
        for name in location.attr_names().unwrap_or_default() {
            let Ok(attr) = location.attr(&name) else {
                continue;
            };
            let value = if let Ok(v) = attr.read_scalar::<f64>() {
                format!("{v}")
            } else if let Ok(v) = attr.read_scalar::<u64>() {
                format!("{v}")
            } else if let Ok(v) = attr.read_scalar::<hdf5::types::VarLenUnicode>() {
                let text = v.as_str().replace('\n', " ");
                if text.len() > 70 {
                    format!(
                        "\"{}...\"",
                        &text[..text
                            .char_indices()
                            .nth(67)
                            .map(|c| c.0)
                            .unwrap_or(text.len())]
                    )
                } else {
                    format!("\"{text}\"")
                }
            } else {
                "(unreadable)".into()
            };
            out.push_str(&format!("{indent}@{name} = {value}\n"));
        }
    }
    fn walk(group: &hdf5::Group, indent: &str, out: &mut String) {
        for name in group.member_names().unwrap_or_default() {
            if let Ok(sub) = group.group(&name) {
                out.push_str(&format!("{indent}{name}/\n"));
                attrs(&sub, &format!("{indent}  "), out);
                walk(&sub, &format!("{indent}  "), out);
            } else if let Ok(ds) = group.dataset(&name) {
                let description = ds
                    .attr("description")
                    .ok()
                    .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>().ok())
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default();
                out.push_str(&format!("{indent}{name} {:?}  {description}\n", ds.shape()));
            }
        }
    }
    out.push_str(&format!("{}\n", path.display()));
    let root = file.group("/").map_err(|source| Error::Hdf5 {
        path: path.to_path_buf(),
        source,
    })?;
    let _ = h5(root.member_names())?;
    attrs(&root, "  ", &mut out);
    walk(&root, "  ", &mut out);
    Ok(out)
}
