//! Model files: safetensors with the authors' tensor names plus metadata, so that any
//! safetensors reader (and the authors' PyTorch `load_state_dict`) can read them.
//!
//! A file without our metadata is taken as a PyTorch `state_dict` of the authors' model, and its
//! configuration is inferred from the tensor shapes.

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::linear::Linear;
use crate::model::{Mdpn, Params, TENSOR_NAMES};

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

/// Settings a `state_dict` does not carry, for [`load`].
#[derive(Clone, Debug, Default)]
pub struct StateDictOptions {
    /// Image side; by default the smallest one that gives the soma's input width.
    pub image_size: Option<usize>,
    /// Normalisation; by default 0.5 and 0.5, what the authors used for MedMNIST.
    pub mean: Option<f32>,
    pub std: Option<f32>,
    /// Constants the authors' code fixed; the paper's values by default.
    pub k: Option<f32>,
    pub c: Option<f32>,
    pub pool: Option<usize>,
}

/// Serialises a model file.
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

/// Safetensors bytes of named f32 tensors `(name, shape, values)` with metadata, the header's
/// keys sorted so that the same content always gives the same bytes.
pub(crate) fn serialize_f32(
    tensors: &[(String, &[usize], &[f32])],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, t)| t.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::new();
    for ((name, shape, _), data) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), data)
            .map_err(|e| Error::Format(format!("{name}: {e}")))?;
        views.push((name.as_str(), view));
    }
    let bytes = safetensors::serialize(views, &Some(meta))
        .map_err(|e| Error::Format(format!("cannot write safetensors: {e}")))?;
    Ok(sorted_header(&bytes))
}

/// What is wrong with a file that the safetensors reader refused, in words.
pub(crate) fn describe(e: SafeTensorError) -> String {
    use SafeTensorError::*;
    match e {
        HeaderTooSmall => "the file is shorter than the 8-byte header size".into(),
        InvalidHeaderLength => "the header size it declares is larger than the file".into(),
        HeaderTooLarge => "the header size it declares is over safetensors' 100 MB limit".into(),
        InvalidHeader | InvalidHeaderStart => {
            "the header is not UTF-8 text starting with `{`".into()
        }
        InvalidHeaderDeserialization | JsonError(_) => "the header is not valid JSON".into(),
        MetadataIncompleteBuffer => {
            "the file is cut short or padded: its tensors do not fill its data exactly".into()
        }
        InvalidOffset(name) => {
            format!("the data offsets of tensor {name} do not follow the previous tensor's")
        }
        TensorInvalidInfo | ValidationOverflow => {
            "a tensor's shape and type do not match its number of bytes".into()
        }
        other => format!("{other:?}"),
    }
}

/// The shape and values of f32 tensor `name`, or an error naming it.
pub(crate) fn f32_tensor(
    st: &SafeTensors,
    name: &str,
    what: &str,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let view = st
        .tensor(name)
        .map_err(|_| Error::Format(format!("tensor {name} is missing; {what}")))?;
    if view.dtype() != Dtype::F32 {
        return Err(Error::Format(format!(
            "tensor {name} is {:?}, expected F32",
            view.dtype()
        )));
    }
    let values = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((view.shape().to_vec(), values))
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

/// The same safetensors bytes with the header's keys in sorted order: the metadata is a
/// `HashMap`, so without this the same model could be written as different bytes.
pub(crate) fn sorted_header(bytes: &[u8]) -> Vec<u8> {
    type Sorted = std::collections::BTreeMap<String, serde_json::Value>;
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let mut header: Sorted = serde_json::from_slice(&bytes[8..8 + n]).expect("header just written");
    if let Some(meta) = header.get_mut("__metadata__") {
        let sorted: Sorted = serde_json::from_value(meta.take()).expect("metadata is an object");
        *meta = serde_json::to_value(sorted).expect("JSON value serialises");
    }
    let mut text = serde_json::to_vec(&header).expect("JSON value serialises");
    // Tensor data stays aligned to 8 bytes, as safetensors pads it.
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&bytes[8 + n..]);
    out
}

