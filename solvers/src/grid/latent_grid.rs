//! Uniform latent grids (an interval or the circle) and fibers stored as cell masses.

use std::f64::consts::{PI, TAU};

use crate::error::{Error, Result};

/// Topology of a latent grid. Algorithms dispatch on this value, so a new
/// geometry (for example a 2-D torus) is a new variant plus its arms in the
/// grid routines; the time loop of the caller does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridKind {
    /// Interval [lo, hi] with no-flux boundaries.
    Interval,
    /// Circle S^1 parametrised by the angle in [0, 2 pi), periodic.
    Circle,
}

/// Uniform one-dimensional latent grid of `cells` cells.
///
/// Cell a covers [lower + a dx, lower + (a + 1) dx] and its centre is
/// lower + (a + 1/2) dx. On the circle, lower = 0 and dx = 2 pi / cells, and
/// positions are angles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatentGrid {
    kind: GridKind,
    lower: f64,
    spacing: f64,
    cells: usize,
}

/// Smallest number of cells of a grid; the proximal map needs three
/// neighbouring cells for its sub-cell refinement.
pub const MIN_CELLS: usize = 4;

impl LatentGrid {
    /// Builds the interval [lo, hi] split into `cells` equal cells.
    pub fn interval(lo: f64, hi: f64, cells: usize) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "interval bound",
                value: if lo.is_finite() { hi } else { lo },
                reason: "interval bounds must be finite",
            });
        }
        if hi <= lo {
            return Err(Error::InvalidParameter {
                name: "interval width hi - lo",
                value: hi - lo,
                reason: "the upper bound must exceed the lower bound",
            });
        }
        check_cells(cells)?;
        Ok(LatentGrid {
            kind: GridKind::Interval,
            lower: lo,
            spacing: (hi - lo) / cells as f64,
            cells,
        })
    }

    /// Builds the circle of angles [0, 2 pi) split into `cells` equal cells.
    pub fn circle(cells: usize) -> Result<Self> {
        check_cells(cells)?;
        Ok(LatentGrid {
            kind: GridKind::Circle,
            lower: 0.0,
            spacing: TAU / cells as f64,
            cells,
        })
    }

    pub fn kind(&self) -> GridKind {
        self.kind
    }

    pub fn is_periodic(&self) -> bool {
        self.kind == GridKind::Circle
    }

    /// Number of cells M_z.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// Cell width dx (an angle on the circle).
    pub fn spacing(&self) -> f64 {
        self.spacing
    }

    /// Lower end of the domain (0 on the circle).
    pub fn lower(&self) -> f64 {
        self.lower
    }

    /// Upper end of the domain (2 pi on the circle).
    pub fn upper(&self) -> f64 {
        self.lower + self.spacing * self.cells as f64
    }

    /// Length of the domain (2 pi on the circle).
    pub fn length(&self) -> f64 {
        self.spacing * self.cells as f64
    }

    /// Centre of cell a.
    #[inline]
    pub fn centre(&self, a: usize) -> f64 {
        self.lower + (a as f64 + 0.5) * self.spacing
    }

    /// Centres of all cells, in increasing order.
    pub fn centres(&self) -> Vec<f64> {
        (0..self.cells).map(|a| self.centre(a)).collect()
    }

    /// Squared distance |z - z'|^2 used by the kernel, for two cell centres
    /// `offset` cells apart: (offset dx)^2 on the interval and the chordal
    /// 2 - 2 cos(offset dx) of the unit circle in R^2 on the circle.
    #[inline]
    pub fn kernel_squared_distance(&self, offset: isize) -> f64 {
        let d = offset as f64 * self.spacing;
        match self.kind {
            GridKind::Interval => d * d,
            // 2 - 2 cos d = 4 sin^2(d / 2) avoids cancellation for small d.
            GridKind::Circle => {
                let s = (0.5 * d).sin();
                4.0 * s * s
            }
        }
    }

    /// Transport distance between two positions: |x - y| on the interval, the
    /// geodesic (arc-length) distance on the circle.
    #[inline]
    pub fn transport_distance(&self, x: f64, y: f64) -> f64 {
        match self.kind {
            GridKind::Interval => (x - y).abs(),
            GridKind::Circle => {
                let d = (x - y).rem_euclid(TAU);
                d.min(TAU - d)
            }
        }
    }

    pub(crate) fn check_len(&self, what: &'static str, len: usize) -> Result<()> {
        if len != self.cells {
            return Err(Error::SizeMismatch {
                what,
                expected: self.cells,
                found: len,
            });
        }
        Ok(())
    }
}

