//! Discrete Moreau envelope (c-transform for the cost |x - y|^2 / (2h)) and
//! the proximal map, in linear time.
//!
//! For nodes x_i with values f_i and a query y,
//!
//! ```text
//! env(y) = min_i f_i + (x_i - y)^2 / (2h),    argmin(y) = the minimising i.
//! ```
//! Expanding the square, argmin(y) minimises g_i - x_i y / h with
//! g_i = f_i + x_i^2 / (2h), so it is a vertex of the lower convex hull of the
//! points (x_i, g_i), and it moves right as y grows (discrete Legendre
//! transform, Lucet's linear-time algorithm). Between hull vertices k and k+1
//! the minimiser switches at the breakpoint
//!
//! ```text
//! b_k = (x_k + x_{k+1}) / 2 + h (f_{k+1} - f_k) / (x_{k+1} - x_k),
//! ```
//! which is formed from differences of f, never from g, so large x^2 / (2h)
//! values do not swamp f when h is small.

use std::f64::consts::TAU;

use crate::error::{Error, Result};
use crate::grid::latent_grid::{GridKind, LatentGrid};

/// Computes env(y_j) and argmin(y_j) for nodes `x` and queries `y`, both
/// strictly increasing. Cost O(len(x) + len(y)). Ties go to the smallest index.
pub fn moreau_envelope(
    x: &[f64],
    f: &[f64],
    y: &[f64],
    h: f64,
    envelope: &mut [f64],
    argmin: &mut [usize],
) -> Result<()> {
    check_step(h)?;
    if f.len() != x.len() {
        return Err(Error::SizeMismatch {
            what: "values of the Moreau envelope",
            expected: x.len(),
            found: f.len(),
        });
    }
    if envelope.len() != y.len() || argmin.len() != y.len() {
        return Err(Error::SizeMismatch {
            what: "output of the Moreau envelope",
            expected: y.len(),
            found: envelope.len().min(argmin.len()),
        });
    }
    if x.is_empty() {
        return Err(Error::InvalidParameter {
            name: "number of envelope nodes",
            value: 0.0,
            reason: "the Moreau envelope needs at least one node",
        });
    }
    if x.windows(2).any(|w| !(w[1] > w[0])) || y.windows(2).any(|w| !(w[1] > w[0])) {
        return Err(Error::Unsupported(
            "Moreau envelope nodes and queries must be finite and strictly increasing",
        ));
    }
    if let Some(bad) = f.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "envelope value",
            value: *bad,
            reason: "values must be finite",
        });
    }

    // Lower hull as a stack of node indices with increasing breakpoints.
    let breakpoint = |i: usize, j: usize| 0.5 * (x[i] + x[j]) + h * (f[j] - f[i]) / (x[j] - x[i]);
    let mut hull: Vec<usize> = Vec::with_capacity(x.len());
    let mut breaks: Vec<f64> = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        while let Some(&last) = hull.last() {
            let b = breakpoint(last, i);
            match breaks.last() {
                // The previous vertex is never the unique minimiser: drop it.
                Some(&prev) if b <= prev => {
                    hull.pop();
                    breaks.pop();
                }
                _ => {
                    breaks.push(b);
                    break;
                }
            }
        }
        hull.push(i);
    }

    // breaks[k] separates hull[k] (left) from hull[k + 1] (right).
    let mut k = 0;
    for ((&yj, env), arg) in y.iter().zip(envelope.iter_mut()).zip(argmin.iter_mut()) {
        while k < breaks.len() && breaks[k] < yj {
            k += 1;
        }
        let i = hull[k];
        *arg = i;
        *env = f[i] + (x[i] - yj) * (x[i] - yj) / (2.0 * h);
    }
    Ok(())
}

/// Discrete proximal map of a potential given at the cell centres of `grid`.
///
/// For each cell centre y_b, `envelope[b]` is the discrete Moreau envelope
/// min_a f_a + d(u_a, y_b)^2 / (2h) over cell centres u_a (d is the periodic
/// geodesic distance on the circle), and `target[b]` is the minimiser
/// refined below the cell width: the vertex of the parabola through the
/// objective at the discrete minimiser and its two neighbours. The refinement
/// is exact when f is quadratic, and it moves the target by at most dx / 2.
/// On the interval the target stays in [u_0, u_{M-1}] (no refinement at the
/// end cells). On the circle the target is an unwrapped angle within pi of y_b.
///
/// The circle is handled in linear time by unrolling: three copies of the
/// grid shifted by -2 pi, 0 and 2 pi cover every point within pi of a query.
pub fn proximal_map(
    grid: &LatentGrid,
    f: &[f64],
    h: f64,
    envelope: &mut [f64],
    target: &mut [f64],
) -> Result<()> {
    let m = grid.cells();
    grid.check_len("potential values of the proximal map", f.len())?;
    grid.check_len("envelope output of the proximal map", envelope.len())?;
    grid.check_len("target output of the proximal map", target.len())?;
    let y = grid.centres();
    let mut argmin = vec![0usize; m];
    let dx = grid.spacing();

    let (nodes, values): (Vec<f64>, Vec<f64>) = match grid.kind() {
        GridKind::Interval => (y.clone(), f.to_vec()),
        GridKind::Circle => {
            let mut nodes = Vec::with_capacity(3 * m);
            let mut values = Vec::with_capacity(3 * m);
            for shift in [-TAU, 0.0, TAU] {
                nodes.extend(y.iter().map(|u| u + shift));
                values.extend_from_slice(f);
            }
            (nodes, values)
        }
    };
    moreau_envelope(&nodes, &values, &y, h, envelope, &mut argmin)?;

    let last = nodes.len() - 1;
    for b in 0..m {
        let i = argmin[b];
        let yb = y[b];
        target[b] = nodes[i];
        if i == 0 || i == last {
            continue;
        }
        let objective = |j: usize| values[j] + (nodes[j] - yb) * (nodes[j] - yb) / (2.0 * h);
        let left = objective(i - 1);
        let centre = objective(i);
        let right = objective(i + 1);
        let curvature = left - 2.0 * centre + right;
        if curvature > 0.0 {
            let offset = 0.5 * dx * (left - right) / curvature;
            target[b] = nodes[i] + offset.clamp(-0.5 * dx, 0.5 * dx);
        }
    }
    Ok(())
}

