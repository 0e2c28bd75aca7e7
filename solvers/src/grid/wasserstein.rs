//! Exact quadratic Wasserstein distances in one dimension via quantile functions.
//!
//! A fiber is a piecewise-constant density (mass m_a spread uniformly over
//! cell a), so its CDF is piecewise linear and its quantile function Q is
//! piecewise linear in t in [0, 1]. A weighted particle cloud has a
//! piecewise-constant Q. Then W2^2 = int_0^1 |Q1(t) - Q2(t)|^2 dt, integrated
//! exactly: between consecutive breakpoints of either Q the difference is
//! linear, and int_0^L (d0 + (d1 - d0) s / L)^2 ds = L (d0^2 + d0 d1 + d1^2) / 3.
//!
//! On the circle (geodesic cost) both measures are unrolled to periodic
//! measures on R, and W2^2 = min over alpha of
//! C(alpha) = int_0^1 |Q1(t) - Q2(t + alpha)|^2 dt with Q2(t + 1) = Q2(t) + 2 pi:
//! alpha rotates the cut point of the second measure in mass coordinates.
//! Its minimiser lies in [-1, 1], because for |alpha| >= 1 one quantile lies
//! entirely above the other and C grows with |alpha|. C is expected to be
//! convex in alpha (a property of convex costs on the circle); the search
//! samples C at 65 points of [-1, 1] first and then runs a golden-section
//! search around the best sample to an alpha accuracy of 1e-13, so a C with
//! several local minima would only be handled to the sampling resolution.
//! The brute-force test over cyclic matchings of particles checks the result.

use std::f64::consts::TAU;

use crate::error::{Error, Result};
use crate::grid::latent_grid::{GridKind, LatentGrid};

/// One linear piece of a quantile function: Q goes from x0 to x1 as t goes
/// from t0 to t1.
#[derive(Debug, Clone, Copy)]
struct Piece {
    t0: f64,
    t1: f64,
    x0: f64,
    x1: f64,
}

/// Computes W2^2 between two fibers (cell masses) of the same grid. Each fiber is
/// normalised by its own total mass first.
pub fn wasserstein2_squared(grid: &LatentGrid, first: &[f64], second: &[f64]) -> Result<f64> {
    grid.check_len("first fiber of W2", first.len())?;
    grid.check_len("second fiber of W2", second.len())?;
    let q1 = fiber_quantile(grid, first)?;
    let q2 = fiber_quantile(grid, second)?;
    Ok(match grid.kind() {
        GridKind::Interval => quantile_distance(&q1, &q2),
        GridKind::Circle => circular_distance(&q1, &q2),
    })
}

