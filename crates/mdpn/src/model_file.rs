//! Model files: safetensors with the authors' tensor names plus metadata, so that any
//! safetensors reader (and the authors' PyTorch `load_state_dict`) can read them.
//!
//! The metadata also records `tensors_crc32`, a checksum of the tensors: a damaged file is
//! refused on load. Files without one (older model files, state dicts) load unchecked.
//!
//! A file without our metadata is taken as a PyTorch `state_dict` of the authors' model
//! ([`crate::state_dict`]).

use std::collections::HashMap;

use safetensors::SafeTensors;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::layers::linear::Linear;
use crate::model::{Mdpn, Params, TENSOR_NAMES};
use crate::state_dict::{infer_config, StateDictOptions};
use crate::tensor_file::{
    data_crc32, f32_tensor, json, not_safetensors, serialize_f32, verify_checksum, Metadata,
};

/// Value of the `format` metadata key in our model files.
pub const FORMAT: &str = "mdpn";
/// Version of the model file layout; files from a newer version are refused.
pub const FORMAT_VERSION: u32 = 1;

/// A model with what is needed to use it: class names and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    pub model: Mdpn,
    pub class_names: Vec<String>,
    /// Name or path of the data set it was trained on, if known.
    pub dataset: Option<String>,
    /// Program and version that wrote it.
    pub program: String,
}

/// Serialises a model file.
///
/// ```
/// use mdpn::model_file::{self, ModelFile};
/// use mdpn::state_dict::StateDictOptions;
/// use mdpn::{Config, Mdpn};
///
/// let file = ModelFile {
///     model: Mdpn::new(Config { dendrites: 4, hidden: 8, ..Config::default() }, 0)?,
///     class_names: (0..10).map(|c| c.to_string()).collect(),
///     dataset: Some("fashion-mnist".into()),
///     program: "my program 1.0".into(),
/// };
/// let bytes = model_file::save(&file)?;
/// assert_eq!(model_file::load(&bytes, &StateDictOptions::default())?, file);
/// // Any safetensors reader sees the authors' tensor names.
/// let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
/// assert_eq!(st.tensor("model.0.params.w").unwrap().shape(), [4, 5, 5]);
/// # Ok::<(), mdpn::Error>(())
/// ```
pub fn save(file: &ModelFile) -> Result<Vec<u8>> {
    let model = &file.model;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
    meta.insert("config".to_string(), json(&model.config));
    meta.insert("class_names".to_string(), json(&file.class_names));
    meta.insert("program".to_string(), file.program.clone());
    if let Some(d) = &file.dataset {
        meta.insert("dataset".to_string(), d.clone());
    }
    let shapes = Params::shapes(&model.config);
    let tensors = TENSOR_NAMES
        .iter()
        .zip(&shapes)
        .zip(model.params.tensors())
        .map(|((name, shape), values)| (name.to_string(), shape.as_slice(), values))
        .collect::<Vec<_>>();
    serialize_f32(&tensors, meta)
}

/// The parameters of a model of `config` from its six tensors in [`TENSOR_NAMES`] order, whose
/// sizes the caller has checked.
pub(crate) fn params_from_tensors(config: &Config, tensors: Vec<Vec<f32>>) -> Params {
    let mut values = tensors.into_iter();
    let mut next = || values.next().unwrap_or_default();
    let (w, q) = (next(), next());
    let soma = Linear {
        inputs: config.features(),
        outputs: config.hidden,
        weight: next(),
        bias: next(),
    };
    let axon = Linear {
        inputs: config.hidden,
        outputs: config.classes,
        weight: next(),
        bias: next(),
    };
    Params { w, q, soma, axon }
}

/// The CRC-32 of the tensors of a model file or state dict `bytes` (its data section), in hex:
/// what our model files record as `tensors_crc32`, and what a run started from the file
/// records of it.
pub fn tensors_crc32(bytes: &[u8]) -> Result<String> {
    let (header_len, _) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    Ok(format!("{:08x}", data_crc32(bytes, header_len)))
}

