//! Training checkpoints: everything a run needs to continue exactly where it stopped, so that
//! an interrupted and resumed run ends bitwise equal to an uninterrupted one.
//!
//! A checkpoint is a safetensors file, readable by other tools: the model's six tensors under
//! the authors' names, Adam's moments as `adam.m.<name>` and `adam.v.<name>`, and metadata:
//! `format` (`mdpn-checkpoint`), `format_version`, `config` (JSON), `state` (JSON: epochs done,
//! best validation, Adam's settings and step count), `settings` and `metrics` (the run's own
//! records, kept as given). The shuffle of each epoch depends only on the seed and the epoch
//! number, so no random-generator state needs saving.

use std::collections::HashMap;

use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Mdpn, Params, TENSOR_NAMES};
use crate::modelfile::{describe, f32_tensor, json, params_from_tensors, serialize_f32};
use crate::optim::Adam;

/// Value of the `format` metadata key of checkpoints.
pub const FORMAT: &str = "mdpn-checkpoint";
/// Version of the checkpoint layout; checkpoints from a newer version are refused.
pub const FORMAT_VERSION: u32 = 1;

/// The best validation result of a run so far.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Epoch that reached it, counting from 1.
    pub epoch: usize,
    pub val_accuracy: f64,
}

/// A training run after some whole epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: Mdpn,
    pub adam: Adam,
    /// Epochs finished; training continues with epoch index `epochs_done` (counting from 0).
    pub epochs_done: usize,
    /// Best validation accuracy so far, once an epoch has finished.
    pub best: Option<Best>,
    /// The settings of the run (JSON text), so that a resumed run can check it was given the
    /// same ones.
    pub settings: String,
    /// The metrics of the finished epochs (the run folder's `metrics.csv`).
    pub metrics: String,
}

/// The scalar part of a checkpoint, stored as JSON (floats round-trip exactly).
#[derive(Serialize, Deserialize)]
struct State {
    epochs_done: usize,
    best: Option<Best>,
    adam_lr: f32,
    adam_beta1: f32,
    adam_beta2: f32,
    adam_eps: f32,
    adam_steps: u64,
}

/// Serialises a checkpoint.
pub fn save(checkpoint: &Checkpoint) -> Result<Vec<u8>> {
    let Checkpoint {
        model, adam, best, ..
    } = checkpoint;
    if adam.m.len() != TENSOR_NAMES.len() || adam.v.len() != TENSOR_NAMES.len() {
        return Err(Error::Shape(format!(
            "Adam holds {} first and {} second moments, the model {} tensors",
            adam.m.len(),
            adam.v.len(),
            TENSOR_NAMES.len()
        )));
    }
    let state = State {
        epochs_done: checkpoint.epochs_done,
        best: *best,
        adam_lr: adam.lr,
        adam_beta1: adam.beta1,
        adam_beta2: adam.beta2,
        adam_eps: adam.eps,
        adam_steps: adam.steps,
    };
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
    meta.insert("config".to_string(), json(&model.config));
    meta.insert("state".to_string(), json(&state));
    meta.insert("settings".to_string(), checkpoint.settings.clone());
    meta.insert("metrics".to_string(), checkpoint.metrics.clone());
    let shapes = Params::shapes(&model.config);
    let mut tensors = Vec::new();
    for (i, name) in TENSOR_NAMES.iter().enumerate() {
        let shape = shapes[i].as_slice();
        tensors.push((name.to_string(), shape, model.params.tensors()[i]));
        tensors.push((format!("adam.m.{name}"), shape, adam.m[i].as_slice()));
        tensors.push((format!("adam.v.{name}"), shape, adam.v[i].as_slice()));
    }
    serialize_f32(&tensors, meta)
}

/// Reads a checkpoint, checking every tensor against the configuration it records.
pub fn load(bytes: &[u8]) -> Result<Checkpoint> {
    let bad = |e| Error::Format(format!("not a safetensors checkpoint: {}", describe(e)));
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let field = |key: &str| {
        meta.get(key)
            .ok_or_else(|| Error::Format(format!("checkpoint has no `{key}` metadata")))
    };
    match field("format")? {
        f if f == FORMAT => {}
        other => {
            return Err(Error::Format(format!(
                "not a checkpoint: its format is `{other}`, expected `{FORMAT}`"
            )))
        }
    }
    let version: u32 = field("format_version")?
        .parse()
        .map_err(|_| Error::Format("checkpoint has no valid format_version".into()))?;
    if version > FORMAT_VERSION {
        return Err(Error::Format(format!(
            "checkpoint format version {version} is newer than this program reads ({FORMAT_VERSION}); upgrade mdpn"
        )));
    }
    let config: Config = serde_json::from_str(field("config")?)
        .map_err(|e| Error::Format(format!("checkpoint `config` metadata is invalid: {e}")))?;
    config.validate()?;
    let state: State = serde_json::from_str(field("state")?)
        .map_err(|e| Error::Format(format!("checkpoint `state` metadata is invalid: {e}")))?;
    let shapes = Params::shapes(&config);
    let what = "a checkpoint holds the model's tensors and Adam's moments of each";
    let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let (have, values) = f32_tensor(&st, name, what)?;
        if have != shape {
            return Err(Error::Shape(format!(
                "checkpoint tensor {name} has shape {have:?}, its configuration needs {shape:?}"
            )));
        }
        Ok(values)
    };
    let (mut params, mut m, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for (name, shape) in TENSOR_NAMES.iter().zip(&shapes) {
        params.push(tensor(name, shape)?);
        m.push(tensor(&format!("adam.m.{name}"), shape)?);
        v.push(tensor(&format!("adam.v.{name}"), shape)?);
    }
    let params = params_from_tensors(&config, params);
    let model = Mdpn::from_params(config, params)?;
    let adam = Adam {
        lr: state.adam_lr,
        beta1: state.adam_beta1,
        beta2: state.adam_beta2,
        eps: state.adam_eps,
        steps: state.adam_steps,
        m,
        v,
    };
    Ok(Checkpoint {
        model,
        adam,
        epochs_done: state.epochs_done,
        best: state.best,
        settings: field("settings")?.clone(),
        metrics: field("metrics")?.clone(),
    })
}
