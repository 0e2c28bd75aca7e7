//! Command-line behaviour on bad input: a one-line error naming the file,
//! the key and a fix, exit code 2, and no panic.

use std::path::Path;
use std::process::{Command, Output};

fn clflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clflow"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const BASE: &str = r#"
[data]
source = "disks"
centers = [[-2.0, 0.0], [2.0, 0.0]]
radius = 0.5
points_per_class = 20
[solver]
end_time = 0.05
"#;

/// Writes `text` as a scenario in `dir` and runs `clflow run` on it.
fn run_scenario(dir: &Path, text: &str, extra: &[&str]) -> Output {
    let path = dir.join("case.toml");
    std::fs::write(&path, text).unwrap();
    let out = dir.join("out");
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    clflow(&args)
}

fn assert_usage_error(output: &Output, needles: &[&str]) {
    let message = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code, stderr: {message}"
    );
    assert!(!message.contains("panicked"), "panic: {message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "expected {needle:?} in: {message}"
        );
    }
    assert!(message.contains("hint:"), "no hint in: {message}");
}

#[test]
fn missing_scenario_file() {
    let output = clflow(&["run", "scenarios/no_such_file.toml"]);
    assert_usage_error(&output, &["no_such_file.toml"]);
}

#[test]
fn misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(dir.path(), &format!("{BASE}\n[loss]\ntaw = 0.1\n"), &[]);
    assert_usage_error(&output, &["case.toml", "taw"]);
}

#[test]
fn nonpositive_tau() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(dir.path(), BASE, &["--set", "loss.tau=0"]);
    assert_usage_error(&output, &["case.toml", "loss.tau"]);
}

#[test]
fn nonpositive_scale() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(
        dir.path(),
        &format!("{BASE}\n[augmentation]\nscale = -0.3\n"),
        &[],
    );
    assert_usage_error(&output, &["augmentation.scale"]);
}

#[test]
fn zero_latent_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(dir.path(), BASE, &["--set", "latent.dim=0"]);
    assert_usage_error(&output, &["latent.dim"]);
}

const DIGITS: &str = r#"
[data]
source = "file"
path = "PATH"
label_column = 65
classes = [0, 1]
[solver]
end_time = 0.05
"#;

fn digits_scenario(extra: &str) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/digits.csv.gz");
    DIGITS.replace("PATH", data.to_str().unwrap()) + extra
}

#[test]
fn label_column_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(
        dir.path(),
        &digits_scenario(""),
        &["--set", "data.label_column=70"],
    );
    assert_usage_error(&output, &["digits.csv.gz", "data.label_column", "70"]);
}

#[test]
fn class_filter_selects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(
        dir.path(),
        &digits_scenario(""),
        &["--set", "data.classes=[42]"],
    );
    assert_usage_error(&output, &["data.classes"]);
}

#[test]
fn missing_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(
        dir.path(),
        &digits_scenario("").replace("digits.csv.gz", "nothing.csv"),
        &[],
    );
    assert_usage_error(&output, &["nothing.csv", "data.path"]);
}

#[test]
fn unwritable_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a_file");
    std::fs::write(&blocker, b"x").unwrap();
    let scenario = dir.path().join("case.toml");
    std::fs::write(&scenario, BASE).unwrap();
    let out = blocker.join("out");
    let output = clflow(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_usage_error(&output, &["a_file", "--out"]);
}

#[test]
fn bad_override_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(dir.path(), BASE, &["--set", "loss.tau"]);
    assert_usage_error(&output, &["--set", "key=value"]);
}

#[test]
fn spectrum_and_inspect_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_scenario(dir.path(), BASE, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let spectrum = clflow(&["spectrum", dir.path().join("case.toml").to_str().unwrap()]);
    assert_eq!(spectrum.status.code(), Some(0), "{}", stderr(&spectrum));
    assert!(String::from_utf8_lossy(&spectrum.stdout).contains("gap"));
    let inspect = clflow(&["inspect", dir.path().join("out/run.h5").to_str().unwrap()]);
    assert_eq!(inspect.status.code(), Some(0), "{}", stderr(&inspect));
    let listing = String::from_utf8_lossy(&inspect.stdout).into_owned();
    assert!(
        listing.contains("features") && listing.contains("alpha"),
        "{listing}"
    );
}

#[test]
fn inspect_rejects_non_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.h5");
    std::fs::write(&path, b"plain text").unwrap();
    let output = clflow(&["inspect", path.to_str().unwrap()]);
    assert_usage_error(&output, &["not.h5"]);
}
