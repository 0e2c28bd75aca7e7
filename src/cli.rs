//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Training dynamics of contrastive learning as a Wasserstein gradient flow.
#[derive(Debug, Parser)]
#[command(name = "clflow", version, about, long_about = None)]
pub struct Cli {
    /// Print progress of the phases (info) or step control (debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Discretisation of the latent gradient flow.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SolverChoice {
    /// Interacting particles (one or M per node).
    Particles,
    /// Eulerian JKO scheme on a latent grid (latent R^1 or the circle).
    Grid,
}

/// Options shared by the commands that read a scenario.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// Scenario TOML file, for example scenarios/digits.toml.
    pub scenario: PathBuf,

    /// Seed for every random choice without a seed of its own (overrides `seed`).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Override a scenario key, as section.key=value (repeatable), for example --set loss.tau=0.2.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a scenario; writes run.h5, PNG plots and summary.json.
    Run {
        #[command(flatten)]
        scenario: ScenarioArgs,

        /// Output folder. Default: output/<scenario name>.
        #[arg(long)]
        out: Option<PathBuf>,

        /// Discretisation, overriding the scenario's solver.method.
        #[arg(long, value_enum)]
        solver: Option<SolverChoice>,
    },

    /// Run particles and the grid scheme from the same initial fibers and compare them.
    Compare {
        #[command(flatten)]
        scenario: ScenarioArgs,

        /// Output folder. Default: output/<scenario name>-compare.
        #[arg(long)]
        out: Option<PathBuf>,

        /// Skip the refinement study (cells M_z and particles per node M).
        #[arg(long)]
        no_refinement: bool,
    },

    /// Print the augmentation diagnostics of a scenario (spectrum, gap, leakage) without running it.
    Spectrum {
        #[command(flatten)]
        scenario: ScenarioArgs,
    },

    /// List the groups, datasets (with shapes) and attributes of a results file.
    Inspect {
        /// HDF5 file written by clflow, for example output/digits/run.h5.
        file: PathBuf,
    },
}
