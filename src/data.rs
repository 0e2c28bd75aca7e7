//! Data nodes x_i with data weights mu_i and optional class labels: built-in
//! generators and CSV files.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::scenario::{DataSpec, Scenario};

/// Data nodes of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Node coordinates, row-major, N x d.
    pub x: Vec<f64>,
    /// Data dimension d.
    pub dim: usize,
    /// Data weights mu_i > 0 summing to 1.
    pub weights: Vec<f64>,
    /// Class index in 0..C of every node, if the data are labelled.
    pub labels: Option<Vec<usize>>,
    /// Name of each class (the label as written in the source).
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Number of nodes N.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Number of classes C (0 without labels).
    pub fn class_count(&self) -> usize {
        self.class_names.len()
    }

    /// Row i of the coordinates.
    pub fn point(&self, i: usize) -> &[f64] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Rescales every coordinate to zero mean and unit standard deviation
    /// (weighted by mu); constant coordinates are only centred.
    pub fn standardize(&mut self) {
        for c in 0..self.dim {
            let mean: f64 = (0..self.len())
                .map(|i| self.weights[i] * self.x[i * self.dim + c])
                .sum();
            let var: f64 = (0..self.len())
                .map(|i| self.weights[i] * (self.x[i * self.dim + c] - mean).powi(2))
                .sum();
            let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 };
            for i in 0..self.len() {
                let v = &mut self.x[i * self.dim + c];
                *v = (*v - mean) * scale;
            }
        }
    }
}

