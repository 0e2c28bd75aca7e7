//! clflow command-line entry point. Exit codes: 0 success, 1 run failure,
//! 2 usage error (bad scenario, data file or option).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use clflow::cli::{Cli, Command, ScenarioArgs, SolverChoice};
use clflow::{Error, commands};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .format_timestamp(None)
        .init();

    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code() as u8)
        }
    }
}

/// Prints a line to standard output; a closed pipe (as in `clflow ... | head`)
/// is not an error worth a panic, because the results are already on disk.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn load(args: &ScenarioArgs) -> Result<clflow::scenario::Scenario, Error> {
    commands::load_scenario(&args.scenario, args.seed, &args.overrides)
}

fn execute(command: Command) -> Result<(), Error> {
    let progress = std::io::stderr().is_terminal();
    match command {
        Command::Run {
            scenario,
            out,
            solver,
        } => {
            let scenario = load(&scenario)?;
            let out = out.unwrap_or_else(|| commands::default_out_dir(&scenario));
            let solver = solver.map(|s| match s {
                SolverChoice::Particles => "particles",
                SolverChoice::Grid => "grid",
            });
            let summary = commands::run(scenario, &out, solver, progress)?;
            print_out(&format!(
                "{}\nresults in {}: run.h5, summary.json, *.png",
                summary.table(),
                out.display()
            ));
        }
        Command::Compare {
            scenario,
            out,
            no_refinement,
        } => {
            let scenario = load(&scenario)?;
            let out = out.unwrap_or_else(|| {
                std::path::Path::new("output").join(format!("{}-compare", scenario.display_name()))
            });
            let summary = clflow::compare::compare(scenario, &out, !no_refinement, progress)?;
            print_out(&format!(
                "{}\nresults in {}: compare.h5, summary.json, *.png",
                summary.table(),
                out.display()
            ));
        }
        Command::Spectrum { scenario } => {
            print_out(&commands::spectrum(load(&scenario)?)?);
        }
        Command::Inspect { file } => {
            print_out(commands::inspect(&file)?.trim_end());
        }
    }
    Ok(())
}
