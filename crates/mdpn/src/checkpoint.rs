//! Training checkpoints: everything a run needs to continue exactly where it stopped, so that
//! an interrupted and resumed run ends bitwise equal to an uninterrupted one.
//!
//! A checkpoint is a safetensors file, readable by other tools: the model's tensors (MDPN's six
//! under the authors' names, a baseline's as `layers.<i>.weight` and `layers.<i>.bias`), Adam's
//! moments as `adam.m.<name>` and `adam.v.<name>`, and metadata: `format`
//! (`mdpn-checkpoint`), `format_version`, `network` (`mdpn`, `mlp`, `cnn`; absent means MDPN),
//! `config` (JSON), `state` (JSON: epochs done, best validation, Adam's settings and step count),
//! `settings`, `metrics`, optionally `extra` (the run's own records, kept as given), and
//! `tensors_crc32`, the CRC-32 of the data section (every tensor's bytes), so that a damaged
//! checkpoint is refused rather than resumed from (files without one still load). The
//! shuffle of each epoch depends only on the seed and the epoch number, so no random-generator
//! state needs saving.

use std::collections::HashMap;

use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Mdpn;
use crate::tensor_file::{describe, f32_tensor, json, serialize_f32, verify_checksum, Metadata};
use crate::trainable::{Network, ParamSet};

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

/// A training run of MDPN or a baseline after some whole epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<N: Network = Mdpn> {
    pub model: N,
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
    /// Further records of the caller (such as the test results of the best epoch), kept as
    /// given; empty for none.
    pub extra: String,
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
    #[serde(default)]
    adam_weight_decay: f32,
    adam_steps: u64,
}

/// Serialises a checkpoint.
pub fn save<N: Network>(checkpoint: &Checkpoint<N>) -> Result<Vec<u8>> {
    let Checkpoint {
        model, adam, best, ..
    } = checkpoint;
    let layout = model.tensor_layout();
    let params = model.params().tensors();
    if adam.m.len() != layout.len() || adam.v.len() != layout.len() {
        return Err(Error::Shape(format!(
            "Adam holds {} first and {} second moments, the model {} tensors",
            adam.m.len(),
            adam.v.len(),
            layout.len()
        )));
    }
    let state = State {
        epochs_done: checkpoint.epochs_done,
        best: *best,
        adam_lr: adam.lr,
        adam_beta1: adam.beta1,
        adam_beta2: adam.beta2,
        adam_eps: adam.eps,
        adam_weight_decay: adam.weight_decay,
        adam_steps: adam.steps,
    };
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
    meta.insert("network".to_string(), model.kind().to_string());
    meta.insert("config".to_string(), model.config_json());
    meta.insert("state".to_string(), json(&state));
    meta.insert("settings".to_string(), checkpoint.settings.clone());
    meta.insert("metrics".to_string(), checkpoint.metrics.clone());
    if !checkpoint.extra.is_empty() {
        meta.insert("extra".to_string(), checkpoint.extra.clone());
    }
    let mut tensors = Vec::new();
    for (i, (name, shape)) in layout.iter().enumerate() {
        tensors.push((name.clone(), shape.as_slice(), params[i]));
        tensors.push((
            format!("adam.m.{name}"),
            shape.as_slice(),
            adam.m[i].as_slice(),
        ));
        tensors.push((
            format!("adam.v.{name}"),
            shape.as_slice(),
            adam.v[i].as_slice(),
        ));
    }
    serialize_f32(&tensors, meta)
}

/// A checkpoint's file, its format and version checked.
struct Parsed<'a> {
    st: SafeTensors<'a>,
    meta: HashMap<String, String>,
}

