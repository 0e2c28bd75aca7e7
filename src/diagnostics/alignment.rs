//! Spectral alignment of the features with the top eigenfunctions of the
//! augmentation operator, and label-free proxies.

/// Weighted mean over nodes of each latent coordinate, sum_p w_p f_p.
pub fn weighted_mean(features: &[f64], dim: usize, weights: &[f64]) -> Vec<f64> {
    let mut mean = vec![0.0; dim];
    for (f, w) in features.chunks_exact(dim).zip(weights) {
        for c in 0..dim {
            mean[c] += w * f[c];
        }
    }
    mean
}

/// Spectral alignment
///
/// ```text
/// alpha = sum_{i<=K} sum_c <f~_c, phi_i>_w^2 / sum_c |f~_c|_w^2,   f~ = f - sum_p w_p f_p,
/// ```
/// the share of the w-centred features in span(phi_1..phi_K). The sum starts
/// at phi_1 because with disconnected classes the eigenvalue 1 repeats and the
/// constant need not be phi_1; since f~ is w-centred, the constant adds nothing.
/// Returns NaN when the centred features vanish (all features equal).
///
/// `features` is row-major N x dim; `phis` are w-orthonormal eigenfunctions.
pub fn spectral_alignment(
    features: &[f64],
    dim: usize,
    weights: &[f64],
    phis: &[Vec<f64>],
    k: usize,
) -> f64 {
    let mean = weighted_mean(features, dim, weights);
    let mut total = 0.0;
    let mut captured = 0.0;
    for c in 0..dim {
        let centred = |p: usize| features[p * dim + c] - mean[c];
        total += (0..weights.len())
            .map(|p| weights[p] * centred(p).powi(2))
            .sum::<f64>();
        for phi in phis.iter().take(k) {
            let inner: f64 = (0..weights.len())
                .map(|p| weights[p] * centred(p) * phi[p])
                .sum();
            captured += inner * inner;
        }
    }
    if total > 0.0 {
        captured / total
    } else {
        f64::NAN
    }
}

/// Kernel-target alignment of the centred feature Gram matrix with the
/// augmentation operator, without forming N x N matrices:
///
/// ```text
/// KTA = <G, S0>_F / (|G|_F |S0|_F),   G = V V^T,  V_pc = sqrt(w_p) f~_pc,
/// S0 = S - sqrt(w) sqrt(w)^T  (S without its constant eigenpair),
/// <G, S0>_F = sum_c sum_{j,k} pi_jk f~_jc f~_kc,   |G|_F = |V^T V|_F,
/// |S0|_F^2 = sum_{j,k} pi_jk^2 / (w_j w_k) - 1.
/// ```
/// Lies in [-1, 1]; NaN for collapsed features.
pub fn kernel_target_alignment(
    features: &[f64],
    dim: usize,
    pairs: &clflow_solvers::PositivePairs,
) -> f64 {
    let w = pairs.view_weights();
    let n = pairs.n();
    let mean = weighted_mean(features, dim, w);
    let centred = |p: usize, c: usize| features[p * dim + c] - mean[c];

    let mut inner = 0.0;
    let mut s_norm2 = 0.0;
    for j in 0..n {
        let (cols, vals) = pairs.row(j);
        for (&k, &v) in cols.iter().zip(vals) {
            for c in 0..dim {
                inner += v * centred(j, c) * centred(k, c);
            }
            s_norm2 += v * v / (w[j] * w[k]);
        }
    }
    let mut gram = vec![0.0; dim * dim];
    for p in 0..n {
        for a in 0..dim {
            for b in 0..dim {
                gram[a * dim + b] += w[p] * centred(p, a) * centred(p, b);
            }
        }
    }
    let g_norm = gram.iter().map(|v| v * v).sum::<f64>().sqrt();
    let s0_norm = (s_norm2 - 1.0).max(0.0).sqrt();
    if g_norm > 0.0 && s0_norm > 0.0 {
        inner / (g_norm * s0_norm)
    } else {
        f64::NAN
    }
}

