//! The HDF5 results file. The layout is documented in docs/output.md; every
//! dataset carries a `description` attribute. Snapshot and diagnostics
//! datasets are chunked and extendable, and the file is flushed after each
//! append, so a run that stops early leaves a readable file.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use ndarray::{Array1, Array3, ArrayView1, s};

use crate::error::{Error, Result};

/// Deflate level of compressed datasets (1 = fastest; features compress
/// poorly, so higher levels buy little).
const DEFLATE_LEVEL: u8 = 1;

/// An open results file.
pub struct ResultsFile {
    file: hdf5::File,
    path: PathBuf,
}

fn unicode(text: &str) -> VarLenUnicode {
    // A NUL byte cannot appear in an HDF5 string; replace it rather than fail.
    text.replace('\0', " ").parse().unwrap_or_default()
}

impl ResultsFile {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = hdf5::File::create(path).map_err(|e| Error::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
            hint: "choose a writable output folder with --out".into(),
        })?;
        Ok(ResultsFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing file read-only.
    pub fn open(path: &Path) -> Result<hdf5::File> {
        hdf5::File::open(path).map_err(|e| {
            Error::input(
                path.display().to_string(),
                "-",
                format!("cannot open as HDF5: {e}"),
                "pass a run.h5 written by clflow run",
            )
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn h5<T>(&self, result: hdf5::Result<T>) -> Result<T> {
        result.map_err(|source| Error::Hdf5 {
            path: self.path.clone(),
            source,
        })
    }

    /// Creates a group (with its parents) unless it exists.
    pub fn group(&self, name: &str) -> Result<hdf5::Group> {
        if let Ok(group) = self.file.group(name) {
            return Ok(group);
        }
        let mut current = self.h5(self.file.group("/"))?;
        for part in name.split('/').filter(|p| !p.is_empty()) {
            current = match current.group(part) {
                Ok(g) => g,
                Err(_) => self.h5(current.create_group(part))?,
            };
        }
        Ok(current)
    }

    /// Writes a string attribute on a group or dataset.
    pub fn string_attr(&self, location: &hdf5::Location, name: &str, value: &str) -> Result<()> {
        let attr = self.h5(location.new_attr::<VarLenUnicode>().create(name))?;
        self.h5(attr.write_scalar(&unicode(value)))
    }

    /// Writes a floating-point attribute (NaN for an event that did not occur).
    pub fn f64_attr(&self, location: &hdf5::Location, name: &str, value: f64) -> Result<()> {
        let attr = self.h5(location.new_attr::<f64>().create(name))?;
        self.h5(attr.write_scalar(&value))
    }

    /// Writes an integer attribute.
    pub fn u64_attr(&self, location: &hdf5::Location, name: &str, value: u64) -> Result<()> {
        let attr = self.h5(location.new_attr::<u64>().create(name))?;
        self.h5(attr.write_scalar(&value))
    }

    /// Writes a fixed dataset of f64 with the given shape and a description.
    pub fn write_f64(
        &self,
        group: &hdf5::Group,
        name: &str,
        shape: &[usize],
        values: &[f64],
        description: &str,
    ) -> Result<()> {
        let expected: usize = shape.iter().product();
        if expected != values.len() {
            return Err(Error::Numerical(format!(
                "dataset {name}: shape {shape:?} needs {expected} values, found {}",
                values.len()
            )));
        }
        let array = self.h5(
            ndarray::ArrayD::from_shape_vec(shape.to_vec(), values.to_vec())
                .map_err(|e| hdf5::Error::from(e.to_string())),
        )?;
        let ds = self.h5(group.new_dataset_builder().with_data(&array).create(name))?;
        self.string_attr(&ds, "description", description)
    }

    /// Writes a fixed dataset of integers with a description.
    pub fn write_i64(
        &self,
        group: &hdf5::Group,
        name: &str,
        values: &[i64],
        description: &str,
    ) -> Result<()> {
        let ds = self.h5(group.new_dataset_builder().with_data(values).create(name))?;
        self.string_attr(&ds, "description", description)
    }

    pub fn flush(&self) -> Result<()> {
        self.h5(self.file.flush())
    }

    /// Starts an extendable snapshot series `times` (S) and `name` (S x rows x cols).
    pub fn snapshot_series(
        &self,
        group: &str,
        name: &str,
        rows: usize,
        cols: usize,
        description: &str,
    ) -> Result<SnapshotSeries> {
        let group = self.group(group)?;
        let times = self.h5(group
            .new_dataset::<f64>()
            .chunk(256)
            .shape(0..)
            .create("times"))?;
        self.string_attr(&times, "description", "model time t of each snapshot")?;
        let data = self.h5(group
            .new_dataset::<f64>()
            .chunk((1, rows.max(1), cols.max(1)))
            .deflate(DEFLATE_LEVEL)
            .shape((0.., rows, cols))
            .create(name))?;
        self.string_attr(&data, "description", description)?;
        Ok(SnapshotSeries {
            times,
            data,
            rows,
            cols,
            count: 0,
            path: self.path.clone(),
            file: self.file.clone(),
        })
    }

    /// Starts a set of extendable 1-D diagnostics series in `group`, one per name.
    pub fn diagnostics_series(
        &self,
        group: &str,
        columns: &[(&str, &str)],
    ) -> Result<DiagnosticsSeries> {
        let group = self.group(group)?;
        let mut datasets = Vec::new();
        for (name, description) in columns {
            let ds = self.h5(group
                .new_dataset::<f64>()
                .chunk(1024)
                .shape(0..)
                .create(*name))?;
            self.string_attr(&ds, "description", description)?;
            datasets.push((name.to_string(), ds));
        }
        Ok(DiagnosticsSeries {
            datasets,
            count: 0,
            path: self.path.clone(),
            file: self.file.clone(),
        })
    }
}

/// An extendable series of snapshots, flushed after each append.
pub struct SnapshotSeries {
    times: hdf5::Dataset,
    data: hdf5::Dataset,
    rows: usize,
    cols: usize,
    count: usize,
    path: PathBuf,
    file: hdf5::File,
}

impl SnapshotSeries {
    /// Appends one snapshot (`values` row-major rows x cols) and flushes the file.
    pub fn append(&mut self, time: f64, values: &[f64]) -> Result<()> {
        let h5 = |r: hdf5::Result<()>| {
            r.map_err(|source| Error::Hdf5 {
                path: self.path.clone(),
                source,
            })
        };
        let s_new = self.count + 1;
        h5(self.times.resize(s_new))?;
        h5(self
            .times
            .write_slice(ArrayView1::from(&[time][..]), s![self.count..s_new]))?;
        h5(self.data.resize((s_new, self.rows, self.cols)))?;
        let block =
            Array3::from_shape_vec((1, self.rows, self.cols), values.to_vec()).map_err(|e| {
                Error::Numerical(format!(
                    "snapshot has {} values, expected {} x {}: {e}",
                    values.len(),
                    self.rows,
                    self.cols
                ))
            })?;
        h5(self.data.write_slice(&block, s![self.count..s_new, .., ..]))?;
        self.count = s_new;
        h5(self.file.flush())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Extendable 1-D diagnostics datasets that grow together, one row per time.
pub struct DiagnosticsSeries {
    datasets: Vec<(String, hdf5::Dataset)>,
    count: usize,
    path: PathBuf,
    file: hdf5::File,
}

impl DiagnosticsSeries {
    /// Appends one value per dataset, in the order the names were given, and flushes.
    pub fn append(&mut self, values: &[f64]) -> Result<()> {
        if values.len() != self.datasets.len() {
            return Err(Error::Numerical(format!(
                "diagnostics row has {} values, expected {}",
                values.len(),
                self.datasets.len()
            )));
        }
        let h5 = |r: hdf5::Result<()>| {
            r.map_err(|source| Error::Hdf5 {
                path: self.path.clone(),
                source,
            })
        };
        let s_new = self.count + 1;
        for ((_, ds), v) in self.datasets.iter().zip(values) {
            h5(ds.resize(s_new))?;
            h5(ds.write_slice(&Array1::from_elem(1, *v), s![self.count..s_new]))?;
        }
        self.count = s_new;
        h5(self.file.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        {
            let file = ResultsFile::create(&path).unwrap();
            let mut series = file
                .snapshot_series("particles/snapshots", "features", 3, 2, "test")
                .unwrap();
            series.append(0.0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
            series
                .append(0.5, &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0])
                .unwrap();
            let mut diag = file
                .diagnostics_series("particles/diagnostics", &[("time", "t"), ("alpha", "a")])
                .unwrap();
            diag.append(&[0.0, 0.1]).unwrap();
            diag.append(&[0.5, 0.7]).unwrap();
        }
        let file = hdf5::File::open(&path).unwrap();
        let features = file.dataset("particles/snapshots/features").unwrap();
        assert_eq!(features.shape(), vec![2, 3, 2]);
        let values: Vec<f64> = features.read_raw().unwrap();
        assert_eq!(values[6..], [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
        let times: Vec<f64> = file
            .dataset("particles/snapshots/times")
            .unwrap()
            .read_raw()
            .unwrap();
        assert_eq!(times, vec![0.0, 0.5]);
        let alpha: Vec<f64> = file
            .dataset("particles/diagnostics/alpha")
            .unwrap()
            .read_raw()
            .unwrap();
        assert_eq!(alpha, vec![0.1, 0.7]);
        let description: VarLenUnicode =
            features.attr("description").unwrap().read_scalar().unwrap();
        assert_eq!(description.as_str(), "test");
    }
}
