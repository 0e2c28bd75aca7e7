//! Particles against the grid JKO scheme on a small three-disk case: both
//! discretise one Wasserstein gradient flow, so their alignment curves agree
//! and the W2 gap between their fibers shrinks under refinement.

use std::path::Path;

use clflow::compare::compare;
use clflow::scenario::Scenario;

/// 201 nodes, 16 particles per node, 256 latent cells, JKO steps of at most
/// 0.005, fibers of standard deviation 0.08 (so the coarsest refinement
/// level, 128 cells, still resolves them with two cells).
const SCENARIO: &str = r#"
seed = 21
[data]
source = "disks"
centers = [[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0]]
radius = 0.5
points_per_class = 67
[augmentation]
scale = 0.3
[loss]
tau = 0.1
[solver]
end_time = 1.0
particles_per_node = 16
diagnostics_interval = 0.01
snapshot_interval = 0.1
[grid]
cells = 256
fiber_sigma = 0.08
max_step = 0.005
"#;

#[test]
fn particles_and_grid_agree() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::from_str_checked(SCENARIO, Path::new("compare_case.toml")).unwrap();
    let summary = compare(scenario, dir.path(), true, false).unwrap();
    let comparison = summary.comparison.as_ref().unwrap();

    let max_alpha_difference = comparison["max_alpha_difference"].as_f64().unwrap();
    assert!(
        max_alpha_difference < 0.05,
        "alpha curves differ by {max_alpha_difference}"
    );

    let levels = comparison["refinement"].as_array().unwrap();
    assert_eq!(levels.len(), 3, "{comparison}");
    let w2: Vec<f64> = levels.iter().map(|l| l["w2"].as_f64().unwrap()).collect();
    eprintln!(
        "W2 gap by level: {w2:?}, orders {}",
        comparison["observed_orders"]
    );
    assert!(w2[1] < w2[0], "W2 gap did not shrink: {w2:?}");
    assert!(w2[2] < w2[1], "W2 gap did not shrink: {w2:?}");

    for name in [
        "compare.h5",
        "alignment_compare.png",
        "w2_gap.png",
        "fibers.png",
        "summary.json",
    ] {
        assert!(dir.path().join(name).exists(), "{name} missing");
    }
    let file = hdf5::File::open(dir.path().join("compare.h5")).unwrap();
    assert_eq!(
        file.dataset("grid/snapshots/fibers").unwrap().shape()[1..],
        [201, 256]
    );
    assert_eq!(
        file.dataset("particles/snapshots/features")
            .unwrap()
            .shape()[1..],
        [201 * 16, 1]
    );
    let mass_error: Vec<f64> = file
        .dataset("grid/diagnostics/mass_error")
        .unwrap()
        .read_raw()
        .unwrap();
    assert!(
        mass_error.iter().all(|e| *e < 1e-12),
        "fiber mass drifted: {:?}",
        mass_error.iter().cloned().fold(0.0, f64::max)
    );
}
