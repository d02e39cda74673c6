//! Training from Python with the semantics of `mdpn train`: the same model initialisation,
//! shuffles, Adam and evaluation for the same seed, and the model kept at the best validation
//! accuracy; with `out`, the same run folder, written by the same [`RunWriter`]. The epochs run
//! on a worker thread without the GIL; the calling thread relays progress to Python and checks
//! for Ctrl-C, which stops training after the current batch.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

use mdpn::checkpoint::Checkpoint;
use mdpn::model_file::ModelFile;
use mdpn::splits::{Protocol, Source, Splits, Subset};
use mdpn::training::{self, BatchReport, EpochEnd, FitData, Fitted, Trainer};
use mdpn::{Config, KernelChoice, Mdpn};
use mdpn_runs::checkpoints::fresh;
use mdpn_runs::files::program;
use mdpn_runs::run_writer::{held_run, RunConfig, RunWriter, BEST_MODEL, LAST_MODEL};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::images::labelled;
use crate::model::Model;
use crate::{file_err, py_err, threads};

/// How often the calling thread looks for Ctrl-C while a batch runs.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// What one epoch gave, as `mdpn train` writes it to `metrics.csv` (without the test columns).
struct EpochRecord {
    epoch: usize,
    train_loss: f64,
    train_accuracy: f64,
    /// Loss, accuracy and AUC on the validation images, if there are any.
    validation: Option<(f64, f64, Option<f64>)>,
    seconds: f64,
    images_per_second: f64,
}

/// Progress sent from the training thread to the caller's.
enum Message {
    Batch(BatchReport),
    Epoch(EpochRecord),
}

/// Runs `epochs` epochs through the program's own training loop ([`training::fit`]), sending
/// progress to `tx` and, with `out`, writing the run folder there as `mdpn train` does; the best
/// model (at the best validation accuracy, or the last one without validation images), or
/// `None` once `stop` is set.
fn train_epochs(
    trainer: &mut Trainer,
    data: FitData,
    epochs: usize,
    (out, settings): (Option<&Path>, String),
    model_file: impl Fn(&Mdpn) -> ModelFile,
    stop: &AtomicBool,
    tx: Sender<Message>,
) -> anyhow::Result<Option<Mdpn>> {
    let mut run = fresh(trainer, settings);
    let mut best = None;
    let writer = RunWriter::new(out, data.splits.train.indices.len());
    writer.start(&run)?;
    let stopped = || stop.load(Ordering::SeqCst);
    let on_batch = |r: &BatchReport| {
        writer.batch(r);
        let _ = tx.send(Message::Batch(*r));
        match stopped() {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    };
    let validates = !data.splits.validation.indices.is_empty();
    let on_epoch = |end: &EpochEnd, run: &mut Checkpoint| -> anyhow::Result<()> {
        writer.epoch(end, run, |row, _, run| {
            let file = model_file(&run.model);
            writer.write_model(LAST_MODEL, &file)?;
            if end.best {
                writer.write_model(BEST_MODEL, &file)?;
                best = Some(file.model);
            }
            let v = &end.validation;
            let _ = tx.send(Message::Epoch(EpochRecord {
                epoch: end.epoch,
                train_loss: end.train.loss,
                train_accuracy: end.train.accuracy,
                validation: validates.then_some((v.loss, v.accuracy, v.auc)),
                seconds: row.seconds,
                images_per_second: row.images_per_s,
            }));
            Ok(())
        })?;
        Ok(())
    };
    Ok(
        match training::fit(trainer, &mut run, data, epochs, on_batch, on_epoch, stopped)? {
            Fitted::Finished => best,
            Fitted::Stopped => None,
        },
    )
}

/// What Python's `fit` records of a run in its `config.json` ([`RunConfig`]).
#[derive(serde::Serialize)]
struct FitRun<'a> {
    /// The settings of the run (also in its checkpoint).
    settings: &'a serde_json::Value,
    epochs: usize,
}

/// The record of one epoch as a dict (`history_` of the estimator).
fn record_dict<'py>(py: Python<'py>, r: &EpochRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("epoch", r.epoch)?;
    d.set_item("train_loss", r.train_loss)?;
    d.set_item("train_accuracy", r.train_accuracy)?;
    if let Some((loss, accuracy, auc)) = r.validation {
        d.set_item("val_loss", loss)?;
        d.set_item("val_accuracy", accuracy)?;
        d.set_item("val_auc", auc)?;
    }
    d.set_item("seconds", r.seconds)?;
    d.set_item("images_per_second", r.images_per_second)?;
    Ok(d)
}

/// Trains an MDPN model on `x`, `y` (class indices into `class_names`) as `mdpn train` does,
/// validating on `x_val`, `y_val`, or when they are not given on `validation_fraction` of `x`
/// held out by the program's split for `seed`. Calls `on_batch(epoch, batch, batches, images,
/// loss, accuracy)` after every batch and `on_epoch(record)` after every epoch. Returns the
/// best model, the last one and the records of the epochs. With `out`, the run folder of
/// `mdpn train` is written there epoch by epoch (`config.json`, `metrics.csv`,
/// `model.safetensors`, `last.safetensors`, `checkpoint.safetensors`); a folder that holds a
/// run already is refused. Ctrl-C raises `KeyboardInterrupt` after the current batch.
#[pyfunction]
#[pyo3(signature = (x, y, class_names, *, x_val=None, y_val=None, validation_fraction=0.1,
    epochs=50, batch_size=64, lr=1e-3, seed=0, dendrites=50, hidden=128, window=5, pool=4,
    k=10.0, c=0.6, mean=0.0, std=1.0, kernel="fast", threads=None, on_batch=None,
    on_epoch=None, out=None))]
