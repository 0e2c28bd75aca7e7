//! The linear phase: for small features the dynamics reduce to
//! d f~/dt = (1/tau) P f~, so the projection on each eigenfunction phi_i
//! grows like exp(lambda_i t / tau).

use std::path::Path;

use clflow::run::Problem;
use clflow::run::dynamics::Dynamics;
use clflow::scenario::Scenario;

/// Two overlapping disks: a connected augmentation graph, so lambda_1 = 1 is
/// simple and lambda_2 < 1 is well separated from lambda_3.
const SCENARIO: &str = r#"
seed = 11
[data]
source = "disks"
centers = [[-0.6, 0.0], [0.6, 0.0]]
radius = 0.5
points_per_class = 80
[augmentation]
scale = 0.35
[loss]
tau = 0.1
[init]
sigma0 = 1e-4
[solver]
integrator = "rk4"
max_step = 0.005
"#;

fn projection(features: &[f64], weights: &[f64], phi: &[f64]) -> f64 {
    let mean: f64 = features.iter().zip(weights).map(|(f, w)| f * w).sum();
    features
        .iter()
        .zip(weights)
        .zip(phi)
        .map(|((f, w), p)| w * (f - mean) * p)
        .sum()
}

#[test]
fn phi2_projection_grows_at_lambda2_over_tau() {
    let scenario = Scenario::from_str_checked(SCENARIO, Path::new("linear_phase.toml")).unwrap();
    let problem = Problem::build(scenario).unwrap();
    let lambda2 = problem.operator.eigenvalues[1];
    let tau = problem.scenario.loss.tau;
    let weights = problem.operator.view_weights().to_vec();
    let phi2 = problem.operator.eigenvectors[1].clone();
    assert!(
        lambda2 < 0.999,
        "lambda_2 = {lambda2} should be below 1 for connected data"
    );

    let mut dynamics = problem.particle_dynamics(1).unwrap();
    let c0 = projection(&dynamics.node_features(), &weights, &phi2);
    let end = 0.3;
    while dynamics.time() < end - 1e-12 {
        let h = end - dynamics.time();
        dynamics.step(h).unwrap();
    }
    let c1 = projection(&dynamics.node_features(), &weights, &phi2);
    let measured = (c1 / c0).ln() / dynamics.time();
    let expected = lambda2 / tau;
    let relative = (measured - expected).abs() / expected;
    assert!(
        relative < 0.02,
        "growth rate {measured:.5} against lambda_2 / tau = {expected:.5} (relative error {relative:.2e})"
    );
}
