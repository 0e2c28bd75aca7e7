//! Scenario files: TOML text becomes checked plain values here, before any
//! data is loaded. Unknown keys are rejected so that a misspelt key never
//! falls back silently to a default.
//!
//! Every key is documented in docs/scenarios.md; keep the two in step.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// A parsed and checked scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name used in titles and the summary. Default: the file stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Seed for every random choice that has no seed of its own. Default 0.
    #[serde(default)]
    pub seed: u64,
    pub data: DataSpec,
    #[serde(default)]
    pub augmentation: AugmentationSpec,
    #[serde(default)]
    pub latent: LatentSpec,
    #[serde(rename = "loss", default)]
    pub loss: LossSpec,
    #[serde(default)]
    pub init: InitSpec,
    #[serde(default)]
    pub solver: SolverSpec,
    #[serde(default)]
    pub grid: GridSpec,
    #[serde(default)]
    pub diagnostics: DiagnosticsSpec,

    /// Path of the scenario file (not a TOML key).
    #[serde(skip)]
    pub path: PathBuf,
    /// Full text after `--set` overrides (not a TOML key), stored in outputs.
    #[serde(skip)]
    pub text: String,
}

/// `[data]`: a built-in generator or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSpec {
    /// Uniform points in disks of one radius.
    Disks {
        centers: Vec<Vec<f64>>,
        radius: f64,
        points_per_class: usize,
        /// Class label of each disk (default: one class per disk), so that
        /// disks the augmentation joins can share a label.
        #[serde(default)]
        labels: Option<Vec<usize>>,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        quadrature: bool,
        #[serde(default)]
        standardize: bool,
    },
    /// Concentric annuli in the plane, centred at the origin.
    Annuli {
        radii: Vec<f64>,
        width: f64,
        points_per_class: usize,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        quadrature: bool,
        #[serde(default)]
        standardize: bool,
    },
    /// The two interleaved half circles, with Gaussian noise.
    Moons {
        points_per_class: usize,
        #[serde(default = "default_moons_noise")]
        noise: f64,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        standardize: bool,
    },
    /// Isotropic Gaussian clusters.
    GaussianMixture {
        means: Vec<Vec<f64>>,
        std: f64,
        points_per_class: usize,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        standardize: bool,
    },
    /// Uniform points in axis-aligned boxes.
    Rectangles {
        centers: Vec<Vec<f64>>,
        half_widths: Vec<Vec<f64>>,
        points_per_class: usize,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        quadrature: bool,
        #[serde(default)]
        standardize: bool,
    },
    /// A CSV file (optionally gzip-compressed), one row per data point.
    File {
        path: PathBuf,
        /// 1-based column of the class label; 0 means no labels.
        #[serde(default)]
        label_column: usize,
        #[serde(default)]
        header: bool,
        /// Keep only rows whose label is in this list.
        #[serde(default)]
        classes: Option<Vec<i64>>,
        /// Keep this many rows, drawn without replacement.
        #[serde(default)]
        subsample: Option<usize>,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        standardize: bool,
    },
}

fn default_moons_noise() -> f64 {
    0.1
}

/// `[augmentation]`: Gaussian augmentation kernel.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AugmentationSpec {
    /// Isotropic scale s (data units).
    pub scale: Option<f64>,
    /// Isotropic scale as a multiple of the median distance to the
    /// `scale_neighbour`-th nearest neighbour. Default 1.0 when `scale` is unset.
    pub relative_scale: Option<f64>,
    /// Neighbour rank for `relative_scale`. Default 10.
    pub scale_neighbour: Option<usize>,
    /// Direction u of an extra shift; the covariance is s_u^2 u u^T + s^2 I.
    pub direction: Option<Vec<f64>>,
    /// Scale s_u of the shift along `direction`.
    pub direction_scale: Option<f64>,
    /// Keep only the k nearest neighbours (self included) of each node. Default: dense.
    pub knn: Option<usize>,
}

