//! Linear separability of labelled point sets in the latent space.
//!
//! [`linear_separation`] decides whether every pair of classes can be strictly
//! separated by a hyperplane and measures the margin in the l1 norm.
//! [`between_class_fraction`] returns the share of the weighted variance that
//! the class means explain.
//!
//! Points are passed row-major: `features[i * dim..(i + 1) * dim]` contains the
//! coordinates of point `i`, and `labels[i]` its class in `0..n_classes`.

use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// Tolerance of the strict-separation test, relative to the largest
/// coordinate magnitude of the two classes of a pair (dim >= 2 only).
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Scaled LP coefficients below this magnitude are left out of the LP, so
/// round-off residues of points near the centre do not enter it. Coordinates
/// are scaled to [-1, 1] first, so dropping them moves each row by at most
/// `dim * 1e-12`, far below [`RELATIVE_TOLERANCE`].
const NEGLIGIBLE_COEFFICIENT: f64 = 1e-12;

/// Outcome of [`linear_separation`] over all pairs of non-empty classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeparationReport {
    /// Whether every pair of non-empty classes is strictly separable by a
    /// hyperplane (by a threshold point when `dim = 1`).
    pub separable: bool,
    /// Smallest pair margin, in the units of the features and measured in the
    /// l1 norm: half the l1 distance between the two class hulls when they are
    /// disjoint (see [`linear_separation`] for overlapping classes). It is
    /// `+inf` with fewer than two non-empty classes and NaN when a coordinate
    /// is not finite or the LP solver failed.
    pub margin: f64,
    /// Class labels `(a, b)`, `a < b`, of the pair with the smallest margin
    /// (the first such pair in lexicographic order on ties), or of the pair
    /// that made the margin NaN. `None` with fewer than two non-empty classes.
    pub worst_pair: Option<(usize, usize)>,
}

/// Decides whether the classes are pairwise strictly linearly separable and
/// measures the smallest margin.
///
/// Classes without points are ignored. With fewer than two non-empty classes
/// the report is `separable = true`, `margin = +inf`, `worst_pair = None`.
///
/// For `dim = 1` each class is reduced to its interval `[min, max]`. The
/// classes are separable when the intervals are pairwise disjoint, compared
/// exactly, so intervals that share an endpoint are not separable. With the
/// intervals sorted by their minimum, the margin is the smallest of
/// `(next.min - prev.max) / 2` over consecutive intervals. It is negative when
/// two intervals overlap and zero when they touch.
///
/// For `dim >= 2` each pair `(a, b)` is decided by the linear program
///
/// ```text
/// maximise t  over  w in [-1, 1]^dim, b, t
/// subject to  w.x - b >= t  for x in class a,
///             b - w.x >= t  for x in class b.
/// ```
///
/// The l1 distance from `x` to the hyperplane `{w.x = b}` is
/// `|w.x - b| / max_c |w_c|`, so the optimum `t*` is half the l1 distance
/// between the convex hulls of the two classes, and `t* = 0` when the hulls
/// intersect or touch. The pair margin is the smallest l1 distance from a
/// point of the pair to the hyperplane that the solver returns, recomputed
/// from the data, so a reported positive margin is backed by a hyperplane
/// that achieves it up to the round-off of that recomputation. A pair is separable when its margin exceeds
/// `1e-9` times the largest coordinate magnitude of its two classes. A
/// non-separable pair therefore has margin 0 (or a positive value up to that
/// tolerance), so unlike the 1-D path the margin does not measure how deep
/// the classes overlap. With `dim = 1` the l1 distance is the plain distance,
/// so both paths agree on separable data. In 2-D each class is first reduced
/// to the vertices of its convex hull, which leaves the LP optimum unchanged.
///
/// Non-finite coordinates make the classes not separable. The report then
/// has `margin = NaN` and `worst_pair` is a pair containing the lowest class
/// with a non-finite coordinate. A solver error on a pair, which the bounded
/// LP should not produce, also gives `separable = false` and `margin = NaN`
/// for that pair, and is logged as a warning.
///
/// # Panics
///
/// Panics if `dim` is 0, if `features.len() != labels.len() * dim`, or if a
/// label is not below `n_classes`.
pub fn linear_separation(
    features: &[f64],
    dim: usize,
    labels: &[usize],
    n_classes: usize,
) -> SeparationReport {
    check_points(features, dim, labels, n_classes);
    let classes = group_by_class(features, dim, labels, n_classes);
    let non_empty: Vec<usize> = (0..n_classes)
        .filter(|&class| !classes[class].is_empty())
        .collect();

    if non_empty.len() < 2 {
        return SeparationReport {
            separable: true,
            margin: f64::INFINITY,
            worst_pair: None,
        };
    }

    let non_finite_class = non_empty
        .iter()
        .copied()
        .find(|&class| classes[class].iter().any(|x| !x.is_finite()));
    if let Some(bad) = non_finite_class {
        let other = non_empty.iter().copied().find(|&class| class != bad);
        let other = other.expect("non_empty has at least two classes here");
        return SeparationReport {
            separable: false,
            margin: f64::NAN,
            worst_pair: Some((bad.min(other), bad.max(other))),
        };
    }

    if dim == 1 {
        separate_intervals(&classes, &non_empty)
    } else {
        separate_pairs_by_lp(&classes, &non_empty, dim)
    }
}

