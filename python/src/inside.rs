//! Inside a trained neuron from Python, as `mdpn inspect` measures it: every synapse's state,
//! each dendrite's importance, and the saliency of the input pixels. Tables are dicts of NumPy
//! arrays, one per column (`pandas.DataFrame(table)` reads them as they are).

use mdpn::dendrite_importance::importance;
use mdpn::layers::axon;
use mdpn::synapse_states::synapses;
use mdpn::{Images, KernelChoice, Mdpn};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::images::{labelled, with_images};
use crate::py_err;

/// Adds the column `name` holding `values` to `table`.
fn column<'py, T: numpy::Element>(
    table: &Bound<'py, PyDict>,
    name: &str,
    values: Vec<T>,
) -> PyResult<()> {
    table.set_item(name, values.into_pyarray(table.py()))
}

/// The state of every synapse at `tolerance`: the columns of `mdpn inspect`'s `synapses.csv`.
pub fn synapse_states<'py>(
    py: Python<'py>,
    model: &Mdpn,
    tolerance: f32,
) -> PyResult<Bound<'py, PyDict>> {
    if !(tolerance > 0.0 && tolerance < 1.0) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "tolerance must be between 0 and 1, got {tolerance}"
        )));
    }
    let all = synapses(model, tolerance);
    let table = PyDict::new(py);
    let ints = |f: fn(&mdpn::synapse_states::Synapse) -> usize| {
        all.iter().map(|s| f(s) as i64).collect::<Vec<_>>()
    };
    let floats = |f: fn(&mdpn::synapse_states::Synapse) -> f32| all.iter().map(f).collect();
    column(&table, "channel", ints(|s| s.channel))?;
    column(&table, "dendrite", ints(|s| s.dendrite))?;
    column(&table, "row", ints(|s| s.row))?;
    column(&table, "column", ints(|s| s.col))?;
    column::<f32>(&table, "w", floats(|s| s.w))?;
    column::<f32>(&table, "q", floats(|s| s.q))?;
    column::<f32>(&table, "threshold", floats(|s| s.threshold))?;
    let states: Vec<&str> = all.iter().map(|s| s.state.name()).collect();
    table.set_item(
        "state",
        py.import("numpy")?.call_method1("array", (states,))?,
    )?;
    column::<f32>(&table, "y_low", floats(|s| s.y_low))?;
    column::<f32>(&table, "y_high", floats(|s| s.y_high))?;
    Ok(table)
}

/// Each dendrite's importance on the labelled uint8 images `x`, `y`, most important first: the
/// columns of `mdpn inspect`'s `importance.csv` (as fractions, not percentages), and the
/// model's accuracy.
pub fn dendrite_importance<'py>(
    py: Python<'py>,
    model: &Mdpn,
    class_names: &[String],
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let data = labelled(x, y, class_names, "the")?;
    let cfg = &model.config;
    if (data.channels, data.size) != (cfg.channels, cfg.image_size) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "x holds {}x{}x{} images; the model takes {}x{}x{}",
            data.channels, data.size, data.size, cfg.channels, cfg.image_size, cfg.image_size
        )));
    }
    let indices: Vec<usize> = (0..data.len()).collect();
    let found = py
        .detach(|| importance(model, &data, &indices))
        .map_err(py_err)?;
    let order = found.ranking();
    let m = cfg.dendrites;
    let table = PyDict::new(py);
    column(&table, "rank", (1..=order.len() as i64).collect())?;
    column(
        &table,
        "channel",
        order.iter().map(|&d| (d / m) as i64).collect(),
    )?;
    column(
        &table,
        "dendrite",
        order.iter().map(|&d| (d % m) as i64).collect(),
    )?;
    let without: Vec<f64> = order.iter().map(|&d| found.without[d]).collect();
    column(
        &table,
        "accuracy_lost",
        without.iter().map(|w| found.accuracy - w).collect(),
    )?;
    column(&table, "accuracy_without", without)?;
    table.set_item("accuracy", found.accuracy)?;
    Ok(table)
}

/// The saliency of every image of `x`: the gradient of the score of `classes[i]` (by default
/// the class the plain kernel predicts, as `mdpn inspect` draws it) with respect to the
/// normalised pixels, `(N, C, H, W)` values in image order.
pub fn saliency(
    x: &Bound<'_, PyAny>,
    model: &Mdpn,
    classes: Option<Vec<usize>>,
) -> PyResult<(Vec<f32>, usize)> {
    let cfg = &model.config;
    let (grad, n) = with_images(x, cfg, |images, n| {
        let normalised: Vec<f32> = match images {
            Images::U8(x) => x.iter().map(|&v| cfg.normalise(v)).collect(),
            Images::F32(x) => x.to_vec(),
        };
        let images = Images::F32(&normalised);
        let classes = match classes {
            Some(c) => c,
            None => model
                .forward(images, KernelChoice::Plain, None)?
                .logits
                .chunks_exact(cfg.classes)
                .map(axon::argmax)
                .collect(),
        };
        model.input_gradient(images, &classes).map(|g| (g, n))
    })?
    .map_err(py_err)?;
    Ok((grad, n))
}