/// `[latent]`: the latent space.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentSpec {
    /// "euclidean" (R^k) or "sphere" (S^{k-1} in R^k). Default "euclidean".
    #[serde(default = "default_space")]
    pub space: String,
    /// Ambient dimension k. Default 1.
    #[serde(default = "default_dim")]
    pub dim: usize,
}

fn default_space() -> String {
    "euclidean".into()
}
fn default_dim() -> usize {
    1
}

impl Default for LatentSpec {
    fn default() -> Self {
        LatentSpec {
            space: default_space(),
            dim: default_dim(),
        }
    }
}

/// `[loss]`: the contrastive loss.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossSpec {
    /// Temperature tau > 0. Default 0.1.
    #[serde(default = "default_tau")]
    pub tau: f64,
}

fn default_tau() -> f64 {
    0.1
}

impl Default for LossSpec {
    fn default() -> Self {
        LossSpec { tau: default_tau() }
    }
}

/// `[init]`: initial features.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSpec {
    /// "normal" (i.i.d. N(0, sigma0^2)), "fourier" (sigma0 times random
    /// Fourier features of x) or "file". Default "normal".
    #[serde(default = "default_init_kind")]
    pub kind: String,
    /// Size of the initial features. Default 0.02.
    #[serde(default = "default_sigma0")]
    pub sigma0: f64,
    /// Seed of the initial features. Default: the scenario seed.
    pub seed: Option<u64>,
    /// Number of random Fourier features for "fourier". Default 64.
    #[serde(default = "default_fourier_features")]
    pub fourier_features: usize,
    /// Length scale of the Fourier features, in data units. Default: the augmentation scale.
    pub fourier_length: Option<f64>,
    /// CSV file with one row of k features per data point, for "file".
    pub path: Option<PathBuf>,
}

fn default_init_kind() -> String {
    "normal".into()
}
fn default_sigma0() -> f64 {
    0.02
}
fn default_fourier_features() -> usize {
    64
}

impl Default for InitSpec {
    fn default() -> Self {
        InitSpec {
            kind: default_init_kind(),
            sigma0: default_sigma0(),
            seed: None,
            fourier_features: default_fourier_features(),
            fourier_length: None,
            path: None,
        }
    }
}

/// `[solver]`: time stepping and output schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverSpec {
    /// "particles" or "grid". Default "particles".
    #[serde(default = "default_method")]
    pub method: String,
    /// "euler", "heun" or "rk4". Default "heun".
    #[serde(default = "default_integrator")]
    pub integrator: String,
    /// Largest displacement per step in units of sqrt(tau). Default 0.05.
    #[serde(default = "default_max_displacement")]
    pub max_displacement: f64,
    /// Largest step size. Default 0.05.
    #[serde(default = "default_max_step")]
    pub max_step: f64,
    /// End time of the run. Default 3.0.
    #[serde(default = "default_end_time")]
    pub end_time: f64,
    /// Time between snapshots. Default end_time / 50.
    pub snapshot_interval: Option<f64>,
    /// Time between diagnostics. Default end_time / 200.
    pub diagnostics_interval: Option<f64>,
    /// Particles per node (diffuse fibers). Default 1.
    #[serde(default = "default_particles_per_node")]
    pub particles_per_node: usize,
    /// Diffusion coefficient beta (SGD noise). Default 0.
    #[serde(default)]
    pub diffusion: f64,
    /// Stop early once the classes are separable ("separation") or alpha
    /// passed alpha* ("alignment"); default "end" runs to end_time.
    #[serde(default = "default_stop")]
    pub stop: String,
    /// Wall-clock limit in seconds; 0 means none. Default 0.
    #[serde(default)]
    pub wall_time: f64,
}

fn default_method() -> String {
    "particles".into()
}
fn default_integrator() -> String {
    "heun".into()
}
fn default_max_displacement() -> f64 {
    0.05
}
fn default_max_step() -> f64 {
    0.05
}
fn default_end_time() -> f64 {
    3.0
}
fn default_particles_per_node() -> usize {
    1
}
fn default_stop() -> String {
    "end".into()
}