/// Computes W2^2 between a fiber (cell masses) and a cloud of particles at `positions`
/// with non-negative `weights` (normalised to total mass 1 here). On the
/// circle positions are angles and are reduced to [0, 2 pi).
pub fn wasserstein2_squared_particles(
    grid: &LatentGrid,
    fiber: &[f64],
    positions: &[f64],
    weights: &[f64],
) -> Result<f64> {
    grid.check_len("fiber of W2", fiber.len())?;
    if positions.len() != weights.len() {
        return Err(Error::SizeMismatch {
            what: "particle weights of W2",
            expected: positions.len(),
            found: weights.len(),
        });
    }
    if let Some(&bad) = positions.iter().find(|x| !x.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "particle position",
            value: bad,
            reason: "must be finite",
        });
    }
    let total = check_masses("particle weight", weights)?;
    let mut order: Vec<(f64, f64)> = positions
        .iter()
        .zip(weights)
        .map(|(&x, &w)| match grid.kind() {
            GridKind::Interval => (x, w / total),
            GridKind::Circle => (x.rem_euclid(TAU), w / total),
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut pieces = Vec::with_capacity(order.len());
    let mut t = 0.0;
    for (x, w) in order {
        if w > 0.0 {
            pieces.push(Piece {
                t0: t,
                t1: t + w,
                x0: x,
                x1: x,
            });
            t += w;
        }
    }
    close_pieces(&mut pieces);
    let q1 = fiber_quantile(grid, fiber)?;
    Ok(match grid.kind() {
        GridKind::Interval => quantile_distance(&q1, &pieces),
        GridKind::Circle => circular_distance(&q1, &pieces),
    })
}

fn check_masses(name: &'static str, masses: &[f64]) -> Result<f64> {
    if let Some(&bad) = masses.iter().find(|m| !(m.is_finite() && **m >= 0.0)) {
        return Err(Error::InvalidParameter {
            name,
            value: bad,
            reason: "masses must be finite and non-negative",
        });
    }
    let total: f64 = masses.iter().sum();
    if !(total > 0.0) {
        return Err(Error::InvalidParameter {
            name,
            value: total,
            reason: "total mass must be positive",
        });
    }
    Ok(total)
}

fn fiber_quantile(grid: &LatentGrid, masses: &[f64]) -> Result<Vec<Piece>> {
    let total = check_masses("fiber cell mass", masses)?;
    let dx = grid.spacing();
    let mut pieces = Vec::with_capacity(masses.len());
    let mut t = 0.0;
    for (a, &m) in masses.iter().enumerate() {
        if m > 0.0 {
            let left = grid.lower() + a as f64 * dx;
            pieces.push(Piece {
                t0: t,
                t1: t + m / total,
                x0: left,
                x1: left + dx,
            });
            t += m / total;
        }
    }
    close_pieces(&mut pieces);
    Ok(pieces)
}

/// Pins the last breakpoint to exactly 1 so rounding leaves no gap.
fn close_pieces(pieces: &mut [Piece]) {
    if let Some(last) = pieces.last_mut() {
        last.t1 = 1.0;
    }
}

#[inline]
fn evaluate(piece: &Piece, t: f64) -> f64 {
    let width = piece.t1 - piece.t0;
    if width <= 0.0 {
        return piece.x0;
    }
    let s = ((t - piece.t0) / width).clamp(0.0, 1.0);
    piece.x0 + s * (piece.x1 - piece.x0)
}

/// int_0^1 |Q1 - Q2|^2 dt for two quantile functions covering [0, 1].
fn quantile_distance(q1: &[Piece], q2: &[Piece]) -> f64 {
    let (mut i, mut j) = (0, 0);
    let mut t = 0.0;
    let mut total = 0.0;
    while i < q1.len() && j < q2.len() {
        let end = q1[i].t1.min(q2[j].t1);
        if end > t {
            let d0 = evaluate(&q1[i], t) - evaluate(&q2[j], t);
            let d1 = evaluate(&q1[i], end) - evaluate(&q2[j], end);
            total += (end - t) * (d0 * d0 + d0 * d1 + d1 * d1) / 3.0;
            t = end;
        }
        if q1[i].t1 <= end {
            i += 1;
        }
        if j < q2.len() && q2[j].t1 <= end {
            j += 1;
        }
    }
    total
}

/// C(alpha) for the circle: Q2 is extended periodically and read on
/// [alpha, alpha + 1], then shifted back to [0, 1].
fn shifted_cost(q1: &[Piece], q2: &[Piece], alpha: f64, shifted: &mut Vec<Piece>) -> f64 {
    shifted.clear();
    for k in -2..=2 {
        for piece in q2 {
            let t0 = piece.t0 + k as f64;
            let t1 = piece.t1 + k as f64;
            let lo = t0.max(alpha);
            let hi = t1.min(alpha + 1.0);
            if hi <= lo {
                continue;
            }
            let offset = k as f64 * TAU;
            shifted.push(Piece {
                t0: lo - alpha,
                t1: hi - alpha,
                x0: evaluate(piece, lo - k as f64) + offset,
                x1: evaluate(piece, hi - k as f64) + offset,
            });
        }
    }
    close_pieces(shifted);
    quantile_distance(q1, shifted)
}

fn circular_distance(q1: &[Piece], q2: &[Piece]) -> f64 {
    let mut buffer = Vec::with_capacity(2 * q2.len() + 2);
    let mut cost = |alpha: f64| shifted_cost(q1, q2, alpha, &mut buffer);
    const SAMPLES: usize = 64;
    let step = 2.0 / SAMPLES as f64;
    let mut best = (f64::INFINITY, 0);
    for s in 0..=SAMPLES {
        let c = cost(-1.0 + s as f64 * step);
        if c < best.0 {
            best = (c, s);
        }
    }
    let centre = -1.0 + best.1 as f64 * step;
    let (mut lo, mut hi) = ((centre - step).max(-1.0), (centre + step).min(1.0));
    let ratio = 0.5 * (5f64.sqrt() - 1.0);
    let mut x1 = hi - ratio * (hi - lo);
    let mut x2 = lo + ratio * (hi - lo);
    let mut c1 = cost(x1);
    let mut c2 = cost(x2);
    while hi - lo > 1e-13 {
        if c1 <= c2 {
            hi = x2;
            x2 = x1;
            c2 = c1;
            x1 = hi - ratio * (hi - lo);
            c1 = cost(x1);
        } else {
            lo = x1;
            x1 = x2;
            c1 = c2;
            x2 = lo + ratio * (hi - lo);
            c2 = cost(x2);
        }
    }
    best.0.min(c1).min(c2)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};

    use super::*;
    use crate::grid::latent_grid::Fibers;

    #[test]
    fn fiber_distance_to_itself_is_zero() {
        for grid in [
            LatentGrid::interval(-3.0, 3.0, 120).unwrap(),
            LatentGrid::circle(120).unwrap(),
        ] {
            let fibers = Fibers::gaussian(&grid, &[0.4], 0.5).unwrap();
            let w = wasserstein2_squared(&grid, fibers.fiber(0), fibers.fiber(0)).unwrap();
            assert!(w.abs() < 1e-20, "{:?}: W2^2 = {w:e}", grid.kind());
        }
    }

    #[test]
    fn shifted_copies_are_shift_apart() {
        // A shift by a whole number of cells translates the quantile exactly.
        let grid = LatentGrid::interval(-3.0, 3.0, 300).unwrap();
        let base = Fibers::gaussian(&grid, &[-0.5], 0.3).unwrap();
        let cells = 37;
        let mut moved = vec![0.0; 300];
        moved[cells..].copy_from_slice(&base.fiber(0)[..300 - cells]);
        let shift = cells as f64 * grid.spacing();
        let w = wasserstein2_squared(&grid, base.fiber(0), &moved).unwrap();
        assert!(
            (w.sqrt() - shift).abs() < 1e-10,
            "W2 = {} vs shift {shift}",
            w.sqrt()
        );

        // On the circle a rotation by theta is optimal only for concentrated
        // fibers: sending a little mass the long way round and moving the
        // rest by less than theta is cheaper once 2 theta L exceeds
        // (G - theta)^2 - theta^2 (support length L, gap G = 2 pi - L). A
        // wrapped normal has full support, so it is cut to an arc of
        // half-width 0.6, where the rotation is optimal for both shifts.
        let circle = LatentGrid::circle(240).unwrap();
        let mut base = Fibers::gaussian(&circle, &[5.9], 0.25)
            .unwrap()
            .fiber(0)
            .to_vec();
        for (a, m) in base.iter_mut().enumerate() {
            if circle.transport_distance(circle.centre(a), 5.9) > 0.6 {
                *m = 0.0;
            }
        }
        for cells in [13usize, 40] {
            let mut moved = vec![0.0; 240];
            for a in 0..240 {
                moved[(a + cells) % 240] = base[a];
            }
            let shift = cells as f64 * circle.spacing();
            let w = wasserstein2_squared(&circle, &base, &moved).unwrap();
            assert!(
                (w.sqrt() - shift).abs() < 1e-9,
                "circle W2 = {} vs shift {shift}",
                w.sqrt()
            );
        }
    }

    #[test]
    fn particles_sampled_from_fiber_approach_zero() {
        let grid = LatentGrid::interval(-4.0, 4.0, 400).unwrap();
        let fibers = Fibers::gaussian(&grid, &[0.2], 0.7).unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let mut previous = f64::INFINITY;
        for count in [100usize, 10_000, 1_000_000] {
            let positions: Vec<f64> = (0..count)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    0.2 + 0.7 * z
                })
                .collect();
            let weights = vec![1.0; count];
            let w = wasserstein2_squared_particles(&grid, fibers.fiber(0), &positions, &weights)
                .unwrap();
            assert!(
                w < previous,
                "W2^2 did not decrease at {count} particles: {w:e}"
            );
            previous = w;
        }
        assert!(previous < 1e-5, "W2^2 with 10^6 samples is {previous:e}");
    }

    #[test]
    fn circle_distance_matches_brute_force_matching() {
        // K equal-mass particles on each side: the optimal matching on the
        // circle is a cyclic shift of the sorted order, so try all of them.
        let circle = LatentGrid::circle(8).unwrap();
        let mut rng = StdRng::seed_from_u64(41);
        for _ in 0..20 {
            let k = 9;
            let mut xs: Vec<f64> = (0..k).map(|_| rng.random_range(0.0..TAU)).collect();
            let mut ys: Vec<f64> = (0..k).map(|_| rng.random_range(0.0..TAU)).collect();
            xs.sort_by(f64::total_cmp);
            ys.sort_by(f64::total_cmp);
            let brute = (0..k)
                .map(|s| {
                    (0..k)
                        .map(|i| circle.transport_distance(xs[i], ys[(i + s) % k]).powi(2))
                        .sum::<f64>()
                        / k as f64
                })
                .fold(f64::INFINITY, f64::min);
            let q1: Vec<Piece> = particle_pieces(&xs);
            let q2: Vec<Piece> = particle_pieces(&ys);
            let fast = circular_distance(&q1, &q2);
            assert!(
                (fast - brute).abs() < 1e-12,
                "circle W2^2 {fast} vs brute force {brute}"
            );
        }
    }

    fn particle_pieces(xs: &[f64]) -> Vec<Piece> {
        let k = xs.len() as f64;
        let mut pieces: Vec<Piece> = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| Piece {
                t0: i as f64 / k,
                t1: (i + 1) as f64 / k,
                x0: x,
                x1: x,
            })
            .collect();
        close_pieces(&mut pieces);
        pieces
    }

    #[test]
    fn rejects_invalid_masses() {
        let grid = LatentGrid::interval(0.0, 1.0, 4).unwrap();
        assert!(wasserstein2_squared(&grid, &[0.0; 4], &[0.25; 4]).is_err());
        assert!(wasserstein2_squared(&grid, &[0.5, -0.1, 0.3, 0.3], &[0.25; 4]).is_err());
        assert!(wasserstein2_squared(&grid, &[0.5; 3], &[0.25; 4]).is_err());
        assert!(wasserstein2_squared_particles(&grid, &[0.25; 4], &[f64::NAN], &[1.0]).is_err());
    }
}