/// Reads a model file, or a PyTorch `state_dict` of the authors' model saved as safetensors.
/// A file whose tensors do not have the checksum it was written with is refused.
///
/// ```
/// use mdpn::model_file::{self, ModelFile};
/// use mdpn::state_dict::StateDictOptions;
/// use mdpn::{Config, Mdpn};
///
/// let model = Mdpn::new(Config { dendrites: 4, hidden: 8, ..Config::default() }, 0)?;
/// let class_names = (0..10).map(|c| c.to_string()).collect();
/// let file = ModelFile { model, class_names, dataset: None, program: "doc".into() };
/// let mut bytes = model_file::save(&file)?;
/// let loaded = model_file::load(&bytes, &StateDictOptions::default())?;
/// assert_eq!(loaded.model, file.model);
/// // One bit flipped in the last tensor value.
/// *bytes.last_mut().unwrap() ^= 1;
/// let err = model_file::load(&bytes, &StateDictOptions::default()).unwrap_err();
/// assert!(err.to_string().starts_with("the file is damaged"));
/// # Ok::<(), mdpn::Error>(())
/// ```
pub fn load(bytes: &[u8], options: &StateDictOptions) -> Result<ModelFile> {
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    verify_checksum(bytes, header_len, &meta)?;
    let mut tensors = Vec::new();
    for name in TENSOR_NAMES {
        let what = format!("an MDPN model holds {}", TENSOR_NAMES.join(", "));
        let (shape, values) = f32_tensor(&st, name, &what)?;
        tensors.push((name, shape, values));
    }
    let (config, class_names, dataset, program) = match meta.get("format") {
        Some(f) if f == FORMAT => {
            let described = Metadata {
                map: &meta,
                what: "model file",
            };
            described.check_version(FORMAT_VERSION)?;
            let config: Config = described.json("config")?;
            let names: Vec<String> = described.json("class_names")?;
            let program = meta.get("program").cloned().unwrap_or_default();
            (config, names, meta.get("dataset").cloned(), program)
        }
        Some(other) => {
            return Err(Error::Format(format!(
                "unknown model file format `{other}`, expected `{FORMAT}`"
            )))
        }
        None => return from_state_dict(tensors, options),
    };
    assemble(config, class_names, tensors, dataset, program)
}

/// A model from the tensors of the authors' PyTorch `state_dict` (name, shape, values), in
/// [`TENSOR_NAMES`] order; its configuration is inferred from their shapes and `options`, its
/// classes are named by number.
pub fn from_state_dict(
    tensors: Vec<(&str, Vec<usize>, Vec<f32>)>,
    options: &StateDictOptions,
) -> Result<ModelFile> {
    let names: Vec<&str> = tensors.iter().map(|(name, _, _)| *name).collect();
    if names != TENSOR_NAMES {
        return Err(Error::Format(format!(
            "a state dict of the authors' model holds {}, found {}",
            TENSOR_NAMES.join(", "),
            names.join(", ")
        )));
    }
    let config = infer_config(&tensors, options)?;
    let names = (0..config.classes).map(|i| i.to_string()).collect();
    assemble(
        config,
        names,
        tensors,
        None,
        "PyTorch state_dict".to_string(),
    )
}

/// A model file from its settings and tensors in [`TENSOR_NAMES`] order, checked against each
/// other.
fn assemble(
    config: Config,
    class_names: Vec<String>,
    tensors: Vec<(&str, Vec<usize>, Vec<f32>)>,
    dataset: Option<String>,
    program: String,
) -> Result<ModelFile> {
    config.validate()?;
    if class_names.len() != config.classes {
        return Err(Error::Format(format!(
            "model file names {} classes but its configuration has {}",
            class_names.len(),
            config.classes
        )));
    }
    let expected = Params::shapes(&config);
    for ((name, shape, _), want) in tensors.iter().zip(&expected) {
        if shape != want {
            return Err(Error::Shape(format!(
                "tensor {name} has shape {shape:?}, the configuration needs {want:?}"
            )));
        }
    }
    let params = params_from_tensors(&config, tensors.into_iter().map(|(_, _, v)| v).collect());
    let model = Mdpn::from_params(config, params)?;
    Ok(ModelFile {
        model,
        class_names,
        dataset,
        program,
    })
}