fn check_cells(cells: usize) -> Result<()> {
    if cells < MIN_CELLS {
        return Err(Error::InvalidParameter {
            name: "number of grid cells",
            value: cells as f64,
            reason: "a latent grid needs at least 4 cells",
        });
    }
    Ok(())
}

/// Fibers gamma_1..gamma_N of one grid, stored as cell masses.
///
/// Layout: row-major N x M_z, so fiber p is the contiguous slice
/// `masses[p * M_z..(p + 1) * M_z]`. Read as a column-major M_z x N matrix,
/// column p is fiber p, which is the layout the dense kernel products use.
/// Every fiber is a probability vector: masses are non-negative and sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Fibers {
    nodes: usize,
    cells: usize,
    masses: Vec<f64>,
}

impl Fibers {
    /// Wraps row-major N x M_z cell masses without normalising them.
    pub fn from_masses(nodes: usize, cells: usize, masses: Vec<f64>) -> Result<Self> {
        if masses.len() != nodes * cells {
            return Err(Error::SizeMismatch {
                what: "fiber masses (nodes x cells)",
                expected: nodes * cells,
                found: masses.len(),
            });
        }
        if let Some(&bad) = masses.iter().find(|m| !(m.is_finite() && **m >= 0.0)) {
            return Err(Error::InvalidParameter {
                name: "fiber cell mass",
                value: bad,
                reason: "cell masses must be finite and non-negative",
            });
        }
        Ok(Fibers {
            nodes,
            cells,
            masses,
        })
    }

