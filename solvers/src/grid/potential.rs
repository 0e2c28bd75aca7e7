//! Fiber potentials: the first variation of an energy of all fibers, divided
//! by the view weight of each fiber.

use crate::error::{Error, Result};
use crate::grid::latent_grid::{Fibers, LatentGrid};

/// Energy E of the fibers and its fiber potentials.
///
/// Convention: for a perturbation delta gamma_p of fiber p,
/// dE = sum_p w_p sum_a Phi_p(u_a) delta m_{p,a}, where m_{p,a} is the mass of
/// cell a and u_a its centre (midpoint quadrature). The JKO step of fiber p
/// then minimises sum_a Phi_p(u_a) m_a + W2^2(gamma_p, gamma_p^n) / (2h), and
/// the step as a whole decreases E + sum_p w_p W2^2 / (2h).
pub trait FiberPotential {
    /// Grid on which the potential is evaluated.
    fn grid(&self) -> &LatentGrid;

    /// View weights w_p > 0, one per fiber.
    fn view_weights(&self) -> &[f64];

    /// Writes Phi_p(u_a) into `out[p * M_z + a]` (the layout of `Fibers`).
    fn potential(&mut self, fibers: &Fibers, out: &mut [f64]) -> Result<()>;

    /// Evaluates E(fibers).
    fn energy(&mut self, fibers: &Fibers) -> Result<f64>;
}

/// Fixed external potential V_p(u) per fiber, with energy
/// E = sum_p w_p sum_a V_p(u_a) m_{p,a}, so that Phi_p = V_p.
#[derive(Debug, Clone)]
pub struct ExternalPotential {
    grid: LatentGrid,
    weights: Vec<f64>,
    values: Vec<f64>,
}

impl ExternalPotential {
    /// Uses `values[p * M_z + a] = V_p(u_a)` with view weights `weights`.
    pub fn new(grid: LatentGrid, weights: Vec<f64>, values: Vec<f64>) -> Result<Self> {
        check_weights(&weights)?;
        let expected = weights.len() * grid.cells();
        if values.len() != expected {
            return Err(Error::SizeMismatch {
                what: "external potential values (nodes x cells)",
                expected,
                found: values.len(),
            });
        }
        if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "external potential value",
                value: bad,
                reason: "must be finite",
            });
        }
        Ok(ExternalPotential {
            grid,
            weights,
            values,
        })
    }

    /// Uses the same potential V(u) for every fiber, evaluated at the cell centres.
    pub fn shared(
        grid: LatentGrid,
        weights: Vec<f64>,
        potential: impl Fn(f64) -> f64,
    ) -> Result<Self> {
        let row: Vec<f64> = grid.centres().into_iter().map(potential).collect();
        let values = row.repeat(weights.len());
        Self::new(grid, weights, values)
    }
}

impl FiberPotential for ExternalPotential {
    fn grid(&self) -> &LatentGrid {
        &self.grid
    }

    fn view_weights(&self) -> &[f64] {
        &self.weights
    }

    fn potential(&mut self, fibers: &Fibers, out: &mut [f64]) -> Result<()> {
        check_fibers(&self.grid, self.weights.len(), fibers)?;
        if out.len() != self.values.len() {
            return Err(Error::SizeMismatch {
                what: "potential output (nodes x cells)",
                expected: self.values.len(),
                found: out.len(),
            });
        }
        out.copy_from_slice(&self.values);
        Ok(())
    }

    fn energy(&mut self, fibers: &Fibers) -> Result<f64> {
        check_fibers(&self.grid, self.weights.len(), fibers)?;
        let m = self.grid.cells();
        let mut total = 0.0;
        for (p, &w) in self.weights.iter().enumerate() {
            let v = &self.values[p * m..(p + 1) * m];
            let dot: f64 = v.iter().zip(fibers.fiber(p)).map(|(a, b)| a * b).sum();
            total += w * dot;
        }
        Ok(total)
    }
}

pub(crate) fn check_weights(weights: &[f64]) -> Result<()> {
    if weights.is_empty() {
        return Err(Error::InvalidParameter {
            name: "number of fibers",
            value: 0.0,
            reason: "needs at least one fiber",
        });
    }
    if let Some(&bad) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
        return Err(Error::InvalidParameter {
            name: "view weight",
            value: bad,
            reason: "view weights must be positive and finite",
        });
    }
    Ok(())
}

pub(crate) fn check_fibers(grid: &LatentGrid, nodes: usize, fibers: &Fibers) -> Result<()> {
    if fibers.nodes() != nodes {
        return Err(Error::SizeMismatch {
            what: "number of fibers",
            expected: nodes,
            found: fibers.nodes(),
        });
    }
    grid.check_len("cells per fiber", fibers.cells())
}
