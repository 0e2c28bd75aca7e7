//! Checks of the contrastive energy against finite differences and exact identities.

use clflow_solvers::{ContrastiveEnergy, EnergyWorkspace, LatentSpace, Parallelism, PositivePairs};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A random dense symmetric positive-pair matrix with entries summing to 1.
fn random_pairs(n: usize, seed: u64) -> PositivePairs {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dense = vec![0.0; n * n];
    for j in 0..n {
        for k in j..n {
            let v: f64 = rng.random_range(0.1..1.0);
            dense[j * n + k] = v;
            dense[k * n + j] = v;
        }
    }
    let total: f64 = dense.iter().sum();
    dense.iter_mut().for_each(|v| *v /= total);
    PositivePairs::from_dense(n, &dense).unwrap()
}

fn random_features(count: usize, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| scale * rng.random_range(-1.0..1.0))
        .collect()
}

fn loss(energy: &ContrastiveEnergy, z: &[f64]) -> f64 {
    energy
        .loss(z, Parallelism::Sequential, &mut EnergyWorkspace::default())
        .unwrap()
}

/// Largest relative error of the analytic gradient against central differences,
/// measured on the tangent directions of `space`.
fn gradient_error(energy: &ContrastiveEnergy, space: LatentSpace, z: &[f64]) -> f64 {
    let dim = space.dim();
    let mut grad = vec![0.0; z.len()];
    energy
        .loss_and_gradient(
            z,
            &mut grad,
            Parallelism::Sequential,
            &mut EnergyWorkspace::default(),
        )
        .unwrap();
    space.project_tangent(z, &mut grad);

    let eps = 1e-5;
    let mut numeric = vec![0.0; z.len()];
    for idx in 0..z.len() {
        let mut plus = z.to_vec();
        let mut minus = z.to_vec();
        plus[idx] += eps;
        minus[idx] -= eps;
        // On the sphere the loss is evaluated after retraction, so the
        // difference quotient sees only the tangent part of the move.
        space.retract(&mut plus);
        space.retract(&mut minus);
        numeric[idx] = (loss(energy, &plus) - loss(energy, &minus)) / (2.0 * eps);
    }
    if space.is_sphere() {
        space.project_tangent(z, &mut numeric);
    }

    let scale = grad.iter().map(|g| g.abs()).fold(0.0, f64::max);
    let _ = dim;
    grad.iter()
        .zip(&numeric)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0, f64::max)
}

#[test]
fn gradient_matches_finite_differences_r1() {
    let pairs = random_pairs(12, 1);
    let energy = ContrastiveEnergy::new(&pairs, 0.1, 1, 1).unwrap();
    let z = random_features(12, 0.5, 2);
    let error = gradient_error(&energy, LatentSpace::new(false, 1).unwrap(), &z);
    assert!(error < 1e-6, "relative error {error:e}");
}

#[test]
fn gradient_matches_finite_differences_r3() {
    let pairs = random_pairs(10, 3);
    let energy = ContrastiveEnergy::new(&pairs, 0.3, 1, 3).unwrap();
    let z = random_features(30, 0.8, 4);
    let error = gradient_error(&energy, LatentSpace::new(false, 3).unwrap(), &z);
    assert!(error < 1e-6, "relative error {error:e}");
}

#[test]
fn gradient_matches_finite_differences_sphere() {
    let pairs = random_pairs(9, 5);
    let space = LatentSpace::new(true, 3).unwrap();
    let energy = ContrastiveEnergy::new(&pairs, 0.5, 1, 3).unwrap();
    let mut z = random_features(27, 1.0, 6);
    space.retract(&mut z);
    let error = gradient_error(&energy, space, &z);
    assert!(error < 1e-6, "relative error {error:e}");
}

#[test]
fn gradient_matches_finite_differences_many_per_node() {
    let pairs = random_pairs(5, 7);
    let energy = ContrastiveEnergy::new(&pairs, 0.2, 3, 2).unwrap();
    let z = random_features(5 * 3 * 2, 0.6, 8);
    let error = gradient_error(&energy, LatentSpace::new(false, 2).unwrap(), &z);
    assert!(error < 1e-6, "relative error {error:e}");
}

