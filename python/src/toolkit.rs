//! The program's tools on models from Python: pruning, quantization, studies and the inside of
//! a neuron, run by the same library code as `mdpn prune`, `quantize`, `study` and `inspect`,
//! on the same option structs, filled from keyword arguments.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mdpn::model_file::ModelFile;
use mdpn::prune::prune as prune_model;
use mdpn::quantize::quantize as quantize_model;
use mdpn::quantized::WeightBits;
use mdpn::splits::ProtocolName;
use mdpn::splits::{Source, Splits, Subset};
use mdpn::training::{self, FitData};
use mdpn_report::inspect::InspectArgs;
use mdpn_runs::files::program;
use mdpn_runs::recipe_options::RecipeOptions;
use mdpn_runs::study::{ModelKind, StudyArgs, StudyEnd};
use numpy::PyArrayDyn;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::images::{labelled, with_images};
use crate::model::Model;
use crate::{file_err, py_err};

/// How often the calling thread looks for Ctrl-C while a study runs.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Prunes an f32 model as `mdpn prune` does: fixes its constant synapses, removes the
/// dendrites constant on the first `samples` images of `x_train` (or of `x_val`), and with
/// `max_drop` the least important ones while the accuracy on `x_val`, `y_val` stays within
/// `max_drop` points; with `fine_tune` epochs, then trains it on `x_train`, `y_train` as
/// `mdpn prune --fine-tune` does. Returns the model and what was done.
#[pyfunction]
#[pyo3(signature = (model, x_val, y_val, *, x_train=None, y_train=None, tolerance=0.05,
    max_drop=None, fine_tune=None, lr=1e-3, batch_size=64, seed=0, samples=10_000))]
#[allow(clippy::too_many_arguments)]
pub fn prune<'py>(
    py: Python<'py>,
    model: &Model,
    x_val: &Bound<'py, PyAny>,
    y_val: &Bound<'py, PyAny>,
    x_train: Option<&Bound<'py, PyAny>>,
    y_train: Option<&Bound<'py, PyAny>>,
    tolerance: f32,
    max_drop: Option<f64>,
    fine_tune: Option<usize>,
    lr: f32,
    batch_size: usize,
    seed: u64,
    samples: usize,
) -> PyResult<(Model, Bound<'py, PyDict>)> {
    let file = model.f32("pruning")?;
    let names = &file.class_names;
    let validation = labelled(x_val, y_val, names, "validation")?;
    let train = match (x_train, y_train) {
        (Some(x), Some(y)) => Some(labelled(x, y, names, "training")?),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give both x_train and y_train, or neither",
            ))
        }
    };
    if fine_tune.is_some() && train.is_none() {
        return Err(PyValueError::new_err(
            "fine_tune trains on x_train, y_train: give them",
        ));
    }
    if fine_tune == Some(0) {
        return Err(PyValueError::new_err("fine_tune takes at least 1 epoch"));
    }
    let sample_set = train.as_ref().unwrap_or(&validation);
    let sample: Vec<usize> = (0..sample_set.len().min(samples)).collect();
    let all: Vec<usize> = (0..validation.len()).collect();
    let (pruned, tuned) = py
        .detach(|| -> mdpn::Result<_> {
            let pruned = prune_model(
                &file.model,
                (sample_set, &sample),
                (&validation, &all),
                tolerance,
                max_drop,
            )?;
            let tuned = match (fine_tune, &train) {
                (Some(epochs), Some(train)) => {
                    let subset = |source, indices| Subset { source, indices };
                    let splits = Splits {
                        train: subset(Source::Train, (0..train.len()).collect()),
                        validation: subset(Source::Test, all.clone()),
                        test: subset(Source::Test, Vec::new()),
                    };
                    let data = FitData {
                        train,
                        test: &validation,
                        splits: &splits,
                    };
                    let model = &pruned.model;
                    Some(training::fine_tune(
                        model,
                        data,
                        lr,
                        batch_size,
                        seed,
                        epochs,
                        |_| {},
                    )?)
                }
                _ => None,
            };
            Ok((pruned, tuned))
        })
        .map_err(py_err)?;
    let done = PyDict::new(py);
    done.set_item("synapses_fixed", pruned.synapses_fixed)?;
    done.set_item("constant_dendrites", pruned.constant_dendrites)?;
    let mut removed = pruned.removed.clone();
    removed.sort_unstable();
    done.set_item("removed_dendrites", removed)?;
    done.set_item("best_epoch", tuned.as_ref().map(|(_, epoch)| *epoch))?;
    let model = tuned.map_or(pruned.model, |(m, _)| m);
    let out = ModelFile {
        model,
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program: program(),
    };
    Ok((out.into(), done))
}

