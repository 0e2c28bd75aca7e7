//! Latent spaces: Euclidean R^k and the unit sphere S^{k-1} in R^k.

use crate::error::{Error, Result};

/// Space in which the features z_p live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentSpace {
    /// R^k with the Euclidean metric.
    Euclidean { dim: usize },
    /// Unit sphere S^{k-1} embedded in R^k; velocities are projected on the
    /// tangent space and positions retracted by normalisation.
    Sphere { dim: usize },
}

/// Largest ambient dimension the fused kernel loops are specialised for.
pub const MAX_DIM: usize = 3;

impl LatentSpace {
    /// Builds a latent space, checking 1 <= k <= 3 (k >= 2 on the sphere).
    pub fn new(sphere: bool, dim: usize) -> Result<Self> {
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::InvalidParameter {
                name: "latent dimension",
                value: dim as f64,
                reason: "must be 1, 2 or 3",
            });
        }
        if sphere && dim < 2 {
            return Err(Error::InvalidParameter {
                name: "latent dimension",
                value: dim as f64,
                reason: "the sphere S^{k-1} needs k >= 2",
            });
        }
        Ok(if sphere {
            LatentSpace::Sphere { dim }
        } else {
            LatentSpace::Euclidean { dim }
        })
    }

    /// Ambient dimension k.
    pub fn dim(&self) -> usize {
        match *self {
            LatentSpace::Euclidean { dim } | LatentSpace::Sphere { dim } => dim,
        }
    }

    pub fn is_sphere(&self) -> bool {
        matches!(self, LatentSpace::Sphere { .. })
    }

    /// Replaces each velocity v_p by (I - z_p z_p^T) v_p on the sphere; a no-op on R^k.
    /// `z` and `v` are row-major, one row of length k per particle.
    pub fn project_tangent(&self, z: &[f64], v: &mut [f64]) {
        if let LatentSpace::Sphere { dim } = *self {
            for (zp, vp) in z.chunks_exact(dim).zip(v.chunks_exact_mut(dim)) {
                let radial: f64 = zp.iter().zip(vp.iter()).map(|(a, b)| a * b).sum();
                for (vc, zc) in vp.iter_mut().zip(zp) {
                    *vc -= radial * zc;
                }
            }
        }
    }

    /// Maps points back onto the space: normalisation on the sphere, identity on R^k.
    /// A zero row on the sphere is left as is; callers never produce one from a
    /// unit vector plus a tangent step.
    pub fn retract(&self, z: &mut [f64]) {
        if let LatentSpace::Sphere { dim } = *self {
            for zp in z.chunks_exact_mut(dim) {
                let norm = zp.iter().map(|a| a * a).sum::<f64>().sqrt();
                if norm > 0.0 {
                    zp.iter_mut().for_each(|a| *a /= norm);
                }
            }
        }
    }
}