fn check_step(h: f64) -> Result<()> {
    if !(h.is_finite() && h > 0.0) {
        return Err(Error::InvalidParameter {
            name: "proximal step h",
            value: h,
            reason: "must be positive and finite",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn brute_force(x: &[f64], f: &[f64], y: f64, h: f64) -> (f64, usize) {
        let mut best = (f64::INFINITY, 0);
        for i in 0..x.len() {
            let v = f[i] + (x[i] - y) * (x[i] - y) / (2.0 * h);
            if v < best.0 {
                best = (v, i);
            }
        }
        best
    }

    #[test]
    fn envelope_matches_brute_force_on_nonconvex_data() {
        let mut rng = StdRng::seed_from_u64(7);
        for trial in 0..40 {
            let n = 5 + trial * 7;
            let mut x: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
            x.sort_by(|a, b| a.partial_cmp(b).unwrap());
            x.dedup();
            let f: Vec<f64> = x
                .iter()
                .map(|&u| (3.0 * u).sin() + rng.random_range(-0.5..0.5))
                .collect();
            let mut y: Vec<f64> = (0..n + 3).map(|_| rng.random_range(-4.0..4.0)).collect();
            y.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let h = [1e-3, 0.05, 0.7, 20.0][trial % 4];
            let mut env = vec![0.0; y.len()];
            let mut arg = vec![0; y.len()];
            moreau_envelope(&x, &f, &y, h, &mut env, &mut arg).unwrap();
            for j in 0..y.len() {
                let (value, index) = brute_force(&x, &f, y[j], h);
                // Random data has no ties, so the minimiser is unique.
                assert_eq!(arg[j], index, "trial {trial}, query {j}");
                let scale = 1.0 + value.abs();
                assert!(
                    (env[j] - value).abs() <= 1e-12 * scale,
                    "trial {trial}, query {j}: {} vs {value}",
                    env[j]
                );
                let at_arg = f[arg[j]] + (x[arg[j]] - y[j]).powi(2) / (2.0 * h);
                assert!((at_arg - value).abs() <= 1e-12 * scale);
            }
        }
    }

    #[test]
    fn circle_proximal_map_matches_brute_force() {
        let mut rng = StdRng::seed_from_u64(11);
        let grid = LatentGrid::circle(90).unwrap();
        let f: Vec<f64> = (0..90)
            .map(|a| (2.0 * grid.centre(a)).cos() + rng.random_range(-0.3..0.3))
            .collect();
        for h in [0.01, 0.3, 5.0] {
            let mut env = vec![0.0; 90];
            let mut target = vec![0.0; 90];
            proximal_map(&grid, &f, h, &mut env, &mut target).unwrap();
            for b in 0..90 {
                let y = grid.centre(b);
                let best = (0..90)
                    .map(|a| f[a] + grid.transport_distance(grid.centre(a), y).powi(2) / (2.0 * h))
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    (env[b] - best).abs() < 1e-12,
                    "h = {h}, cell {b}: {} vs {best}",
                    env[b]
                );
                assert!((target[b] - y).abs() <= std::f64::consts::PI + grid.spacing());
            }
        }
    }

    #[test]
    fn proximal_map_of_quadratic_is_exact() {
        let grid = LatentGrid::interval(-2.0, 2.0, 200).unwrap();
        let lambda = 1.7;
        let h = 0.13;
        let f: Vec<f64> = grid
            .centres()
            .iter()
            .map(|u| 0.5 * lambda * u * u)
            .collect();
        let mut env = vec![0.0; 200];
        let mut target = vec![0.0; 200];
        proximal_map(&grid, &f, h, &mut env, &mut target).unwrap();
        for b in 1..199 {
            let expected = grid.centre(b) / (1.0 + lambda * h);
            assert!(
                (target[b] - expected).abs() < 1e-12,
                "cell {b}: {} vs {expected}",
                target[b]
            );
        }
    }

    #[test]
    fn rejects_bad_step() {
        let grid = LatentGrid::interval(0.0, 1.0, 8).unwrap();
        let f = vec![0.0; 8];
        let mut env = vec![0.0; 8];
        let mut target = vec![0.0; 8];
        assert!(proximal_map(&grid, &f, 0.0, &mut env, &mut target).is_err());
        assert!(proximal_map(&grid, &f, f64::NAN, &mut env, &mut target).is_err());
        assert!(proximal_map(&grid, &f[..7], 0.1, &mut env, &mut target).is_err());
    }
}