/// Returns the share of the weighted variance explained by the class means.
///
/// The result is `sum_c W_c |m_c - m|^2 / sum_i w_i |f_i - m|^2`, where `m`
/// is the weighted mean of all points, `m_c` the weighted mean of class `c`
/// and `W_c` the total weight of class `c`. Only the relative size of the
/// weights matters, so they need not sum to 1, and a point of weight 0 is
/// ignored. Classes without weight are skipped.
///
/// Returns NaN when the total weighted variance is 0 (all points of positive
/// weight equal, or all weights 0), when a weight is negative or not finite,
/// or when a coordinate is not finite.
///
/// # Panics
///
/// Panics if `dim` is 0, if `features.len() != labels.len() * dim`, if
/// `weights.len() != labels.len()`, or if a label is not below `n_classes`.
pub fn between_class_fraction(
    features: &[f64],
    dim: usize,
    labels: &[usize],
    n_classes: usize,
    weights: &[f64],
) -> f64 {
    check_points(features, dim, labels, n_classes);
    assert_eq!(
        weights.len(),
        labels.len(),
        "expected one weight per point: {} weights for {} labels",
        weights.len(),
        labels.len()
    );
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return f64::NAN;
    }

    let mut total_weight = 0.0;
    let mut mean = vec![0.0; dim];
    let mut class_weights = vec![0.0; n_classes];
    let mut class_sums = vec![0.0; n_classes * dim];
    for (i, (&label, &weight)) in labels.iter().zip(weights).enumerate() {
        let point = &features[i * dim..(i + 1) * dim];
        total_weight += weight;
        class_weights[label] += weight;
        for c in 0..dim {
            mean[c] += weight * point[c];
            class_sums[label * dim + c] += weight * point[c];
        }
    }
    if total_weight <= 0.0 {
        return f64::NAN;
    }
    for value in &mut mean {
        *value /= total_weight;
    }

    let mut total_variance = 0.0;
    for (i, &weight) in weights.iter().enumerate() {
        let point = &features[i * dim..(i + 1) * dim];
        total_variance += weight * squared_distance(point, &mean);
    }

    let mut between_variance = 0.0;
    for class in 0..n_classes {
        let class_weight = class_weights[class];
        if class_weight <= 0.0 {
            continue;
        }
        let class_mean: Vec<f64> = class_sums[class * dim..(class + 1) * dim]
            .iter()
            .map(|sum| sum / class_weight)
            .collect();
        between_variance += class_weight * squared_distance(&class_mean, &mean);
    }

    if total_variance == 0.0 {
        return f64::NAN;
    }
    between_variance / total_variance
}

/// Panics on the invalid shapes and labels listed under `# Panics` of the public functions.
fn check_points(features: &[f64], dim: usize, labels: &[usize], n_classes: usize) {
    assert!(dim >= 1, "dim must be at least 1, got 0");
    assert_eq!(
        features.len(),
        labels.len() * dim,
        "expected features.len() = labels.len() * dim = {} * {dim}, got {}",
        labels.len(),
        features.len()
    );
    if let Some(label) = labels.iter().find(|&&label| label >= n_classes) {
        panic!("label {label} is out of range 0..{n_classes}");
    }
}

/// Copies the points of each class into its own row-major buffer.
fn group_by_class(
    features: &[f64],
    dim: usize,
    labels: &[usize],
    n_classes: usize,
) -> Vec<Vec<f64>> {
    let mut classes = vec![Vec::new(); n_classes];
    for (point, &label) in features.chunks_exact(dim).zip(labels) {
        classes[label].extend_from_slice(point);
    }
    classes
}