/// A metadata value as JSON.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Reads a model file, or a PyTorch `state_dict` of the authors' model saved as safetensors.
pub fn load(bytes: &[u8], options: &StateDictOptions) -> Result<ModelFile> {
    let bad = |e| Error::Format(format!("not a safetensors file: {}", describe(e)));
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    let mut tensors = Vec::new();
    for name in TENSOR_NAMES {
        let what = format!("an MDPN model holds {}", TENSOR_NAMES.join(", "));
        let (shape, values) = f32_tensor(&st, name, &what)?;
        tensors.push((name, shape, values));
    }
    let (config, class_names, dataset, program) = match meta.get("format") {
        Some(f) if f == FORMAT => {
            let version: u32 = meta
                .get("format_version")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::Format("model file has no valid format_version".into()))?;
            if version > FORMAT_VERSION {
                return Err(Error::Format(format!(
                    "model file format version {version} is newer than this program reads ({FORMAT_VERSION}); upgrade mdpn"
                )));
            }
            let field = |key: &str| {
                meta.get(key)
                    .ok_or_else(|| Error::Format(format!("model file has no `{key}` metadata")))
            };
            let config: Config = serde_json::from_str(field("config")?).map_err(|e| {
                Error::Format(format!("model file `config` metadata is invalid: {e}"))
            })?;
            let names: Vec<String> = serde_json::from_str(field("class_names")?).map_err(|e| {
                Error::Format(format!("model file `class_names` metadata is invalid: {e}"))
            })?;
            let program = meta.get("program").cloned().unwrap_or_default();
            (config, names, meta.get("dataset").cloned(), program)
        }
        Some(other) => {
            return Err(Error::Format(format!(
                "unknown model file format `{other}`, expected `{FORMAT}`"
            )))
        }
        None => {
            let config = infer_config(&tensors, options)?;
            let names = (0..config.classes).map(|i| i.to_string()).collect();
            (config, names, None, "PyTorch state_dict".to_string())
        }
    };
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

/// The configuration of a `state_dict`, from its tensor shapes.
fn infer_config(
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
    options: &StateDictOptions,
) -> Result<Config> {
    let shape = |i: usize| tensors[i].1.as_slice();
    let (channels, dendrites, window) = match *shape(0) {
        [m, k, k2] if k == k2 => (1, m, k),
        [c, 1, 1, m, k, k2] if k == k2 => (c, m, k),
        ref s => {
            return Err(Error::Shape(format!(
                "model.0.params.w has shape {s:?}; expected (M, k, k) for gray or (C, 1, 1, M, k, k) for colour"
            )))
        }
    };
    let (hidden, features) = match *shape(2) {
        [h, f] => (h, f),
        ref s => {
            return Err(Error::Shape(format!(
                "model.2.fc.weight has shape {s:?}, expected 2 dimensions"
            )))
        }
    };
    let classes = match *shape(4) {
        [k, h] if h == hidden => k,
        ref s => {
            return Err(Error::Shape(format!(
                "model.3.fc.weight has shape {s:?}, expected ({{classes}}, {hidden})"
            )))
        }
    };
    let defaults = Config::default();
    let pool = options.pool.unwrap_or(defaults.pool);
    let maps = channels
        .checked_mul(dendrites)
        .filter(|&m| m > 0 && window > 0)
        .ok_or_else(|| {
            Error::Shape(format!(
                "model.0.params.w holds {channels} channel(s) x {dendrites} dendrites of {window}x{window} synapses"
            ))
        })?;
    let side = ((features / maps) as f64).sqrt().round() as usize;
    if side == 0 || side.checked_mul(side).and_then(|s| s.checked_mul(maps)) != Some(features) {
        return Err(Error::Shape(format!(
            "model.2.fc.weight takes {features} inputs, which is not {channels} channel(s) x {dendrites} dendrites x a square pooled map"
        )));
    }
    let image_size = match options.image_size {
        Some(size) => size,
        None => side
            .checked_mul(pool)
            .and_then(|s| s.checked_add(window - 1))
            .ok_or_else(|| Error::Config(format!("pool {pool} is too large")))?,
    };
    let config = Config {
        channels,
        image_size,
        dendrites,
        window,
        k: options.k.unwrap_or(defaults.k),
        c: options.c.unwrap_or(defaults.c),
        pool,
        hidden,
        classes,
        mean: options.mean.unwrap_or(0.5),
        std: options.std.unwrap_or(0.5),
        ..defaults
    };
    if config.pooled_side() != side {
        return Err(Error::Shape(format!(
            "image size {image_size} gives a {0}x{0} pooled map, but model.2.fc.weight expects {side}x{side}",
            config.pooled_side()
        )));
    }
    Ok(config)
}
