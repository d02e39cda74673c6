//! `mdpn.datasets`: the data sets the program knows, found by its files and look-up order
//! (`mdpn_data::datasets::load`, without fetching), and its train/validation/test splits.

use std::path::PathBuf;

use mdpn::splits::{ProtocolName, Splits};
use mdpn::{Dataset, Task};
use mdpn_data::datasets::{self, DataArgs};
use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{file_err, py_err};

/// Images `(N, H, W)` (gray) or `(N, C, H, W)`, uint8, and labels: class indices `(N,)`
/// int64, or for a multi-label set a 0/1 uint8 array `(N, classes)`.
fn arrays<'py>(
    py: Python<'py>,
    data: &Dataset,
    range: std::ops::Range<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let len = data.image_len();
    let images = data.images[range.start * len..range.end * len].to_vec();
    let mut shape = vec![range.len(), data.channels, data.size, data.size];
    if data.channels == 1 {
        shape.remove(1);
    }
    let images = images.into_pyarray(py).reshape(shape)?.into_any();
    let labels = &data.labels[range.clone()];
    let labels = match data.task {
        Task::MultiClass => labels
            .iter()
            .map(|&l| l as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py)
            .into_any(),
        Task::MultiLabel => {
            let classes = data.classes();
            let bits: Vec<u8> = labels
                .iter()
                .flat_map(|&mask| (0..classes).map(move |c| ((mask >> c) & 1) as u8))
                .collect();
            bits.into_pyarray(py)
                .reshape([range.len(), classes])?
                .into_any()
        }
    };
    Ok((images, labels))
}

/// Reads a data set as `mdpn train --dataset NAME [--data-dir DIR]` does (a known name, a
/// folder of IDX files, or an image folder). A missing known set is an error saying where it was
/// looked for (`mdpn download NAME` fetches it). Returns a dict of NumPy arrays and facts about
/// the set.
#[pyfunction]
#[pyo3(signature = (name, *, data_dir=None))]
pub fn load_dataset<'py>(
    py: Python<'py>,
    name: String,
    data_dir: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let args = DataArgs {
        dataset: name,
        data_dir,
        ..Default::default()
    };
    let data = py
        .detach(|| datasets::load(&args, false))
        .map_err(file_err)?;
    let out = PyDict::new(py);
    let train_len = data.train.len() - data.official_validation;
    let (x, y) = arrays(py, &data.train, 0..train_len)?;
    out.set_item("x_train", x)?;
    out.set_item("y_train", y)?;
    if data.official_validation > 0 {
        let (x, y) = arrays(py, &data.train, train_len..data.train.len())?;
        out.set_item("x_val", x)?;
        out.set_item("y_val", y)?;
    }
    let (x, y) = arrays(py, &data.test, 0..data.test.len())?;
    out.set_item("x_test", x)?;
    out.set_item("y_test", y)?;
    out.set_item("class_names", data.train.class_names.clone())?;
    out.set_item("name", data.name)?;
    out.set_item("folder", data.folder)?;
    out.set_item("mean", data.normalisation.0)?;
    out.set_item("std", data.normalisation.1)?;
    out.set_item("multi_label", data.train.task == Task::MultiLabel)?;
    Ok(out)
}

/// The indices `mdpn train --seed SEED --protocol PROTOCOL` trains, validates and tests on:
/// holdout (train and validation index the training set, test the test set) or paper (train
/// indexes the training set, validation and test the test set).
#[pyfunction]
#[pyo3(signature = (n_train, n_test, *, seed=0, protocol="holdout", val_fraction=0.1))]
pub fn split<'py>(
    py: Python<'py>,
    n_train: usize,
    n_test: usize,
    seed: u64,
    protocol: &str,
    val_fraction: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let protocol = protocol
        .parse::<ProtocolName>()
        .map_err(py_err)?
        .with_fraction(val_fraction);
    let splits = Splits::new(n_train, n_test, protocol, seed).map_err(py_err)?;
    let array = |indices: Vec<usize>| {
        indices
            .into_iter()
            .map(|i| i as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py)
            .into_any()
    };
    Ok((
        array(splits.train.indices),
        array(splits.validation.indices),
        array(splits.test.indices),
    ))
}