fn squared_distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Tests the class intervals for `dim = 1`, in O(n + C log C) for C classes.
fn separate_intervals(classes: &[Vec<f64>], non_empty: &[usize]) -> SeparationReport {
    let mut intervals: Vec<(f64, f64, usize)> = non_empty
        .iter()
        .map(|&class| {
            let values = &classes[class];
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max, class)
        })
        .collect();
    intervals.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));

    let mut margin = f64::INFINITY;
    let mut worst_pair = None;
    for pair in intervals.windows(2) {
        let (_, prev_max, prev_class) = pair[0];
        let (next_min, _, next_class) = pair[1];
        let half_gap = 0.5 * (next_min - prev_max);
        if half_gap < margin {
            margin = half_gap;
            worst_pair = Some((prev_class.min(next_class), prev_class.max(next_class)));
        }
    }

    SeparationReport {
        separable: margin > 0.0,
        margin,
        worst_pair,
    }
}

/// Tests every pair of non-empty classes by the separation LP, for `dim >= 2`.
fn separate_pairs_by_lp(classes: &[Vec<f64>], non_empty: &[usize], dim: usize) -> SeparationReport {
    // Interior points never bind in the LP, so only hull vertices are kept.
    let reduced: Vec<Vec<f64>> = classes
        .iter()
        .map(|points| {
            if dim == 2 {
                convex_hull_2d(points)
            } else {
                points.clone()
            }
        })
        .collect();

    let mut separable = true;
    let mut margin = f64::INFINITY;
    let mut worst_pair = None;
    for (position, &a) in non_empty.iter().enumerate() {
        for &b in &non_empty[position + 1..] {
            let pair = match pair_margin(&reduced[a], &reduced[b], dim) {
                Ok(pair) => pair,
                Err(error) => {
                    log::warn!(
                        "linear separation: LP solve failed for classes {a} and {b}: {error}; \
                         reporting them as not separable with margin NaN"
                    );
                    return SeparationReport {
                        separable: false,
                        margin: f64::NAN,
                        worst_pair: Some((a, b)),
                    };
                }
            };
            separable &= pair.separable;
            if pair.margin < margin {
                margin = pair.margin;
                worst_pair = Some((a, b));
            }
        }
    }

    SeparationReport {
        separable,
        margin,
        worst_pair,
    }
}

/// Margin and verdict for one pair of classes.
#[derive(Clone, Copy, Debug)]
struct PairMargin {
    margin: f64,
    separable: bool,
}

