//! Conservative deposit of transported cell masses back onto the grid.

use std::f64::consts::TAU;

use crate::error::{Error, Result};
use crate::grid::latent_grid::{GridKind, LatentGrid};

/// Pushes the masses of all cells forward to their target positions and
/// deposits them on the grid by the cloud-in-cell rule. The mass of cell a
/// lands at t_a and is split linearly between the two cell centres that
/// bracket t_a, each getting a share proportional to the distance from t_a
/// to the other centre. Each split
/// preserves mass and first moment, so the total mass is preserved up to
/// rounding and every output mass is non-negative. On the interval targets
/// are clamped to [u_0, u_{M-1}] (no flux through the ends). On the circle
/// targets are angles of any winding.
pub fn deposit(grid: &LatentGrid, masses: &[f64], targets: &[f64], out: &mut [f64]) -> Result<()> {
    grid.check_len("masses to deposit", masses.len())?;
    grid.check_len("deposit targets", targets.len())?;
    grid.check_len("deposit output", out.len())?;
    if let Some(&bad) = targets.iter().find(|t| !t.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "deposit target",
            value: bad,
            reason: "target positions must be finite",
        });
    }
    let m = grid.cells();
    let dx = grid.spacing();
    let first = grid.centre(0);
    out.iter_mut().for_each(|x| *x = 0.0);
    for (&mass, &t) in masses.iter().zip(targets) {
        if mass == 0.0 {
            continue;
        }
        match grid.kind() {
            GridKind::Interval => {
                let s = ((t - first) / dx).clamp(0.0, (m - 1) as f64);
                let left = (s.floor() as usize).min(m - 2);
                let fraction = s - left as f64;
                out[left] += mass * (1.0 - fraction);
                out[left + 1] += mass * fraction;
            }
            GridKind::Circle => {
                let s = ((t - first).rem_euclid(TAU) / dx).min(m as f64);
                let left = (s.floor() as usize).min(m - 1);
                let fraction = (s - left as f64).clamp(0.0, 1.0);
                out[left] += mass * (1.0 - fraction);
                out[(left + 1) % m] += mass * fraction;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deposit_preserves_mass_and_mean() {
        let grid = LatentGrid::interval(-1.0, 1.0, 20).unwrap();
        let masses: Vec<f64> = (0..20).map(|a| 0.01 + 0.001 * a as f64).collect();
        let targets: Vec<f64> = grid.centres().iter().map(|u| 0.7 * u + 0.05).collect();
        let mut out = vec![0.0; 20];
        deposit(&grid, &masses, &targets, &mut out).unwrap();
        let total_in: f64 = masses.iter().sum();
        let total_out: f64 = out.iter().sum();
        assert!((total_in - total_out).abs() < 1e-15);
        let mean_in: f64 = masses.iter().zip(&targets).map(|(m, t)| m * t).sum();
        let mean_out: f64 = out
            .iter()
            .enumerate()
            .map(|(a, m)| m * grid.centre(a))
            .sum();
        assert!((mean_in - mean_out).abs() < 1e-15);
        assert!(out.iter().all(|&x| x >= 0.0));
    }

    #[test]
    fn deposit_wraps_on_circle_and_clamps_on_interval() {
        let circle = LatentGrid::circle(8).unwrap();
        let mut masses = vec![0.0; 8];
        masses[0] = 1.0;
        let mut targets = circle.centres();
        // Halfway between the last and the first centre, one turn backwards.
        targets[0] = circle.centre(7) + 0.5 * circle.spacing() - TAU;
        let mut out = vec![0.0; 8];
        deposit(&circle, &masses, &targets, &mut out).unwrap();
        assert!((out[7] - 0.5).abs() < 1e-14, "{out:?}");
        assert!((out[0] - 0.5).abs() < 1e-14, "{out:?}");

        let interval = LatentGrid::interval(0.0, 1.0, 8).unwrap();
        let mut targets = interval.centres();
        targets[0] = -3.0;
        deposit(&interval, &masses, &targets, &mut out).unwrap();
        assert_eq!(out[0], 1.0);
    }
}