/// Logistic bound on the time to reach alignment alpha* from alpha_0 in the
/// linear phase, where mode i grows like exp(lambda_i t / tau):
/// t <= tau / (2 g) log[ alpha* (1 - alpha_0) / (alpha_0 (1 - alpha*)) ].
/// Returns NaN when g <= 0 or alpha_0 is outside (0, 1).
pub fn predicted_alignment_time(tau: f64, gap: f64, alpha0: f64, alpha_star: f64) -> f64 {
    if !(gap > 0.0 && alpha0 > 0.0 && alpha0 < 1.0) {
        return f64::NAN;
    }
    if alpha0 >= alpha_star {
        return 0.0;
    }
    tau / (2.0 * gap) * (alpha_star * (1.0 - alpha0) / (alpha0 * (1.0 - alpha_star))).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_of_eigenfunction_is_one() {
        let w = vec![0.25; 4];
        // w-orthonormal: constant, and a centred +-1 vector.
        let phis = vec![
            vec![1.0; 4],
            vec![1.0, 1.0, -1.0, -1.0],
            vec![1.0, -1.0, 1.0, -1.0],
        ];
        let features = vec![3.0, 3.0, 1.0, 1.0];
        assert!((spectral_alignment(&features, 1, &w, &phis, 2) - 1.0).abs() < 1e-14);
        assert!(spectral_alignment(&features, 1, &w, &phis[2..], 1).abs() < 1e-14);
        // Half of the centred variance in each of two modes.
        let mixed = vec![2.0, 0.0, 0.0, -2.0];
        assert!((spectral_alignment(&mixed, 1, &w, &phis, 2) - 0.5).abs() < 1e-14);
    }

    #[test]
    fn alignment_ignores_constant_shift() {
        let w = vec![0.25; 4];
        let phis = vec![vec![1.0; 4], vec![1.0, 1.0, -1.0, -1.0]];
        let a = spectral_alignment(&[1.0, 0.5, -1.0, 0.2], 1, &w, &phis, 2);
        let b = spectral_alignment(&[11.0, 10.5, 9.0, 10.2], 1, &w, &phis, 2);
        assert!((a - b).abs() < 1e-12);
    }

    #[test]
    fn collapsed_features_give_nan() {
        let w = vec![0.5; 2];
        assert!(spectral_alignment(&[1.0, 1.0], 1, &w, &[vec![1.0, 1.0]], 1).is_nan());
    }

    #[test]
    fn prediction_matches_logistic_formula() {
        let t = predicted_alignment_time(0.1, 0.5, 0.1, 0.9);
        assert!((t - 0.1 / 1.0 * 81f64.ln()).abs() < 1e-14);
        assert!(predicted_alignment_time(0.1, 0.0, 0.1, 0.9).is_nan());
        assert_eq!(predicted_alignment_time(0.1, 0.5, 0.95, 0.9), 0.0);
    }

    #[test]
    fn kta_of_block_pairs() {
        // Two disconnected blocks: S0 is rank one along the class indicator,
        // so features equal to the indicator align perfectly.
        let dense = [
            0.125, 0.125, 0.0, 0.0, 0.125, 0.125, 0.0, 0.0, 0.0, 0.0, 0.125, 0.125, 0.0, 0.0,
            0.125, 0.125,
        ];
        let pairs = clflow_solvers::PositivePairs::from_dense(4, &dense).unwrap();
        let kta = kernel_target_alignment(&[1.0, 1.0, -1.0, -1.0], 1, &pairs);
        assert!((kta - 1.0).abs() < 1e-12, "{kta}");
        let orthogonal = kernel_target_alignment(&[1.0, -1.0, 1.0, -1.0], 1, &pairs);
        assert!(orthogonal.abs() < 1e-12, "{orthogonal}");
    }
}