/// Builds the data set that a scenario describes.
pub fn load(scenario: &Scenario) -> Result<Dataset> {
    let seed = |own: &Option<u64>| own.unwrap_or(scenario.seed);
    let (mut data, standardize) = match &scenario.data {
        DataSpec::Disks {
            centers,
            radius,
            points_per_class,
            labels,
            seed: s,
            quadrature,
            standardize,
        } => {
            let shape = |p: &[f64], c: &[f64]| dist2(p, c) <= radius * radius;
            let boxes: Vec<(Vec<f64>, Vec<f64>)> = centers
                .iter()
                .map(|c| (c.clone(), vec![*radius; c.len()]))
                .collect();
            let mut data = generate_in_shapes(
                &boxes,
                *points_per_class,
                seed(s),
                *quadrature,
                &|class, p| shape(p, &centers[class]),
                scenario,
            )?;
            if let (Some(classes), Some(node_labels)) = (labels, data.labels.as_mut()) {
                node_labels.iter_mut().for_each(|l| *l = classes[*l]);
                let count = classes.iter().max().map_or(0, |m| m + 1);
                data.class_names = (0..count).map(|c| c.to_string()).collect();
            }
            (data, *standardize)
        }
        DataSpec::Annuli {
            radii,
            width,
            points_per_class,
            seed: s,
            quadrature,
            standardize,
        } => {
            let boxes: Vec<(Vec<f64>, Vec<f64>)> = radii
                .iter()
                .map(|r| (vec![0.0, 0.0], vec![r + width / 2.0; 2]))
                .collect();
            let inside = |class: usize, p: &[f64]| {
                let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
                (r - radii[class]).abs() <= width / 2.0
            };
            (
                generate_in_shapes(
                    &boxes,
                    *points_per_class,
                    seed(s),
                    *quadrature,
                    &inside,
                    scenario,
                )?,
                *standardize,
            )
        }
        DataSpec::Rectangles {
            centers,
            half_widths,
            points_per_class,
            seed: s,
            quadrature,
            standardize,
        } => {
            let boxes: Vec<(Vec<f64>, Vec<f64>)> = centers
                .iter()
                .cloned()
                .zip(half_widths.iter().cloned())
                .collect();
            (
                generate_in_shapes(
                    &boxes,
                    *points_per_class,
                    seed(s),
                    *quadrature,
                    &|_, _| true,
                    scenario,
                )?,
                *standardize,
            )
        }
        DataSpec::Moons {
            points_per_class,
            noise,
            seed: s,
            standardize,
        } => (moons(*points_per_class, *noise, seed(s)), *standardize),
        DataSpec::GaussianMixture {
            means,
            std,
            points_per_class,
            seed: s,
            standardize,
        } => (
            gaussian_mixture(means, *std, *points_per_class, seed(s)),
            *standardize,
        ),
        DataSpec::File {
            path,
            label_column,
            header,
            classes,
            subsample,
            seed: s,
            standardize,
        } => {
            let resolved = scenario.resolve_path(path);
            let options = CsvOptions {
                label_column: *label_column,
                header: *header,
                classes: classes.clone(),
                subsample: *subsample,
                seed: seed(s),
            };
            (read_csv(&resolved, &options)?, *standardize)
        }
    };
    if standardize {
        data.standardize();
    }
    Ok(data)
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Samples `per_class` points per class uniformly inside each class's shape
/// (rejection from its bounding box), or with `quadrature` places nodes on a
/// regular grid over each shape with mu_i = density x cell volume, the
/// density giving every class mass 1/C.
fn generate_in_shapes(
    boxes: &[(Vec<f64>, Vec<f64>)],
    per_class: usize,
    seed: u64,
    quadrature: bool,
    inside: &dyn Fn(usize, &[f64]) -> bool,
    scenario: &Scenario,
) -> Result<Dataset> {
    let dim = boxes[0].0.len();
    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut weights = Vec::new();
    let class_count = boxes.len();

    if quadrature {
        if dim > 2 {
            return Err(Error::input(
                scenario.path.display().to_string(),
                "data.quadrature",
                format!("quadrature nodes need d <= 2, found d = {dim}"),
                "remove quadrature or use planar shapes",
            ));
        }
        for (class, (center, half)) in boxes.iter().enumerate() {
            // Grid spacing chosen from the box so that roughly per_class nodes
            // land in the shape; the exact count follows from the shape.
            let volume: f64 = half.iter().map(|h| 2.0 * h).product();
            let spacing = (volume / per_class as f64).powf(1.0 / dim as f64);
            let counts: Vec<usize> = half
                .iter()
                .map(|h| ((2.0 * h / spacing).ceil() as usize).max(1))
                .collect();
            let mut class_nodes = Vec::new();
            let total: usize = counts.iter().product();
            for flat in 0..total {
                let mut rest = flat;
                let mut p = vec![0.0; dim];
                for c in 0..dim {
                    let i = rest % counts[c];
                    rest /= counts[c];
                    let step = 2.0 * half[c] / counts[c] as f64;
                    p[c] = center[c] - half[c] + (i as f64 + 0.5) * step;
                }
                if inside(class, &p) {
                    class_nodes.push(p);
                }
            }
            let count = class_nodes.len().max(1);
            for p in class_nodes {
                x.extend(p);
                labels.push(class);
                weights.push(1.0 / (class_count * count) as f64);
            }
        }
    } else {
        let mut rng = StdRng::seed_from_u64(seed);
        for (class, (center, half)) in boxes.iter().enumerate() {
            let mut accepted = 0;
            while accepted < per_class {
                let p: Vec<f64> = (0..dim)
                    .map(|c| center[c] + half[c] * rng.random_range(-1.0..1.0))
                    .collect();
                if inside(class, &p) {
                    x.extend(p);
                    labels.push(class);
                    accepted += 1;
                }
            }
        }
        let n = labels.len();
        weights = vec![1.0 / n as f64; n];
    }
    normalise(&mut weights);
    Ok(Dataset {
        x,
        dim,
        weights,
        labels: Some(labels),
        class_names: (0..class_count).map(|c| c.to_string()).collect(),
    })
}

fn normalise(weights: &mut [f64]) {
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= total);
}

/// Two interleaving half circles: class 0 on the upper unit half circle, class
/// 1 on the lower half circle centred at (1, 0.5), each point with N(0, noise^2) noise.
fn moons(per_class: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(4 * per_class);
    let mut labels = Vec::with_capacity(2 * per_class);
    for class in 0..2 {
        for i in 0..per_class {
            let t = std::f64::consts::PI * i as f64 / (per_class.max(2) - 1) as f64;
            let (px, py) = if class == 0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            let nx: f64 = StandardNormal.sample(&mut rng);
            let ny: f64 = StandardNormal.sample(&mut rng);
            x.push(px + noise * nx);
            x.push(py + noise * ny);
            labels.push(class);
        }
    }
    let n = labels.len();
    Dataset {
        x,
        dim: 2,
        weights: vec![1.0 / n as f64; n],
        labels: Some(labels),
        class_names: vec!["0".into(), "1".into()],
    }
}

