//! Initial features f_0(x_p) of the data nodes.

use std::f64::consts::PI;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::data::{CsvOptions, Dataset, read_csv};
use crate::error::{Error, Result};
use crate::scenario::Scenario;

/// Offset that separates the random stream of the initial features from
/// the data generators' stream for the same seed.
const INIT_STREAM: u64 = 0x6a09_e667_f3bc_c909;

/// Initial node features, row-major N x k, from `[init]`.
///
/// - `normal`: i.i.d. N(0, sigma0^2) per coordinate.
/// - `fourier`: f_0(x) = sigma0 sqrt(2/F) sum_f a_f cos(omega_f . x + b_f) with
///   omega_f ~ N(0, I / l^2), b_f ~ U(0, 2 pi), a_f ~ N(0, I_k). The random
///   function is drawn once from the seed, so it is the same smooth map for
///   any number of nodes, as an N-scaling study needs.
/// - `file`: one CSV row of k values per node.
///
/// On the sphere the features are e_1 + (the above), normalised: a small
/// perturbation of one point, the analogue of small features in R^k.
/// Features read from a file are only normalised.
pub fn initial_features(
    scenario: &Scenario,
    data: &Dataset,
    augmentation_scale: f64,
) -> Result<Vec<f64>> {
    let k = scenario.latent.dim;
    let n = data.len();
    let spec = &scenario.init;
    let seed = spec.seed.unwrap_or(scenario.seed);
    // A stream apart from the data generators', which start from the same
    // scenario seed: shared draws would correlate features with data noise.
    let mut rng = StdRng::seed_from_u64(seed ^ INIT_STREAM);
    let sigma0 = spec.sigma0;

    let mut features = match spec.kind.as_str() {
        "fourier" => {
            let count = spec.fourier_features;
            let length = spec.fourier_length.unwrap_or(augmentation_scale);
            let omegas: Vec<f64> = (0..count * data.dim)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    z / length
                })
                .collect();
            let phases: Vec<f64> = (0..count)
                .map(|_| rng.random_range(0.0..2.0 * PI))
                .collect();
            let amplitudes: Vec<f64> = (0..count * k)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            let norm = sigma0 * (2.0 / count as f64).sqrt();
            let mut out = vec![0.0; n * k];
            for p in 0..n {
                let x = data.point(p);
                for f in 0..count {
                    let arg: f64 = (0..data.dim)
                        .map(|c| omegas[f * data.dim + c] * x[c])
                        .sum::<f64>()
                        + phases[f];
                    let basis = arg.cos();
                    for c in 0..k {
                        out[p * k + c] += norm * amplitudes[f * k + c] * basis;
                    }
                }
            }
            out
        }
        "file" => {
            let path =
                scenario.resolve_path(spec.path.as_deref().unwrap_or(std::path::Path::new("")));
            let table = read_csv(&path, &CsvOptions::default()).map_err(|e| match e {
                Error::Input {
                    file,
                    message,
                    hint,
                    ..
                } => Error::Input {
                    file,
                    key: "init.path".into(),
                    message,
                    hint,
                },
                other => other,
            })?;
            if table.len() != n || table.dim != k {
                return Err(Error::input(
                    path.display().to_string(),
                    "init.path",
                    format!(
                        "holds {} rows of {} values, expected {n} rows of {k} (one per data point, latent dimension k)",
                        table.len(),
                        table.dim
                    ),
                    "write one row of k features per data point, in data order",
                ));
            }
            table.x
        }
        _ => (0..n * k)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                sigma0 * z
            })
            .collect(),
    };

    // Features from a file are taken as given, only normalised onto the sphere.
    let perturb_pole = spec.kind != "file";
    if scenario.latent.space == "sphere" {
        for row in features.chunks_exact_mut(k) {
            if perturb_pole {
                row[0] += 1.0;
            }
            let norm = row.iter().map(|a| a * a).sum::<f64>().sqrt();
            row.iter_mut().for_each(|a| *a /= norm);
        }
    }
    Ok(features)
}