impl<'a> Parsed<'a> {
    fn new(bytes: &'a [u8]) -> Result<Parsed<'a>> {
        let bad = |e| Error::Format(format!("not a safetensors checkpoint: {}", describe(e)));
        let st = SafeTensors::deserialize(bytes).map_err(bad)?;
        let (header_len, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
        let parsed = Parsed {
            st,
            meta: header.metadata().clone().unwrap_or_default(),
        };
        verify_checksum(bytes, header_len, &parsed.meta)?;
        match parsed.field("format")? {
            f if f == FORMAT => {}
            other => {
                return Err(Error::Format(format!(
                    "not a checkpoint: its format is `{other}`, expected `{FORMAT}`"
                )))
            }
        }
        parsed.described().check_version(FORMAT_VERSION)?;
        Ok(parsed)
    }

    fn described(&self) -> Metadata<'_> {
        Metadata {
            map: &self.meta,
            what: "checkpoint",
        }
    }

    fn field(&self, key: &str) -> Result<&str> {
        self.described().field(key)
    }

    /// The network the checkpoint was saved from (`mdpn` for files without the key).
    fn network(&self) -> &str {
        self.meta.get("network").map_or("mdpn", String::as_str)
    }

    /// The rest of the checkpoint, its tensors read into `model`, whose layout they must have.
    fn into_checkpoint<N: Network>(self, mut model: N) -> Result<Checkpoint<N>> {
        let state: State = self.described().json("state")?;
        let what = "a checkpoint holds the model's tensors and Adam's moments of each";
        let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let (have, values) = f32_tensor(&self.st, name, what)?;
            if have != shape {
                return Err(Error::Shape(format!(
                    "checkpoint tensor {name} has shape {have:?}, its configuration needs {shape:?}"
                )));
            }
            Ok(values)
        };
        let (mut m, mut v) = (Vec::new(), Vec::new());
        let layout = model.tensor_layout();
        for ((name, shape), dest) in layout.iter().zip(model.params_mut().tensors_mut()) {
            dest.copy_from_slice(&tensor(name, shape)?);
            m.push(tensor(&format!("adam.m.{name}"), shape)?);
            v.push(tensor(&format!("adam.v.{name}"), shape)?);
        }
        let adam = Adam {
            lr: state.adam_lr,
            beta1: state.adam_beta1,
            beta2: state.adam_beta2,
            eps: state.adam_eps,
            weight_decay: state.adam_weight_decay,
            steps: state.adam_steps,
            m,
            v,
        };
        Ok(Checkpoint {
            model,
            adam,
            epochs_done: state.epochs_done,
            best: state.best,
            settings: self.field("settings")?.to_string(),
            metrics: self.field("metrics")?.to_string(),
            extra: self.meta.get("extra").cloned().unwrap_or_default(),
        })
    }
}

/// Reads an MDPN checkpoint, checking every tensor against the configuration it records.
pub fn load(bytes: &[u8]) -> Result<Checkpoint> {
    let parsed = Parsed::new(bytes)?;
    if parsed.network() != "mdpn" {
        return Err(Error::Format(format!(
            "the checkpoint is of a `{}` network, not MDPN",
            parsed.network()
        )));
    }
    let config: Config = parsed.described().json("config")?;
    config.validate()?;
    // Three f32 values (parameter and two moments) per parameter: refuse a configuration that
    // the file cannot hold before allocating it.
    let needs = config.parameter_count().saturating_mul(12);
    if needs > bytes.len() {
        return Err(Error::Shape(format!(
            "the checkpoint's configuration needs {needs} bytes of tensors, the file has {}",
            bytes.len()
        )));
    }
    let model = Mdpn::from_params(config.clone(), crate::model::Params::zeros(&config))?;
    parsed.into_checkpoint(model)
}

/// Reads a checkpoint into `model`, a network of the architecture the caller expects (MDPN or a
/// baseline); a checkpoint of another network or configuration is refused.
pub fn load_into<N: Network>(bytes: &[u8], model: N) -> Result<Checkpoint<N>> {
    let parsed = Parsed::new(bytes)?;
    if parsed.network() != model.kind() {
        return Err(Error::Format(format!(
            "the checkpoint is of a `{}` network, expected `{}`",
            parsed.network(),
            model.kind()
        )));
    }
    let value = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    let stored = parsed.field("config")?;
    if value(stored).is_none() || value(stored) != value(&model.config_json()) {
        return Err(Error::Format(format!(
            "the checkpoint's configuration {stored} is not this network's {}",
            model.config_json()
        )));
    }
    parsed.into_checkpoint(model)
}