/// Solves the separation LP for two non-empty classes with finite points.
fn pair_margin(first: &[f64], second: &[f64], dim: usize) -> Result<PairMargin, microlp::Error> {
    // Centre on the bounding box of both classes and scale it to [-1, 1]^dim,
    // so the LP coefficients are O(1). The offset is absorbed by b and the
    // scale multiplies the margin.
    let mut lower = vec![f64::INFINITY; dim];
    let mut upper = vec![f64::NEG_INFINITY; dim];
    for point in first.chunks_exact(dim).chain(second.chunks_exact(dim)) {
        for c in 0..dim {
            lower[c] = lower[c].min(point[c]);
            upper[c] = upper[c].max(point[c]);
        }
    }
    let centre: Vec<f64> = (0..dim).map(|c| 0.5 * (lower[c] + upper[c])).collect();
    let scale = (0..dim)
        .map(|c| 0.5 * (upper[c] - lower[c]))
        .fold(0.0, f64::max);
    let largest_magnitude = (0..dim)
        .map(|c| lower[c].abs().max(upper[c].abs()))
        .fold(0.0, f64::max);
    let tolerance = RELATIVE_TOLERANCE * largest_magnitude;

    // All points of both classes coincide.
    if scale == 0.0 {
        return Ok(PairMargin {
            margin: 0.0,
            separable: false,
        });
    }
    let to_scaled = |points: &[f64]| -> Vec<f64> {
        points
            .chunks_exact(dim)
            .flat_map(|point| {
                (0..dim)
                    .map(|c| (point[c] - centre[c]) / scale)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let first_scaled = to_scaled(first);
    let second_scaled = to_scaled(second);

    // With coordinates in [-1, 1] and |w_c| <= 1, an optimal offset lies in
    // [-dim, dim] and the optimum t* in [0, dim], so every variable is bounded.
    let bound = dim as f64;
    let mut problem = Problem::new(OptimizationDirection::Maximize);
    let normal: Vec<_> = (0..dim)
        .map(|_| problem.add_var(0.0, (-1.0, 1.0)))
        .collect();
    let offset = problem.add_var(0.0, (-bound, bound));
    let half_margin = problem.add_var(1.0, (0.0, bound));
    for (points, sign) in [(&first_scaled, 1.0), (&second_scaled, -1.0)] {
        for point in points.chunks_exact(dim) {
            // sign * (w.x - b) - t >= 0
            let mut row: Vec<(microlp::Variable, f64)> = Vec::with_capacity(dim + 2);
            for c in 0..dim {
                if point[c].abs() >= NEGLIGIBLE_COEFFICIENT {
                    row.push((normal[c], sign * point[c]));
                }
            }
            row.push((offset, -sign));
            row.push((half_margin, -1.0));
            problem.add_constraint(&row[..], ComparisonOp::Ge, 0.0);
        }
    }

    let solution = match problem.solve()?.into_solution() {
        Ok(solution) => solution,
        Err(interrupted) => {
            return Err(microlp::Error::InternalError(format!(
                "solve interrupted without a solution: {:?}",
                interrupted.termination_reason()
            )));
        }
    };
    let w: Vec<f64> = normal.iter().map(|&var| solution.var_value(var)).collect();
    let b = solution.var_value(offset);

    // Recompute the margin of the returned hyperplane from the scaled data, so
    // a positive verdict does not rest on the solver's feasibility tolerance
    // (1e-7 by default in microlp 0.7).
    // NOTE: a suboptimal solver solution would understate the margin, and this
    // check cannot detect that. Rows of points close to the centre can span
    // more than the 1e6 coefficient ratio that microlp 0.7 recommends.
    let w_norm = w.iter().fold(0.0_f64, |acc, w_c| acc.max(w_c.abs()));
    let signed_distance = |point: &[f64], sign: f64| -> f64 {
        let projection: f64 = point.iter().zip(&w).map(|(x, w_c)| x * w_c).sum();
        sign * (projection - b)
    };
    let smallest = first_scaled
        .chunks_exact(dim)
        .map(|point| signed_distance(point, 1.0))
        .chain(
            second_scaled
                .chunks_exact(dim)
                .map(|point| signed_distance(point, -1.0)),
        )
        .fold(f64::INFINITY, f64::min);
    let margin = if w_norm > 0.0 && smallest > 0.0 {
        scale * smallest / w_norm
    } else {
        0.0
    };

    Ok(PairMargin {
        margin,
        separable: margin > tolerance,
    })
}

/// Returns the vertices of the convex hull of 2-D points, counter-clockwise,
/// by Andrew's monotone chain. Collinear boundary points and duplicates are
/// dropped. The points must be finite.
fn convex_hull_2d(points: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<[f64; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    sorted.sort_by(|p, q| p[0].total_cmp(&q[0]).then(p[1].total_cmp(&q[1])));
    sorted.dedup();
    if sorted.len() <= 2 {
        return sorted.into_iter().flatten().collect();
    }

    // Positive when o -> a -> b turns counter-clockwise.
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(2 * sorted.len());
    for &point in &sorted {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], point) <= 0.0 {
            hull.pop();
        }
        hull.push(point);
    }
    let lower_len = hull.len() + 1;
    for &point in sorted.iter().rev().skip(1) {
        while hull.len() >= lower_len
            && cross(hull[hull.len() - 2], hull[hull.len() - 1], point) <= 0.0
        {
            hull.pop();
        }
        hull.push(point);
    }
    // The last point repeats the first.
    hull.pop();
    hull.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    /// Deterministic uniform numbers in [0, 1) (SplitMix64).
    struct Sequence(u64);

    impl Sequence {
        fn next_unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Smallest l1 distance between a point of class `a` and one of class `b`.
    fn min_l1_distance(features: &[f64], dim: usize, labels: &[usize], a: usize, b: usize) -> f64 {
        let points_of = |class: usize| -> Vec<&[f64]> {
            features
                .chunks_exact(dim)
                .zip(labels)
                .filter(|(_, label)| **label == class)
                .map(|(point, _)| point)
                .collect()
        };
        let (first, second) = (points_of(a), points_of(b));
        let mut smallest = f64::INFINITY;
        for p in &first {
            for q in &second {
                let distance: f64 = p.iter().zip(q.iter()).map(|(x, y)| (x - y).abs()).sum();
                smallest = smallest.min(distance);
            }
        }
        smallest
    }

    // ---- 1-D ----

    #[test]
    fn intervals_disjoint_are_separable() {
        let features = [0.0, 1.0, 0.5, 4.0, 3.0];
        let labels = [0, 0, 0, 1, 1];
        let report = linear_separation(&features, 1, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 1.0).abs() < EPS,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn intervals_overlapping_not_separable() {
        let features = [0.0, 2.0, 1.5, 4.0];
        let labels = [0, 0, 1, 1];
        let report = linear_separation(&features, 1, &labels, 2);
        assert!(!report.separable);
        assert!(
            (report.margin + 0.25).abs() < EPS,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn intervals_touching_not_separable() {
        let features = [0.0, 1.0, 1.0, 2.0];
        let labels = [0, 0, 1, 1];
        let report = linear_separation(&features, 1, &labels, 2);
        assert!(!report.separable);
        assert_eq!(report.margin, 0.0);
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn intervals_three_classes_worst_gap() {
        // Class 2 in [0, 1], class 0 in [3, 4], class 1 in [4.5, 6]: the gap
        // between classes 0 and 1 (0.5) is the smaller one.
        let features = [3.0, 4.0, 5.0, 6.0, 4.5, 0.0, 1.0];
        let labels = [0, 0, 1, 1, 1, 2, 2];
        let report = linear_separation(&features, 1, &labels, 3);
        assert!(report.separable);
        assert!(
            (report.margin - 0.25).abs() < EPS,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn intervals_nested_not_separable() {
        let features = [0.0, 10.0, 2.0, 3.0, 12.0];
        let labels = [0, 0, 1, 1, 2];
        let report = linear_separation(&features, 1, &labels, 3);
        assert!(!report.separable);
        assert!(report.margin < 0.0, "margin {}", report.margin);
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    // ---- 2-D ----

    #[test]
    fn planar_clusters_separable() {
        let features = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 5.0, 5.0, 6.0, 5.0, 5.0, 6.0];
        let labels = [0, 0, 0, 1, 1, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(report.separable);
        // The hulls lie in x + y <= 1 and x + y >= 10, and their l1 distance
        // is 9 (for example from (1, 0) to (5, 5)), so the margin is 4.5.
        assert!(
            (report.margin - 4.5).abs() < 1e-7,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn planar_xor_not_separable() {
        let features = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let labels = [0, 0, 1, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(!report.separable);
        assert!(report.margin.abs() < 1e-9, "margin {}", report.margin);
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn planar_squares_touching_corner_not_separable() {
        let features = [
            0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, // unit square
            1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 2.0, 2.0, // shares the corner (1, 1)
        ];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(!report.separable);
        assert!(report.margin.abs() < 1e-9, "margin {}", report.margin);
    }

    #[test]
    fn planar_squares_touching_edge_not_separable() {
        let features = [
            0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, // unit square
            1.0, 0.5, 2.0, 0.5, 1.0, 1.5, 2.0, 1.5, // left edge on x = 1
        ];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(!report.separable);
        assert!(report.margin.abs() < 1e-9, "margin {}", report.margin);
    }

    #[test]
    fn planar_squares_apart_margin() {
        let features = [
            0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, // unit square
            1.5, 0.0, 2.5, 0.0, 1.5, 1.0, 2.5, 1.0, // shifted by 1.5 in x
        ];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 0.25).abs() < 1e-7,
            "margin {}",
            report.margin
        );
    }

    #[test]
    fn planar_diagonal_pair_margin() {
        // The l1 distance from (0, 0) to (1, 1) is 2, so the margin is 1,
        // reached only by the slanted line x + y = 1.
        let features = [0.0, 0.0, 1.0, 1.0];
        let labels = [0, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 1.0).abs() < 1e-7,
            "margin {}",
            report.margin
        );
    }

    #[test]
    fn planar_slanted_only_separable() {
        // Two thin parallel strips along the diagonal y = x. Their coordinate
        // ranges overlap in both x and y, so no axis-parallel line separates
        // them, but the lines x - y = c do. The l1 distance between the
        // strips' lines y = x and y = x - 1 is 1, so the margin is 0.5.
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for k in 0..=10 {
            let s = k as f64;
            features.extend_from_slice(&[s, s]);
            labels.push(0);
            features.extend_from_slice(&[s + 1.0, s]);
            labels.push(1);
        }
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 0.5).abs() < 1e-7,
            "margin {}",
            report.margin
        );
    }

    #[test]
    fn planar_ring_around_centre_not_separable() {
        let mut features = vec![0.1, -0.2, -0.1, 0.05];
        let mut labels = vec![0, 0];
        for k in 0..16 {
            let angle = 2.0 * std::f64::consts::PI * k as f64 / 16.0;
            features.extend_from_slice(&[3.0 * angle.cos(), 3.0 * angle.sin()]);
            labels.push(1);
        }
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(!report.separable);
        assert!(report.margin.abs() < 1e-9, "margin {}", report.margin);
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    #[test]
    fn planar_worst_pair_of_three() {
        // Vertical segments at x = 0, 4 and 6: the closest pair is (1, 2),
        // 2 apart, so the smallest margin is 1.
        let features = [0.0, 0.0, 0.0, 1.0, 4.0, 0.0, 4.0, 1.0, 6.0, 0.0, 6.0, 1.0];
        let labels = [0, 0, 1, 1, 2, 2];
        let report = linear_separation(&features, 2, &labels, 3);
        assert!(report.separable);
        assert!(
            (report.margin - 1.0).abs() < 1e-7,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((1, 2)));
    }

    #[test]
    fn planar_large_offset_separable() {
        // The same diagonal pair far from the origin: the margin stays 1.
        let features = [1e6, 1e6, 1e6 + 1.0, 1e6 + 1.0];
        let labels = [0, 1];
        let report = linear_separation(&features, 2, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 1.0).abs() < 1e-6,
            "margin {}",
            report.margin
        );
    }

    #[test]
    fn planar_many_random_points() {
        // 10 classes of 500 points in unit discs on a 5 x 2 grid of spacing 3:
        // the gap between neighbouring discs is 1 in the Euclidean norm.
        let mut sequence = Sequence(7);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for class in 0..10 {
            let centre = [3.0 * (class % 5) as f64, 3.0 * (class / 5) as f64];
            for _ in 0..500 {
                let radius = sequence.next_unit().sqrt();
                let angle = 2.0 * std::f64::consts::PI * sequence.next_unit();
                features.push(centre[0] + radius * angle.cos());
                features.push(centre[1] + radius * angle.sin());
                labels.push(class);
            }
        }
        let report = linear_separation(&features, 2, &labels, 10);
        assert!(report.separable);
        // Neighbouring discs are 1 apart in the Euclidean norm, so at least 1
        // apart in l1. Any two points bound the hull distance from above.
        let upper = 0.5 * min_l1_distance(&features, 2, &labels, 0, 1);
        assert!(report.margin >= 0.5 - 1e-9, "margin {}", report.margin);
        assert!(
            report.margin <= upper + 1e-7,
            "margin {} above {upper}",
            report.margin
        );

        // Move one point of class 0 to the centre of the disc of class 1.
        features[0] = 3.0;
        features[1] = 0.0;
        let report = linear_separation(&features, 2, &labels, 10);
        assert!(!report.separable);
        assert_eq!(report.worst_pair, Some((0, 1)));
    }

    // ---- 3-D ----

    fn tetrahedron_with(point: [f64; 3]) -> (Vec<f64>, Vec<usize>) {
        let mut features = vec![
            0.0, 0.0, 0.0, //
            1.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0, //
        ];
        features.extend_from_slice(&point);
        (features, vec![0, 0, 0, 0, 1])
    }

    #[test]
    fn spatial_point_outside_tetrahedron() {
        // The tetrahedron lies in x + y + z <= 1 and the point has
        // x + y + z = 3, so their l1 distance is 2 and the margin is 1.
        let (features, labels) = tetrahedron_with([1.0, 1.0, 1.0]);
        let report = linear_separation(&features, 3, &labels, 2);
        assert!(report.separable);
        assert!(
            (report.margin - 1.0).abs() < 1e-7,
            "margin {}",
            report.margin
        );
    }

    #[test]
    fn spatial_point_inside_tetrahedron() {
        let (features, labels) = tetrahedron_with([0.2, 0.2, 0.2]);
        let report = linear_separation(&features, 3, &labels, 2);
        assert!(!report.separable);
        assert!(report.margin.abs() < 1e-9, "margin {}", report.margin);
    }

    #[test]
    fn spatial_point_on_tetrahedron_face() {
        let (features, labels) = tetrahedron_with([0.25, 0.25, 0.5]);
        let report = linear_separation(&features, 3, &labels, 2);
        assert!(!report.separable);
    }

    #[test]
    fn spatial_many_random_points() {
        // 10 classes of 500 points in unit balls centred 3 apart on a line.
        let mut sequence = Sequence(11);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for class in 0..10 {
            let mut count = 0;
            while count < 500 {
                let p = [
                    2.0 * sequence.next_unit() - 1.0,
                    2.0 * sequence.next_unit() - 1.0,
                    2.0 * sequence.next_unit() - 1.0,
                ];
                if p.iter().map(|x| x * x).sum::<f64>() > 1.0 {
                    continue;
                }
                features.extend_from_slice(&[p[0] + 3.0 * class as f64, p[1], p[2]]);
                labels.push(class);
                count += 1;
            }
        }
        let report = linear_separation(&features, 3, &labels, 10);
        assert!(report.separable);
        // Neighbouring balls are 1 apart in the Euclidean norm, so at least 1
        // apart in l1. Any two points bound the hull distance from above.
        let upper = 0.5 * min_l1_distance(&features, 3, &labels, 0, 1);
        assert!(report.margin >= 0.5 - 1e-9, "margin {}", report.margin);
        assert!(
            report.margin <= upper + 1e-7,
            "margin {} above {upper}",
            report.margin
        );

        // Move one point of class 3 to the centre of class 4.
        let moved = labels.iter().position(|&label| label == 3).unwrap();
        features[moved * 3..moved * 3 + 3].copy_from_slice(&[12.0, 0.0, 0.0]);
        let report = linear_separation(&features, 3, &labels, 10);
        assert!(!report.separable);
        assert_eq!(report.worst_pair, Some((3, 4)));
    }

    // ---- degenerate input ----

    #[test]
    fn separation_ignores_empty_class() {
        let features = [0.0, 0.0, 2.0, 2.0];
        let labels = [0, 2];
        let report = linear_separation(&features, 2, &labels, 4);
        assert!(report.separable);
        assert!(
            (report.margin - 2.0).abs() < 1e-7,
            "margin {}",
            report.margin
        );
        assert_eq!(report.worst_pair, Some((0, 2)));
    }

    #[test]
    fn separation_single_class_trivial() {
        for dim in 1..=3 {
            let features = vec![1.0; 4 * dim];
            let report = linear_separation(&features, dim, &[1, 1, 1, 1], 3);
            assert!(report.separable);
            assert_eq!(report.margin, f64::INFINITY);
            assert_eq!(report.worst_pair, None);
        }
    }

    #[test]
    fn separation_no_points_trivial() {
        let report = linear_separation(&[], 2, &[], 3);
        assert!(report.separable);
        assert_eq!(report.margin, f64::INFINITY);
        assert_eq!(report.worst_pair, None);
    }

    #[test]
    fn separation_equal_points_not_separable() {
        for dim in 1..=3 {
            let features = vec![0.5; 4 * dim];
            let report = linear_separation(&features, dim, &[0, 1, 0, 1], 2);
            assert!(!report.separable, "dim {dim}");
            assert_eq!(report.margin, 0.0, "dim {dim}");
            assert_eq!(report.worst_pair, Some((0, 1)), "dim {dim}");
        }
    }

    #[test]
    fn separation_all_at_origin_not_separable() {
        let features = [0.0; 6];
        let report = linear_separation(&features, 3, &[0, 1], 2);
        assert!(!report.separable);
        assert_eq!(report.margin, 0.0);
    }

    #[test]
    fn separation_nan_not_separable() {
        for dim in 1..=3 {
            let mut features = vec![0.0; 3 * dim];
            features[2 * dim] = 5.0;
            features[dim] = f64::NAN;
            let report = linear_separation(&features, dim, &[0, 2, 1], 3);
            assert!(!report.separable, "dim {dim}");
            assert!(report.margin.is_nan(), "dim {dim}");
            assert_eq!(report.worst_pair, Some((0, 2)), "dim {dim}");
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn separation_label_out_of_range_panics() {
        linear_separation(&[0.0, 1.0], 1, &[0, 2], 2);
    }

    // ---- convex hull ----

    #[test]
    fn hull_drops_interior_and_collinear() {
        let points = [
            0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0, // corners
            1.0, 1.0, 1.0, 0.0, 0.0, 0.0, // centre, edge midpoint, duplicate
        ];
        let hull = convex_hull_2d(&points);
        assert_eq!(hull, vec![0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0]);
    }

    #[test]
    fn hull_of_collinear_points_is_segment() {
        let points = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        let hull = convex_hull_2d(&points);
        assert_eq!(hull, vec![0.0, 0.0, 3.0, 3.0]);
    }

    // ---- between_class_fraction ----

    #[test]
    fn between_fraction_coinciding_means_zero() {
        // Both classes are centred at the origin.
        let features = [-1.0, 0.0, 1.0, 0.0, 0.0, -2.0, 0.0, 2.0];
        let labels = [0, 0, 1, 1];
        let weights = [0.25; 4];
        let fraction = between_class_fraction(&features, 2, &labels, 2, &weights);
        assert!(fraction.abs() < EPS, "fraction {fraction}");
    }

    #[test]
    fn between_fraction_point_classes_one() {
        let features = [0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 7.0, 7.0];
        let labels = [0, 0, 0, 1, 1, 1, 2, 2];
        let weights = [0.1, 0.2, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1];
        let fraction = between_class_fraction(&features, 1, &labels, 3, &weights);
        assert!((fraction - 1.0).abs() < EPS, "fraction {fraction}");
    }

    #[test]
    fn between_fraction_hand_computed() {
        // Class 0 at {0, 2} (mean 1), class 1 at {4, 6} (mean 5), equal
        // weights. Overall mean 3. Between: 0.5 * 4 + 0.5 * 4 = 4.
        // Total: (9 + 1 + 1 + 9) / 4 = 5. Fraction 0.8.
        let features = [0.0, 2.0, 4.0, 6.0];
        let labels = [0, 0, 1, 1];
        let weights = [0.25; 4];
        let fraction = between_class_fraction(&features, 1, &labels, 2, &weights);
        assert!((fraction - 0.8).abs() < EPS, "fraction {fraction}");
    }

    #[test]
    fn between_fraction_weighted() {
        // Class 0 at 0 (weight 0.5) and 2 (weight 0.25), class 1 at 4
        // (weight 0.25). m = 1.5, m_0 = 2/3, m_1 = 4.
        // Between: 0.75 * (5/6)^2 + 0.25 * 2.5^2 = 0.520833.. + 1.5625 = 2.083333..
        // Total: 0.5 * 2.25 + 0.25 * 0.25 + 0.25 * 6.25 = 2.75. Fraction 25/33.
        let features = [0.0, 2.0, 4.0];
        let labels = [0, 0, 1];
        let weights = [0.5, 0.25, 0.25];
        let fraction = between_class_fraction(&features, 1, &labels, 2, &weights);
        assert!((fraction - 25.0 / 33.0).abs() < EPS, "fraction {fraction}");
    }

    #[test]
    fn between_fraction_unnormalised_weights_same() {
        let features = [0.0, 1.0, 2.0, 1.0, 5.0, 4.0];
        let labels = [0, 1, 0];
        let fraction = between_class_fraction(&features, 2, &labels, 3, &[0.2, 0.3, 0.5]);
        let scaled = between_class_fraction(&features, 2, &labels, 3, &[2.0, 3.0, 5.0]);
        assert!((fraction - scaled).abs() < EPS, "{fraction} vs {scaled}");
    }

    #[test]
    fn between_fraction_zero_variance_nan() {
        let features = [1.0, 1.0, 1.0, 1.0];
        let labels = [0, 1];
        let fraction = between_class_fraction(&features, 2, &labels, 2, &[0.5, 0.5]);
        assert!(fraction.is_nan());
    }

    #[test]
    fn between_fraction_invalid_weight_nan() {
        let features = [0.0, 1.0];
        let labels = [0, 1];
        assert!(between_class_fraction(&features, 1, &labels, 2, &[1.5, -0.5]).is_nan());
        assert!(between_class_fraction(&features, 1, &labels, 2, &[f64::NAN, 0.5]).is_nan());
        assert!(between_class_fraction(&features, 1, &labels, 2, &[0.0, 0.0]).is_nan());
    }

    #[test]
    fn between_fraction_no_points_nan() {
        assert!(between_class_fraction(&[], 3, &[], 2, &[]).is_nan());
    }
}