impl Default for SolverSpec {
    fn default() -> Self {
        SolverSpec {
            method: default_method(),
            integrator: default_integrator(),
            max_displacement: default_max_displacement(),
            max_step: default_max_step(),
            end_time: default_end_time(),
            snapshot_interval: None,
            diagnostics_interval: None,
            particles_per_node: default_particles_per_node(),
            diffusion: 0.0,
            stop: default_stop(),
            wall_time: 0.0,
        }
    }
}

/// `[grid]`: the Eulerian latent grid of the JKO scheme.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Number of latent cells M_z. Default 256.
    #[serde(default = "default_cells")]
    pub cells: usize,
    /// Interval [lo, hi] for latent R^1. Default: from the initial fibers
    /// with a margin (see docs/model.md).
    pub range: Option<[f64; 2]>,
    /// Standard deviation of the initial fibers. Default 0.05.
    #[serde(default = "default_fiber_sigma")]
    pub fiber_sigma: f64,
    /// Largest JKO step size h. Default 0.02.
    #[serde(default = "default_jko_step")]
    pub max_step: f64,
    /// Fixed-point iterations for a fully implicit JKO step; 0 keeps the
    /// semi-implicit step. Default 0.
    #[serde(default)]
    pub fixed_point_iterations: usize,
}

fn default_cells() -> usize {
    256
}
fn default_fiber_sigma() -> f64 {
    0.05
}
fn default_jko_step() -> f64 {
    0.02
}

impl Default for GridSpec {
    fn default() -> Self {
        GridSpec {
            cells: default_cells(),
            range: None,
            fiber_sigma: default_fiber_sigma(),
            max_step: default_jko_step(),
            fixed_point_iterations: 0,
        }
    }
}

/// `[diagnostics]`: spectral alignment and events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticsSpec {
    /// Alignment threshold alpha*. Default 0.9.
    #[serde(default = "default_alpha_star")]
    pub alpha_star: f64,
    /// Dimension K of the eigenspace for alpha. Default: number of classes
    /// (2 without labels).
    pub k: Option<usize>,
    /// Eigenpairs to compute and store. Default max(K + 10, 20), at most N.
    pub eigenpairs: Option<usize>,
}

fn default_alpha_star() -> f64 {
    0.9
}

impl Default for DiagnosticsSpec {
    fn default() -> Self {
        DiagnosticsSpec {
            alpha_star: default_alpha_star(),
            k: None,
            eigenpairs: None,
        }
    }
}