    /// Builds one discretised normal N(mean_p, sigma^2) per node, renormalised
    /// to mass 1. On the interval the cell masses are differences of the normal
    /// CDF at the cell edges. On the circle the fiber is the wrapped normal,
    /// whose cell masses sum the normal masses of all 2 pi translates of the cell.
    pub fn gaussian(grid: &LatentGrid, means: &[f64], sigma: f64) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidParameter {
                name: "fiber standard deviation",
                value: sigma,
                reason: "must be positive and finite",
            });
        }
        if sigma < 2.0 * grid.spacing() {
            return Err(Error::InvalidParameter {
                name: "fiber standard deviation",
                value: sigma,
                reason: "is below two cell widths; refine the grid or widen the fiber",
            });
        }
        let m = grid.cells();
        let mut masses = vec![0.0; means.len() * m];
        for (&mean, fiber) in means.iter().zip(masses.chunks_exact_mut(m)) {
            if !mean.is_finite() {
                return Err(Error::InvalidParameter {
                    name: "fiber mean",
                    value: mean,
                    reason: "must be finite",
                });
            }
            let wraps = match grid.kind() {
                GridKind::Interval => 0,
                GridKind::Circle => (8.0 * sigma / TAU).ceil() as i64 + 1,
            };
            for (a, cell) in fiber.iter_mut().enumerate() {
                let left = grid.lower() + a as f64 * grid.spacing();
                let right = left + grid.spacing();
                let mut mass = 0.0;
                for k in -wraps..=wraps {
                    let shift = k as f64 * TAU;
                    mass += normal_interval_mass(
                        (left + shift - mean) / sigma,
                        (right + shift - mean) / sigma,
                    );
                }
                *cell = mass;
            }
            let total: f64 = fiber.iter().sum();
            if !(total > 1e-12) {
                return Err(Error::InvalidParameter {
                    name: "fiber mean",
                    value: mean,
                    reason: "puts (almost) no mass on the grid; move the mean inside the interval",
                });
            }
            fiber.iter_mut().for_each(|x| *x /= total);
            renormalise(fiber);
        }
        Ok(Fibers {
            nodes: means.len(),
            cells: m,
            masses,
        })
    }

    /// Number of fibers N.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of cells M_z per fiber.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// All masses, row-major N x M_z.
    pub fn masses(&self) -> &[f64] {
        &self.masses
    }

    pub fn masses_mut(&mut self) -> &mut [f64] {
        &mut self.masses
    }

    /// Cell masses of fiber p.
    pub fn fiber(&self, p: usize) -> &[f64] {
        &self.masses[p * self.cells..(p + 1) * self.cells]
    }

    pub fn fiber_mut(&mut self, p: usize) -> &mut [f64] {
        &mut self.masses[p * self.cells..(p + 1) * self.cells]
    }

    /// Mean of fiber p at the cell centres (midpoint rule). On the circle this
    /// is the angle of the circular mean sum_a m_a e^{i theta_a}, in [0, 2 pi).
    pub fn mean(&self, grid: &LatentGrid, p: usize) -> f64 {
        let fiber = self.fiber(p);
        match grid.kind() {
            GridKind::Interval => fiber
                .iter()
                .enumerate()
                .map(|(a, m)| m * grid.centre(a))
                .sum(),
            GridKind::Circle => {
                let (mut c, mut s) = (0.0, 0.0);
                for (a, m) in fiber.iter().enumerate() {
                    c += m * grid.centre(a).cos();
                    s += m * grid.centre(a).sin();
                }
                s.atan2(c).rem_euclid(TAU)
            }
        }
    }

    /// Variance of fiber p about its mean with all mass at the cell centres
    /// (midpoint rule), using the transport distance. Cell masses taken as CDF
    /// differences of a smooth density give about that density's variance plus
    /// dx^2 / 12 (Sheppard's correction), so compare with care.
    pub fn variance(&self, grid: &LatentGrid, p: usize) -> f64 {
        let mean = self.mean(grid, p);
        self.fiber(p)
            .iter()
            .enumerate()
            .map(|(a, m)| m * grid.transport_distance(grid.centre(a), mean).powi(2))
            .sum()
    }

    /// Returns true when every mass is finite.
    pub fn is_finite(&self) -> bool {
        self.masses.iter().all(|m| m.is_finite())
    }
}

/// Scales a non-negative vector to sum 1 and puts the remaining rounding
/// error on its largest entry.
pub(crate) fn renormalise(fiber: &mut [f64]) {
    let total: f64 = fiber.iter().sum();
    if total > 0.0 {
        fiber.iter_mut().for_each(|x| *x /= total);
    }
    let residual = 1.0 - fiber.iter().sum::<f64>();
    if let Some(largest) = fiber
        .iter_mut()
        .max_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
    {
        *largest += residual;
    }
}

/// Standard normal mass of [a, b] (a <= b), accurate in relative terms in
/// both tails because it subtracts upper-tail probabilities of the same sign.
pub(crate) fn normal_interval_mass(a: f64, b: f64) -> f64 {
    let upper_tail = |x: f64| 0.5 * erfc(x / std::f64::consts::SQRT_2);
    if a >= 0.0 {
        upper_tail(a) - upper_tail(b)
    } else if b <= 0.0 {
        upper_tail(-b) - upper_tail(-a)
    } else {
        1.0 - upper_tail(-a) - upper_tail(b)
    }
}