#[test]
fn collapsed_features_give_log_two() {
    let pairs = random_pairs(15, 9);
    for dim in 1..=3 {
        let energy = ContrastiveEnergy::new(&pairs, 0.07, 1, dim).unwrap();
        let z = vec![0.3; 15 * dim];
        let value = loss(&energy, &z);
        assert!((value - 2f64.ln()).abs() < 1e-14, "dim {dim}: {value}");
    }
}

#[test]
fn shift_of_cloud_leaves_loss_unchanged() {
    let pairs = random_pairs(10, 10);
    let energy = ContrastiveEnergy::new(&pairs, 0.05, 1, 2).unwrap();
    let z = random_features(20, 0.3, 11);
    let shifted: Vec<f64> = z.iter().map(|v| v + 1e6).collect();
    let a = loss(&energy, &z);
    let b = loss(&energy, &shifted);
    // A shift of 1e6 leaves about 1e-10 absolute accuracy in each difference.
    assert!((a - b).abs() < 1e-6 * a.abs(), "{a} vs {b}");
}

#[test]
fn small_temperature_stays_finite() {
    let pairs = random_pairs(8, 12);
    let energy = ContrastiveEnergy::new(&pairs, 1e-4, 1, 1).unwrap();
    let z = random_features(8, 5.0, 13);
    let mut grad = vec![0.0; 8];
    let value = energy
        .loss_and_gradient(
            &z,
            &mut grad,
            Parallelism::Sequential,
            &mut EnergyWorkspace::default(),
        )
        .unwrap();
    assert!(value.is_finite());
    assert!(grad.iter().all(|g| g.is_finite()));
}

/// On the sphere |z - z'|^2 = 2 - 2 z.z', so the Gaussian kernel equals
/// e^{-1/tau} exp(z.z'/tau): the cosine NT-Xent loss written with
/// exp(z.z'/tau) must give the same value because the factor cancels.
#[test]
fn sphere_loss_equals_cosine_form() {
    let n = 11;
    let tau = 0.2;
    let pairs = random_pairs(n, 14);
    let space = LatentSpace::new(true, 3).unwrap();
    let mut z = random_features(n * 3, 1.0, 15);
    space.retract(&mut z);
    let energy = ContrastiveEnergy::new(&pairs, tau, 1, 3).unwrap();
    let gaussian = loss(&energy, &z);

    let w = pairs.view_weights();
    let cosine = |j: usize, k: usize| -> f64 {
        let dot: f64 = (0..3).map(|c| z[j * 3 + c] * z[k * 3 + c]).sum();
        (dot / tau).exp()
    };
    let mut expected = 0.0;
    for j in 0..n {
        let r: f64 = (0..n).map(|l| w[l] * cosine(j, l)).sum();
        for k in 0..n {
            let eta = cosine(j, k);
            expected += pairs.get(j, k) * ((eta + r).ln() - eta.ln());
        }
    }
    assert!(
        (gaussian - expected).abs() < 1e-12,
        "{gaussian} vs {expected}"
    );
}

#[test]
fn thread_count_does_not_change_bits() {
    let pairs = random_pairs(300, 16);
    let energy = ContrastiveEnergy::new(&pairs, 0.1, 1, 2).unwrap();
    let z = random_features(600, 1.0, 17);
    let mut g_seq = vec![0.0; 600];
    let mut g_par = vec![0.0; 600];
    let l_seq = energy
        .loss_and_gradient(
            &z,
            &mut g_seq,
            Parallelism::Sequential,
            &mut EnergyWorkspace::default(),
        )
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let l_par = pool.install(|| {
        energy
            .loss_and_gradient(
                &z,
                &mut g_par,
                Parallelism::Rayon,
                &mut EnergyWorkspace::default(),
            )
            .unwrap()
    });
    assert_eq!(l_seq.to_bits(), l_par.to_bits());
    assert!(
        g_seq
            .iter()
            .zip(&g_par)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}
