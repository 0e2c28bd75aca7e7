//! End-to-end run of the shipped three-disk scenario: spectral alignment
//! comes first, then linear separability, and the results file contains the
//! documented datasets.

use std::path::Path;

use clflow::commands::{load_scenario, run};

#[test]
fn alignment_precedes_separation() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = load_scenario(Path::new("scenarios/three_disks.toml"), None, &[]).unwrap();
    let summary = run(scenario, dir.path(), None, false).unwrap();
    let particles = &summary.solvers[0];

    let t_align = particles.events.t_align.expect("alpha never passed alpha*");
    let t_sep = particles
        .events
        .t_sep
        .expect("the classes never became separable");
    assert!(
        t_align <= t_sep,
        "t_align = {t_align} after t_sep = {t_sep}"
    );
    assert_eq!(particles.final_separable, Some(true));
    assert!(
        particles.final_alpha > 0.9,
        "final alpha {}",
        particles.final_alpha
    );
    assert!(
        summary.spectrum.leakage.unwrap() < 0.01,
        "leakage {:?}",
        summary.spectrum.leakage
    );

    // The results file: documented datasets with the documented shapes.
    let file = hdf5::File::open(dir.path().join("run.h5")).unwrap();
    let n = summary.nodes;
    let features = file.dataset("particles/snapshots/features").unwrap();
    let times = file.dataset("particles/snapshots/times").unwrap();
    assert_eq!(features.shape()[1..], [n, 1]);
    assert_eq!(features.shape()[0], times.shape()[0]);
    assert_eq!(file.dataset("data/x").unwrap().shape(), vec![n, 2]);
    assert_eq!(file.dataset("data/labels").unwrap().shape(), vec![n]);
    assert_eq!(
        file.dataset("augmentation/view_weights").unwrap().shape(),
        vec![n]
    );
    let eigenvectors = file.dataset("augmentation/eigenvectors").unwrap();
    assert_eq!(eigenvectors.shape()[0], n);
    let alpha: Vec<f64> = file
        .dataset("particles/diagnostics/alpha")
        .unwrap()
        .read_raw()
        .unwrap();
    let time: Vec<f64> = file
        .dataset("particles/diagnostics/time")
        .unwrap()
        .read_raw()
        .unwrap();
    assert_eq!(alpha.len(), time.len());
    assert!((time.last().unwrap() - 3.0).abs() < 1e-9);
    let t_align_attr: f64 = file
        .group("particles")
        .unwrap()
        .attr("t_align")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert_eq!(t_align_attr, t_align);
    for name in [
        "alignment.png",
        "loss.png",
        "spectrum.png",
        "trajectories.png",
        "latent.png",
        "summary.json",
    ] {
        assert!(dir.path().join(name).exists(), "{name} missing");
    }
}

#[test]
fn same_seed_gives_identical_features() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let overrides = vec!["solver.end_time=0.3".to_string()];
    for dir in [&first, &second] {
        let scenario =
            load_scenario(Path::new("scenarios/three_disks.toml"), Some(9), &overrides).unwrap();
        run(scenario, dir.path(), None, false).unwrap();
    }
    let read = |dir: &tempfile::TempDir| -> Vec<f64> {
        let file = hdf5::File::open(dir.path().join("run.h5")).unwrap();
        file.dataset("particles/snapshots/features")
            .unwrap()
            .read_raw()
            .unwrap()
    };
    let a = read(&first);
    let b = read(&second);
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// The grid scheme over a run of the three-disk scenario: every fiber keeps
/// mass 1, and since each accepted JKO step satisfies
/// E(new) + W2^2 / (2h) <= E(old), the energy never increases.
#[test]
fn grid_run_conserves_mass_and_dissipates() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = vec!["solver.end_time=1.0".to_string()];
    let scenario =
        load_scenario(Path::new("scenarios/three_disks.toml"), None, &overrides).unwrap();
    let summary = run(scenario, dir.path(), Some("grid"), false).unwrap();
    assert_eq!(summary.solvers[0].solver, "grid");

    let file = hdf5::File::open(dir.path().join("run.h5")).unwrap();
    let mass_error: Vec<f64> = file
        .dataset("grid/diagnostics/mass_error")
        .unwrap()
        .read_raw()
        .unwrap();
    let worst = mass_error.iter().copied().fold(0.0, f64::max);
    assert!(worst < 1e-12, "fiber mass drifted by {worst:e}");

    let energy: Vec<f64> = file
        .dataset("grid/diagnostics/energy")
        .unwrap()
        .read_raw()
        .unwrap();
    for pair in energy.windows(2) {
        // Tolerance: the stepper accepts a relative energy excess of 1e-9.
        assert!(
            pair[1] <= pair[0] + 1e-8 * pair[0].abs().max(1.0),
            "energy rose from {} to {}",
            pair[0],
            pair[1]
        );
    }

    let fibers: Vec<f64> = file
        .dataset("grid/snapshots/fibers")
        .unwrap()
        .read_raw()
        .unwrap();
    assert!(fibers.iter().all(|m| *m >= 0.0), "negative cell mass");
    assert!(summary.solvers[0].events.t_align.is_some());
}