/// Complementary error function for x >= 0 (and by symmetry for x < 0).
///
/// For x < 3 it uses erf(x) = (2 x / sqrt(pi)) e^{-x^2} sum_n (2 x^2)^n / (1 3 5 ... (2n+1)),
/// whose terms are all positive, so there is no cancellation. For x >= 3 it
/// evaluates the continued fraction
/// erfc(x) = e^{-x^2} / sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
/// from the tail by a fixed number of backward steps.
pub(crate) fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 3.0 {
        let x2 = x * x;
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut n = 0.0;
        while term > 1e-17 * sum {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        let erf = 2.0 * x / PI.sqrt() * (-x2).exp() * sum;
        return 1.0 - erf;
    }
    let mut tail = x;
    for k in (1..=60).rev() {
        tail = x + 0.5 * k as f64 / tail;
    }
    (-x * x).exp() / PI.sqrt() / tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_reference_values() {
        // Reference values of erf and erfc to 16 digits.
        let cases = [
            (0.5, 1.0 - 0.520_499_877_813_046_5),
            (1.0, 1.0 - 0.842_700_792_949_714_9),
            (2.0, 4.677_734_981_047_266e-3),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
        ];
        for (x, expected) in cases {
            let got = erfc(x);
            assert!(
                ((got - expected) / expected).abs() < 1e-13,
                "erfc({x}) = {got:e}, expected {expected:e}"
            );
        }
        assert!((erfc(-1.0) - (1.0 + 0.842_700_792_949_714_9)).abs() < 1e-15);
    }

    #[test]
    fn gaussian_fibers_have_unit_mass_and_moments() {
        let grid = LatentGrid::interval(-4.0, 4.0, 400).unwrap();
        let fibers = Fibers::gaussian(&grid, &[0.3, -1.0], 0.4).unwrap();
        for p in 0..2 {
            let total: f64 = fibers.fiber(p).iter().sum();
            assert!((total - 1.0).abs() < 1e-14);
        }
        assert!((fibers.mean(&grid, 0) - 0.3).abs() < 1e-12);
        // Grouping into cells adds dx^2 / 12 to the variance of the midpoint masses.
        let dx = grid.spacing();
        let variance = fibers.variance(&grid, 1);
        assert!(
            (variance - 0.16 - dx * dx / 12.0).abs() < 1e-10,
            "variance {variance}"
        );
    }

    #[test]
    fn wrapped_gaussian_on_circle_is_centred() {
        let grid = LatentGrid::circle(256).unwrap();
        let fibers = Fibers::gaussian(&grid, &[0.1, 5.0], 1.0).unwrap();
        let total: f64 = fibers.fiber(0).iter().sum();
        assert!((total - 1.0).abs() < 1e-14);
        let d0 = grid.transport_distance(fibers.mean(&grid, 0), 0.1);
        let d1 = grid.transport_distance(fibers.mean(&grid, 1), 5.0);
        assert!(d0 < 1e-12, "circular mean off by {d0}");
        assert!(d1 < 1e-12, "circular mean off by {d1}");
    }

    #[test]
    fn narrow_fiber_is_rejected() {
        let grid = LatentGrid::interval(0.0, 1.0, 100).unwrap();
        let err = Fibers::gaussian(&grid, &[0.5], 0.015).unwrap_err();
        match err {
            Error::InvalidParameter { reason, .. } => assert!(reason.contains("refine the grid")),
            other => panic!("unexpected error {other:?}"),
        }
        assert!(Fibers::gaussian(&grid, &[40.0], 0.1).is_err());
        assert!(LatentGrid::interval(1.0, 1.0, 10).is_err());
        assert!(LatentGrid::circle(2).is_err());
    }

    #[test]
    fn circle_kernel_distance_is_chordal() {
        let grid = LatentGrid::circle(12).unwrap();
        let d = grid.spacing() * 3.0;
        assert!((grid.kernel_squared_distance(3) - (2.0 - 2.0 * d.cos())).abs() < 1e-15);
        assert!((grid.transport_distance(0.1, TAU - 0.1) - 0.2).abs() < 1e-15);
    }
}