#[allow(clippy::too_many_arguments)]
pub fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    class_names: Vec<String>,
    x_val: Option<&Bound<'py, PyAny>>,
    y_val: Option<&Bound<'py, PyAny>>,
    validation_fraction: f64,
    epochs: usize,
    batch_size: usize,
    lr: f32,
    seed: u64,
    dendrites: usize,
    hidden: usize,
    window: usize,
    pool: usize,
    k: f32,
    c: f32,
    mean: f32,
    std: f32,
    kernel: &str,
    threads: Option<usize>,
    on_batch: Option<Bound<'py, PyAny>>,
    on_epoch: Option<Bound<'py, PyAny>>,
    out: Option<PathBuf>,
) -> PyResult<(Model, Model, Vec<Bound<'py, PyDict>>)> {
    let data = labelled(x, y, &class_names, "training")?;
    let kernel: KernelChoice = kernel.parse().map_err(py_err)?;
    // The program's splits: the images held out by the seed, or the given validation images
    // (as the test source, the second one a run may take images from); no test images.
    let (splits, val_data) = match (x_val, y_val) {
        (Some(xv), Some(yv)) => {
            let v = labelled(xv, yv, &class_names, "validation")?;
            if (v.channels, v.size) != (data.channels, data.size) {
                return Err(PyValueError::new_err(format!(
                    "validation images are {}x{}x{} but training images {}x{}x{}",
                    v.channels, v.size, v.size, data.channels, data.size, data.size
                )));
            }
            let subset = |source, indices| Subset { source, indices };
            let splits = Splits {
                train: subset(Source::Train, (0..data.len()).collect()),
                validation: subset(Source::Test, (0..v.len()).collect()),
                test: subset(Source::Test, Vec::new()),
            };
            (splits, Some(v))
        }
        (None, None) => {
            let protocol = Protocol::Holdout {
                fraction: validation_fraction,
            };
            let splits = Splits::new(data.len(), 0, protocol, seed).map_err(py_err)?;
            (splits, None)
        }
        _ => {
            return Err(PyValueError::new_err(
                "give both x_val and y_val, or neither",
            ))
        }
    };
    let fit_data = FitData {
        train: &data,
        test: val_data.as_ref().unwrap_or(&data),
        splits: &splits,
    };
    let config = Config {
        channels: data.channels,
        image_size: data.size,
        dendrites,
        window,
        k,
        c,
        pool,
        hidden,
        classes: class_names.len(),
        mean,
        std,
        ..Config::default()
    };
    let settings = serde_json::json!({
        "model": config,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "kernel": kernel,
        "validation": match &val_data {
            Some(v) => serde_json::json!({ "images": v.len() }),
            None => serde_json::json!({ "fraction": validation_fraction }),
        },
        "train_images": splits.train.indices.len(),
        "validation_images": splits.validation.indices.len(),
    });
    let model = Mdpn::new(config, seed).map_err(py_err)?;
    let mut trainer = Trainer::new(model, lr, batch_size, seed).map_err(py_err)?;
    trainer.kernel = kernel;
    if let Some(dir) = &out {
        start_run_folder(dir, &settings, epochs).map_err(file_err)?;
    }
    let model_file = |model: &Mdpn| ModelFile {
        model: model.clone(),
        class_names: class_names.clone(),
        dataset: None,
        program: program(),
    };

    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    // Waited on without the GIL, so shared with the closure that releases it.
    let rx = Mutex::new(rx);
    let mut history = Vec::new();
    let (best, failure) = std::thread::scope(|s| -> PyResult<_> {
        let worker = s.spawn(|| {
            threads::run_on_pool(threads, || {
                train_epochs(
                    &mut trainer,
                    fit_data,
                    epochs,
                    (out.as_deref(), settings.to_string()),
                    model_file,
                    &stop,
                    tx,
                )
            })
        });
        let mut failure = None;
        loop {
            let handled =
                match py.detach(|| rx.lock().expect("one reader").recv_timeout(SIGNAL_CHECK)) {
                    Ok(Message::Batch(r)) => match &on_batch {
                        Some(f) => f
                            .call1((r.epoch, r.batch, r.batches, r.images, r.loss, r.accuracy))
                            .map(drop),
                        None => Ok(()),
                    },
                    Ok(Message::Epoch(record)) => {
                        let d = record_dict(py, &record)?;
                        history.push(d.clone());
                        match &on_epoch {
                            Some(f) => f.call1((d,)).map(drop),
                            None => Ok(()),
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => Ok(()),
                    Err(RecvTimeoutError::Disconnected) => break,
                };
            if let Err(e) = handled.and_then(|()| py.check_signals()) {
                stop.store(true, Ordering::SeqCst);
                failure = Some(e);
                break;
            }
        }
        let result = py
            .detach(|| worker.join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((result, failure))
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let best = best?.map_err(|e| match e.downcast::<mdpn::Error>() {
        Ok(e) => py_err(e),
        Err(e) => file_err(e),
    })?;
    let last = trainer.model.clone();
    let best = best.unwrap_or_else(|| last.clone());
    Ok((model_file(&best).into(), model_file(&last).into(), history))
}

/// Makes the run folder `dir` of a new run and writes its `config.json`; refuses a folder that
/// holds a run already, as `mdpn train` does without `--overwrite`.
fn start_run_folder(dir: &Path, settings: &serde_json::Value, epochs: usize) -> anyhow::Result<()> {
    if let Some(f) = held_run(dir) {
        anyhow::bail!(
            "{} already holds a run ({f}); choose another out folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| RunConfig::new(FitRun { settings, epochs }).write(dir))
        .map_err(|e| e.context(format!("cannot start the run folder {}", dir.display())))
}