/// The int8 model of an f32 model, its activations calibrated on the uint8 images `x`, as
/// `mdpn quantize` makes it; `source` names the images in the file ("the first N ...");
/// `weight_bits` 4 gives the soma int4 weights (`mdpn quantize --weight-bits 4`).
#[pyfunction]
#[pyo3(signature = (model, x, *, source=None, weight_bits=8))]
pub fn quantize(
    model: &Model,
    x: &Bound<'_, PyAny>,
    source: Option<String>,
    weight_bits: u32,
) -> PyResult<Model> {
    let bits = WeightBits::from_count(weight_bits).map_err(py_err)?;
    let file = model.f32("quantization (it is int8 already)")?;
    if x.cast::<PyArrayDyn<u8>>().is_err() {
        return Err(PyValueError::new_err(
            "calibration images must be a uint8 NumPy array of raw pixels",
        ));
    }
    let source = source.unwrap_or_else(|| match &file.dataset {
        Some(name) => format!("training images of {name}"),
        None => "calibration images".into(),
    });
    let int8 = with_images(x, &file.model.config, |images, _| match images {
        mdpn::Images::U8(pixels) => quantize_model(file, pixels, &source, program(), bits),
        mdpn::Images::F32(_) => unreachable!("checked to be uint8 above"),
    })?
    .map_err(py_err)?;
    Ok(Model {
        file: mdpn::any_model::AnyModel::Int8(int8),
    })
}

/// Runs `work` on a thread of its own while this one waits for it without the GIL, looking
/// for Ctrl-C: on Ctrl-C `stop` is set (`work` stops after its current epoch, its checkpoint
/// saved) and `KeyboardInterrupt` is raised once it has.
fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> anyhow::Result<T> + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let (result, interrupted) = std::thread::scope(|s| {
        let worker = s.spawn(|| work(&stop));
        let mut interrupted = None;
        while !worker.is_finished() {
            py.detach(|| std::thread::sleep(SIGNAL_CHECK));
            if interrupted.is_none() {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::SeqCst);
                    interrupted = Some(e);
                }
            }
        }
        let result = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (result, interrupted)
    });
    match (result, interrupted) {
        (Err(e), Some(_)) => Err(PyKeyboardInterrupt::new_err(format!("{e:#}"))),
        (_, Some(e)) => Err(e),
        (result, None) => result.map_err(file_err),
    }
}

/// Trains a study as `mdpn study` does, with its options as keyword arguments (`ablate` as
/// `KEY=V1,V2` strings), and writes its folder: the run folders and, once every run is
/// finished, the summary, pictures and report. Returns whether the study is finished (a worker
/// may leave runs to others). Ctrl-C stops after the current epoch, its checkpoint saved, and
/// raises `KeyboardInterrupt`; calling again continues the study.
#[pyfunction]
#[pyo3(signature = (datasets, *, out, runs, epochs, models, ablate, baseline_params, first_seed,
    batch_size, lr, protocol, val_fraction, limit, data_dir, worker, stale_after, recipe,
    schedule, warmup, weight_decay, label_smoothing, clip_grad_norm, shift, flip, erase,
    init_w_std))]
#[allow(clippy::too_many_arguments)]
pub fn study(
    py: Python<'_>,
    datasets: Vec<String>,
    out: PathBuf,
    runs: u64,
    epochs: usize,
    models: Vec<String>,
    ablate: Vec<String>,
    baseline_params: Vec<usize>,
    first_seed: u64,
    batch_size: usize,
    lr: f32,
    protocol: &str,
    val_fraction: f64,
    limit: Option<usize>,
    data_dir: Option<PathBuf>,
    worker: bool,
    stale_after: u64,
    recipe: String,
    schedule: Option<String>,
    warmup: Option<f32>,
    weight_decay: Option<f32>,
    label_smoothing: Option<f32>,
    clip_grad_norm: Option<f32>,
    shift: Option<usize>,
    flip: Option<bool>,
    erase: Option<f32>,
    init_w_std: Option<f32>,
) -> PyResult<bool> {
    if datasets.is_empty() {
        return Err(PyValueError::new_err("a study needs at least one data set"));
    }
    let models = models
        .iter()
        .map(|m| m.parse::<ModelKind>())
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(file_err)?;
    let protocol: ProtocolName = protocol.parse().map_err(py_err)?;
    let args = StudyArgs {
        datasets,
        data_dir,
        models,
        ablate,
        baseline_params,
        runs,
        first_seed,
        epochs,
        batch_size,
        lr,
        protocol,
        val_fraction,
        limit,
        out,
        recipe: RecipeOptions {
            recipe,
            schedule,
            warmup,
            weight_decay,
            label_smoothing,
            clip_grad_norm,
            shift,
            flip,
            erase,
            init_w_std,
        },
        worker,
        stale_after,
    };
    interruptible(py, |stop| {
        match mdpn_runs::study::study(&args, &|| stop.load(Ordering::SeqCst))? {
            StudyEnd::Finished => {
                mdpn_report::reports::write_study(&args.out)?;
                Ok(true)
            }
            StudyEnd::OthersRunning { .. } => Ok(false),
        }
    })
}

/// Writes the report of `mdpn inspect` on the model file `model` into `out` (default:
/// `inspect-<name>` beside the model) and returns that folder.
#[pyfunction]
#[pyo3(signature = (model, *, out, dataset, data_dir, images, examples, tolerance))]
#[allow(clippy::too_many_arguments)]
pub fn inspect(
    py: Python<'_>,
    model: PathBuf,
    out: Option<PathBuf>,
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    images: Vec<PathBuf>,
    examples: usize,
    tolerance: f32,
) -> PyResult<PathBuf> {
    let args = InspectArgs {
        model,
        dataset,
        data_dir,
        images,
        examples,
        tolerance,
        out,
    };
    py.detach(|| mdpn_report::inspect::inspect(&args))
        .map_err(file_err)
}