fn gaussian_mixture(means: &[Vec<f64>], std: f64, per_class: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let dim = means[0].len();
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for (class, mean) in means.iter().enumerate() {
        for _ in 0..per_class {
            for m in mean.iter().take(dim) {
                let z: f64 = StandardNormal.sample(&mut rng);
                x.push(m + std * z);
            }
            labels.push(class);
        }
    }
    let n = labels.len();
    Dataset {
        x,
        dim,
        weights: vec![1.0 / n as f64; n],
        labels: Some(labels),
        class_names: (0..means.len()).map(|c| c.to_string()).collect(),
    }
}

/// How to read a CSV file of data points.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// 1-based column of the label; 0 for unlabelled data.
    pub label_column: usize,
    pub header: bool,
    pub classes: Option<Vec<i64>>,
    pub subsample: Option<usize>,
    pub seed: u64,
}

/// Reads a CSV file (gzip-compressed when the name ends in `.gz`): every
/// column but the label column is a coordinate.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let file_name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| {
        Error::input(
            &file_name,
            "data.path",
            format!("cannot open the data file: {e}"),
            "check the path; it is relative to the scenario file's folder",
        )
    })?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };

    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut raw_labels: Vec<i64> = Vec::new();
    let mut width = None;
    for (line_index, line) in BufReader::new(reader).lines().enumerate() {
        let line_number = line_index + 1;
        let line = line.map_err(|e| {
            Error::input(
                &file_name,
                "data.path",
                format!("read failed at line {line_number}: {e}"),
                "check that the file is plain or gzip-compressed CSV",
            )
        })?;
        if (options.header && line_index == 0) || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if options.label_column > fields.len() {
            return Err(Error::input(
                &file_name,
                "data.label_column",
                format!(
                    "column {} does not exist: line {line_number} has {} columns",
                    options.label_column,
                    fields.len()
                ),
                "columns are numbered from 1; set label_column to an existing column or 0 for no labels",
            ));
        }
        if *width.get_or_insert(fields.len()) != fields.len() {
            return Err(Error::input(
                &file_name,
                "data.path",
                format!(
                    "line {line_number} has {} columns, earlier lines {}",
                    fields.len(),
                    width.unwrap_or(0)
                ),
                "every row needs the same number of columns",
            ));
        }
        let mut row = Vec::with_capacity(fields.len());
        let mut label = 0;
        for (column, field) in fields.iter().enumerate() {
            let value: f64 = field.parse().map_err(|_| {
                Error::input(
                    &file_name,
                    "data.path",
                    format!(
                        "line {line_number}, column {}: {field:?} is not a number",
                        column + 1
                    ),
                    if line_index == 0 {
                        "set header = true if the first line holds column names"
                    } else {
                        "all fields must be numeric"
                    },
                )
            })?;
            if column + 1 == options.label_column {
                if value.fract() != 0.0 {
                    return Err(Error::input(
                        &file_name,
                        "data.label_column",
                        format!("line {line_number}: label {value} is not an integer"),
                        "point label_column at the column of integer class labels",
                    ));
                }
                label = value as i64;
            } else {
                row.push(value);
            }
        }
        if let Some(keep) = &options.classes {
            if !keep.contains(&label) {
                continue;
            }
        }
        rows.push(row);
        raw_labels.push(label);
    }

    if rows.is_empty() || rows[0].is_empty() {
        return Err(Error::input(
            &file_name,
            if options.classes.is_some() {
                "data.classes"
            } else {
                "data.path"
            },
            "no data points selected".to_string(),
            if options.classes.is_some() {
                "the class filter matches no label in the label column; check the labels present in the file"
            } else {
                "the file holds no numeric rows"
            },
        ));
    }

    if let Some(count) = options.subsample {
        if count < rows.len() {
            let mut rng = StdRng::seed_from_u64(options.seed);
            let mut chosen = index::sample(&mut rng, rows.len(), count).into_vec();
            chosen.sort_unstable();
            rows = chosen.iter().map(|&i| rows[i].clone()).collect();
            raw_labels = chosen.iter().map(|&i| raw_labels[i]).collect();
        }
    }

    let dim = rows[0].len();
    let n = rows.len();
    let (labels, class_names) = if options.label_column == 0 {
        (None, Vec::new())
    } else {
        let mut distinct: Vec<i64> = raw_labels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let labels = raw_labels
            .iter()
            .map(|l| distinct.binary_search(l).unwrap_or(0))
            .collect();
        (
            Some(labels),
            distinct.iter().map(|l| l.to_string()).collect(),
        )
    };
    Ok(Dataset {
        x: rows.into_iter().flatten().collect(),
        dim,
        weights: vec![1.0 / n as f64; n],
        labels,
        class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn csv_label_column_and_filter() {
        let file = write_temp("a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n");
        let options = CsvOptions {
            label_column: 3,
            header: true,
            classes: Some(vec![1, 2]),
            ..Default::default()
        };
        let data = read_csv(file.path(), &options).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.dim, 2);
        assert_eq!(data.x, vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(data.labels, Some(vec![0, 1, 0]));
        assert_eq!(data.class_names, vec!["1", "2"]);
    }

    #[test]
    fn csv_missing_label_column_names_key() {
        let file = write_temp("1,2\n3,4\n");
        let options = CsvOptions {
            label_column: 5,
            ..Default::default()
        };
        let message = read_csv(file.path(), &options).unwrap_err().to_string();
        assert!(message.contains("data.label_column"), "{message}");
    }

    #[test]
    fn csv_empty_filter_names_key() {
        let file = write_temp("1,2,0\n3,4,1\n");
        let options = CsvOptions {
            label_column: 3,
            classes: Some(vec![7]),
            ..Default::default()
        };
        let message = read_csv(file.path(), &options).unwrap_err().to_string();
        assert!(message.contains("data.classes"), "{message}");
    }

    #[test]
    fn digits_gzip_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/digits.csv.gz");
        let options = CsvOptions {
            label_column: 65,
            classes: Some(vec![0, 1]),
            ..Default::default()
        };
        let data = read_csv(&path, &options).unwrap();
        assert_eq!(data.dim, 64);
        assert_eq!(data.class_count(), 2);
        assert!(data.len() > 300, "{}", data.len());
        assert!(data.len() < 400, "{}", data.len());
    }

    #[test]
    fn quadrature_weights_sum_to_one() {
        let scenario = Scenario::from_str_checked(
            "[data]\nsource = \"disks\"\ncenters = [[0.0, 0.0], [3.0, 0.0]]\nradius = 1.0\npoints_per_class = 400\nquadrature = true\n",
            Path::new("q.toml"),
        )
        .unwrap();
        let data = load(&scenario).unwrap();
        let total: f64 = data.weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        let class0: f64 = data
            .weights
            .iter()
            .zip(data.labels.as_ref().unwrap())
            .filter(|(_, l)| **l == 0)
            .map(|(w, _)| w)
            .sum();
        assert!((class0 - 0.5).abs() < 1e-12);
        // The nodes of a disk of radius 1 fill about pi/4 of its bounding box.
        let count = data
            .labels
            .as_ref()
            .unwrap()
            .iter()
            .filter(|l| **l == 0)
            .count();
        assert!((250..=400).contains(&count), "{count}");
    }

    #[test]
    fn disks_sample_inside() {
        let scenario = Scenario::from_str_checked(
            "[data]\nsource = \"disks\"\ncenters = [[-2.0, 0.0], [2.0, 0.0]]\nradius = 0.5\npoints_per_class = 50\n",
            Path::new("d.toml"),
        )
        .unwrap();
        let data = load(&scenario).unwrap();
        assert_eq!(data.len(), 100);
        for i in 0..100 {
            let class = data.labels.as_ref().unwrap()[i];
            let center = if class == 0 { -2.0 } else { 2.0 };
            let p = data.point(i);
            assert!((p[0] - center).powi(2) + p[1] * p[1] <= 0.25 + 1e-12);
        }
    }
}
