//! The `mdpn` Python package's native part (`mdpn._mdpn`): models from NumPy arrays, training
//! with the program's semantics, and the program's data sets. The Python side (`python/mdpn/`)
//! adds the scikit-learn estimator on top.

mod datasets;
mod fit;
mod images;
mod inside;
mod model;
mod threads;
mod toolkit;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A library error as the Python exception a caller expects: a model that diverged is a
/// `RuntimeError`, everything else is bad input, a `ValueError`.
fn py_err(e: mdpn::Error) -> PyErr {
    match e {
        mdpn::Error::Diverged(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// An error of the program's file handling (its whole chain of causes) as a `ValueError`.
fn file_err(e: anyhow::Error) -> PyErr {
    PyValueError::new_err(format!("{e:#}"))
}

#[pymodule]
fn _mdpn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(model::load, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::split, m)?)?;
    m.add_function(wrap_pyfunction!(toolkit::prune, m)?)?;
    m.add_function(wrap_pyfunction!(toolkit::quantize, m)?)?;
    m.add_function(wrap_pyfunction!(toolkit::study, m)?)?;
    m.add_function(wrap_pyfunction!(toolkit::inspect, m)?)?;
    Ok(())
}