impl Scenario {
    /// Reads, overrides (`section.key=value` pairs) and checks a scenario file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(
                path.display().to_string(),
                "-",
                format!("cannot read the scenario file: {e}"),
                "check the path; scenario files live in scenarios/",
            )
        })?;
        Self::parse(text, path, overrides)
    }

    /// Parses scenario text without a file (for tests and embedded examples).
    pub fn from_str_checked(text: &str, path: &Path) -> Result<Scenario> {
        Self::parse(text.to_string(), path, &[])
    }

    /// Parses `text`, applies the overrides and checks the result; `path`
    /// names the scenario in errors and resolves relative data paths.
    fn parse(text: String, path: &Path, overrides: &[String]) -> Result<Scenario> {
        let file = path.display().to_string();
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
            Error::input(
                &file,
                "-",
                format!("invalid TOML: {}", e.message()),
                "fix the syntax at the position shown by a TOML validator",
            )
        })?;
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        let merged = toml::to_string(&table).unwrap_or(text.clone());

        let hint = if overrides.is_empty() {
            "check the key names and types against docs/scenarios.md"
        } else {
            "check the key names and types against docs/scenarios.md, in the file and in the --set values"
        };
        let mut scenario: Scenario = Scenario::deserialize(table)
            .map_err(|e| Error::input(&file, "-", e.message().trim().to_string(), hint))?;
        scenario.path = path.to_path_buf();
        scenario.text = if overrides.is_empty() { text } else { merged };
        scenario.validate()?;
        Ok(scenario)
    }

    /// Name for titles: the `name` key or the file stem.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        })
    }

    /// Resolves a path written in the scenario relative to the scenario's folder.
    pub fn resolve_path(&self, relative: &Path) -> PathBuf {
        if relative.is_absolute() {
            relative.to_path_buf()
        } else {
            self.path
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(relative)
        }
    }

    /// Snapshot interval after defaults.
    pub fn snapshot_interval(&self) -> f64 {
        self.solver
            .snapshot_interval
            .unwrap_or(self.solver.end_time / 50.0)
    }

    /// Diagnostics interval after defaults.
    pub fn diagnostics_interval(&self) -> f64 {
        self.solver
            .diagnostics_interval
            .unwrap_or(self.solver.end_time / 200.0)
    }

    fn err(&self, key: &str, message: String, hint: &str) -> Error {
        Error::input(self.path.display().to_string(), key, message, hint)
    }

    fn positive(&self, key: &str, value: f64, hint: &str) -> Result<()> {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(self.err(key, format!("must be positive, found {value}"), hint))
        }
    }

    /// Checks ranges and combinations that the types alone cannot express.
    pub fn validate(&self) -> Result<()> {
        self.validate_data()?;

        let aug = &self.augmentation;
        if aug.scale.is_some() && aug.relative_scale.is_some() {
            return Err(self.err(
                "augmentation.scale",
                "both scale and relative_scale are set".into(),
                "keep one: scale in data units, or relative_scale times the median neighbour distance",
            ));
        }
        if let Some(s) = aug.scale {
            self.positive(
                "augmentation.scale",
                s,
                "set a positive scale in data units, for example 0.3",
            )?;
        }
        if let Some(s) = aug.relative_scale {
            self.positive(
                "augmentation.relative_scale",
                s,
                "set a positive multiple, for example 0.8",
            )?;
        }
        if aug.scale_neighbour == Some(0) {
            return Err(self.err(
                "augmentation.scale_neighbour",
                "must be at least 1, found 0".into(),
                "use 10",
            ));
        }
        match (&aug.direction, aug.direction_scale) {
            (Some(u), Some(su)) => {
                if u.iter().map(|a| a * a).sum::<f64>() == 0.0 || u.iter().any(|a| !a.is_finite()) {
                    return Err(self.err(
                        "augmentation.direction",
                        format!("invalid direction {u:?}"),
                        "give a non-zero vector, for example [1.0, 1.0]",
                    ));
                }
                self.positive(
                    "augmentation.direction_scale",
                    su,
                    "set the scale of the shift along the direction, for example 1.0",
                )?;
            }
            (None, None) => {}
            _ => {
                return Err(self.err(
                    "augmentation.direction",
                    "direction and direction_scale must be given together".into(),
                    "set both, or remove both for an isotropic kernel",
                ));
            }
        }
        if aug.knn == Some(0) {
            return Err(self.err(
                "augmentation.knn",
                "must be at least 1, found 0".into(),
                "remove the key for a dense kernel, or use for example 30",
            ));
        }

        match self.latent.space.as_str() {
            "euclidean" | "sphere" => {}
            other => {
                return Err(self.err(
                    "latent.space",
                    format!("unknown space {other:?}"),
                    "use \"euclidean\" or \"sphere\"",
                ));
            }
        }
        let sphere = self.latent.space == "sphere";
        if self.latent.dim == 0 || self.latent.dim > 3 || (sphere && self.latent.dim < 2) {
            return Err(self.err(
                "latent.dim",
                format!("invalid latent dimension {}", self.latent.dim),
                if sphere {
                    "the sphere needs dim 2 (circle) or 3"
                } else {
                    "use 1, 2 or 3"
                },
            ));
        }
        self.positive(
            "loss.tau",
            self.loss.tau,
            "the temperature must be positive, for example 0.1",
        )?;

        match self.init.kind.as_str() {
            "normal" | "fourier" => {}
            "file" => {
                if self.init.path.is_none() {
                    return Err(self.err(
                        "init.path",
                        "missing for kind = \"file\"".into(),
                        "set path to a CSV file with one row of features per data point",
                    ));
                }
            }
            other => {
                return Err(self.err(
                    "init.kind",
                    format!("unknown kind {other:?}"),
                    "use \"normal\", \"fourier\" or \"file\"",
                ));
            }
        }
        self.positive(
            "init.sigma0",
            self.init.sigma0,
            "use a small size such as 0.02",
        )?;
        if self.init.fourier_features == 0 {
            return Err(self.err(
                "init.fourier_features",
                "must be at least 1".into(),
                "use 64",
            ));
        }
        if let Some(l) = self.init.fourier_length {
            self.positive("init.fourier_length", l, "set a length in data units")?;
        }

        let solver = &self.solver;
        match solver.method.as_str() {
            "particles" | "grid" => {}
            other => {
                return Err(self.err(
                    "solver.method",
                    format!("unknown method {other:?}"),
                    "use \"particles\" or \"grid\"",
                ));
            }
        }
        match solver.integrator.as_str() {
            "euler" | "heun" | "rk4" => {}
            other => {
                return Err(self.err(
                    "solver.integrator",
                    format!("unknown integrator {other:?}"),
                    "use \"euler\", \"heun\" or \"rk4\"",
                ));
            }
        }
        if solver.diffusion > 0.0 && solver.integrator != "euler" && solver.method == "particles" {
            return Err(self.err(
                "solver.integrator",
                format!(
                    "diffusion = {} needs the Euler-Maruyama integrator, found {:?}",
                    solver.diffusion, solver.integrator
                ),
                "set integrator = \"euler\" or diffusion = 0",
            ));
        }
        if !(solver.diffusion.is_finite() && solver.diffusion >= 0.0) {
            return Err(self.err(
                "solver.diffusion",
                format!("must be non-negative, found {}", solver.diffusion),
                "use 0 for no noise",
            ));
        }
        self.positive(
            "solver.max_displacement",
            solver.max_displacement,
            "use 0.05",
        )?;
        self.positive("solver.max_step", solver.max_step, "use 0.05")?;
        self.positive(
            "solver.end_time",
            solver.end_time,
            "set the model time to simulate, for example 3.0",
        )?;
        if let Some(v) = solver.snapshot_interval {
            self.positive("solver.snapshot_interval", v, "for example end_time / 50")?;
        }
        if let Some(v) = solver.diagnostics_interval {
            self.positive(
                "solver.diagnostics_interval",
                v,
                "for example end_time / 200",
            )?;
        }
        if solver.particles_per_node == 0 {
            return Err(self.err(
                "solver.particles_per_node",
                "must be at least 1".into(),
                "use 1 for the discrete dynamics",
            ));
        }
        match solver.stop.as_str() {
            "end" | "alignment" | "separation" => {}
            other => {
                return Err(self.err(
                    "solver.stop",
                    format!("unknown stop rule {other:?}"),
                    "use \"end\", \"alignment\" or \"separation\"",
                ));
            }
        }
        if !(solver.wall_time.is_finite() && solver.wall_time >= 0.0) {
            return Err(self.err(
                "solver.wall_time",
                format!("must be non-negative, found {}", solver.wall_time),
                "use 0 for no limit",
            ));
        }

        if self.grid.cells < 8 {
            return Err(self.err(
                "grid.cells",
                format!("too few cells: {}", self.grid.cells),
                "use at least 64, for example 256",
            ));
        }
        if let Some([lo, hi]) = self.grid.range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(self.err(
                    "grid.range",
                    format!("invalid interval [{lo}, {hi}]"),
                    "give [lo, hi] with lo < hi",
                ));
            }
        }
        self.positive(
            "grid.fiber_sigma",
            self.grid.fiber_sigma,
            "use for example 0.05",
        )?;
        self.positive("grid.max_step", self.grid.max_step, "use for example 0.02")?;
        if solver.method == "grid" && !(self.latent.dim == 1 || (sphere && self.latent.dim == 2)) {
            return Err(self.err(
                "solver.method",
                format!(
                    "the grid scheme supports latent R^1 and the circle only, found {} dim {}",
                    self.latent.space, self.latent.dim
                ),
                "use method = \"particles\", or latent dim = 1 (euclidean) or 2 (sphere)",
            ));
        }

        let diag = &self.diagnostics;
        if !(diag.alpha_star > 0.0 && diag.alpha_star < 1.0) {
            return Err(self.err(
                "diagnostics.alpha_star",
                format!("must lie in (0, 1), found {}", diag.alpha_star),
                "use 0.9",
            ));
        }
        if diag.k == Some(0) {
            return Err(self.err(
                "diagnostics.k",
                "must be at least 1".into(),
                "remove it to use the number of classes",
            ));
        }
        if diag.eigenpairs == Some(0) {
            return Err(self.err(
                "diagnostics.eigenpairs",
                "must be at least 1".into(),
                "remove it for the default",
            ));
        }
        Ok(())
    }

    fn validate_data(&self) -> Result<()> {
        let check_ppc = |ppc: usize| -> Result<()> {
            if ppc == 0 {
                Err(self.err(
                    "data.points_per_class",
                    "must be at least 1".into(),
                    "use for example 200",
                ))
            } else {
                Ok(())
            }
        };
        let check_centers = |key: &str, centers: &[Vec<f64>]| -> Result<usize> {
            let Some(first) = centers.first() else {
                return Err(self.err(
                    key,
                    "empty list".into(),
                    "give one point per class, for example [[-2.0, 0.0], [2.0, 0.0]]",
                ));
            };
            let d = first.len();
            if d == 0 || centers.iter().any(|c| c.len() != d) {
                return Err(self.err(
                    key,
                    "points must all have the same, non-zero length".into(),
                    "give every point with d coordinates",
                ));
            }
            Ok(d)
        };
        match &self.data {
            DataSpec::Disks {
                centers,
                radius,
                points_per_class,
                labels,
                ..
            } => {
                check_centers("data.centers", centers)?;
                if let Some(labels) = labels {
                    let mut used: Vec<usize> = labels.clone();
                    used.sort_unstable();
                    used.dedup();
                    if labels.len() != centers.len()
                        || used.iter().enumerate().any(|(i, l)| i != *l)
                    {
                        return Err(self.err("data.labels", format!("invalid labels {labels:?} for {} disks", centers.len()), "give one label per disk, using every label 0..C-1, for example [0, 0, 1, 2]"));
                    }
                }
                self.positive(
                    "data.radius",
                    *radius,
                    "set the disk radius, for example 0.5",
                )?;
                check_ppc(*points_per_class)
            }
            DataSpec::Annuli {
                radii,
                width,
                points_per_class,
                ..
            } => {
                if radii.is_empty() || radii.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
                    return Err(self.err(
                        "data.radii",
                        format!("invalid radii {radii:?}"),
                        "give positive radii, for example [1.0, 2.0]",
                    ));
                }
                self.positive(
                    "data.width",
                    *width,
                    "set the annulus width, for example 0.3",
                )?;
                check_ppc(*points_per_class)
            }
            DataSpec::Moons {
                points_per_class,
                noise,
                ..
            } => {
                if !(noise.is_finite() && *noise >= 0.0) {
                    return Err(self.err(
                        "data.noise",
                        format!("must be non-negative, found {noise}"),
                        "use 0.1",
                    ));
                }
                check_ppc(*points_per_class)
            }
            DataSpec::GaussianMixture {
                means,
                std,
                points_per_class,
                ..
            } => {
                check_centers("data.means", means)?;
                self.positive(
                    "data.std",
                    *std,
                    "set the cluster standard deviation, for example 0.3",
                )?;
                check_ppc(*points_per_class)
            }
            DataSpec::Rectangles {
                centers,
                half_widths,
                points_per_class,
                ..
            } => {
                let d = check_centers("data.centers", centers)?;
                if half_widths.len() != centers.len()
                    || half_widths
                        .iter()
                        .any(|h| h.len() != d || h.iter().any(|v| !(*v > 0.0)))
                {
                    return Err(self.err(
                        "data.half_widths",
                        "need one list of d positive half-widths per centre".into(),
                        "for example [[0.5, 0.2], [0.5, 0.2]]",
                    ));
                }
                check_ppc(*points_per_class)
            }
            DataSpec::File {
                subsample,
                classes,
                label_column,
                ..
            } => {
                if classes.is_some() && *label_column == 0 {
                    return Err(self.err(
                        "data.classes",
                        "a class filter needs labels, but label_column is 0".into(),
                        "set label_column to the 1-based column of the labels, or remove classes",
                    ));
                }
                if *subsample == Some(0) {
                    return Err(self.err(
                        "data.subsample",
                        "must be at least 1".into(),
                        "remove it to keep every row",
                    ));
                }
                if classes.as_ref().is_some_and(|c| c.is_empty()) {
                    return Err(self.err(
                        "data.classes",
                        "empty class filter".into(),
                        "list the labels to keep, for example [0, 1], or remove the key",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Applies one `section.key=value` override to the TOML table. The value is
/// read as TOML (numbers, booleans, arrays) and as a plain string otherwise.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let Some((key, raw)) = assignment.split_once('=') else {
        return Err(Error::input(
            "--set",
            assignment,
            "expected key=value".to_string(),
            "write for example --set loss.tau=0.2",
        ));
    };
    let key = key.trim();
    let raw = raw.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|s| !s.is_empty()).ok_or_else(|| {
        Error::input(
            "--set",
            key,
            "empty key".to_string(),
            "write for example --set loss.tau=0.2",
        )
    })?;
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            Error::input(
                "--set",
                key,
                format!("{part} is not a section"),
                "use section.key=value",
            )
        })?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[data]
source = "disks"
centers = [[-2.0, 0.0], [2.0, 0.0]]
radius = 0.5
points_per_class = 10
"#;

    fn parse(text: &str) -> Result<Scenario> {
        Scenario::from_str_checked(text, Path::new("test.toml"))
    }

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.loss.tau, 0.1);
        assert_eq!(s.latent.dim, 1);
        assert_eq!(s.solver.method, "particles");
        assert_eq!(s.diagnostics.alpha_star, 0.9);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let text = format!("{MINIMAL}\n[loss]\ntaus = 0.1\n");
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("taus"), "{message}");
    }

    #[test]
    fn unknown_data_key_is_rejected() {
        let text = MINIMAL.replace("radius = 0.5", "radius = 0.5\nradiuss = 0.5");
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("radiuss"), "{message}");
    }

    #[test]
    fn nonpositive_tau_names_key() {
        let text = format!("{MINIMAL}\n[loss]\ntau = -1.0\n");
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("loss.tau"), "{message}");
    }

    #[test]
    fn zero_latent_dimension_rejected() {
        let text = format!("{MINIMAL}\n[latent]\ndim = 0\n");
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("latent.dim"), "{message}");
    }

    #[test]
    fn override_sets_nested_key() {
        let mut table: toml::Table = toml::from_str(MINIMAL).unwrap();
        apply_override(&mut table, "loss.tau=0.25").unwrap();
        apply_override(&mut table, "latent.space=sphere").unwrap();
        let s = Scenario::deserialize(table).unwrap();
        assert_eq!(s.loss.tau, 0.25);
        assert_eq!(s.latent.space, "sphere");
    }

    #[test]
    fn override_without_equals_rejected() {
        let mut table: toml::Table = toml::from_str(MINIMAL).unwrap();
        assert!(apply_override(&mut table, "loss.tau").is_err());
    }
}
