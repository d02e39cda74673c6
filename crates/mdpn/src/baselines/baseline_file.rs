//! Baseline model files: the f32 MLP or CNN of a study run's best epoch, and its int8 model
//! ([`super::quantized`]). Safetensors like MDPN's files, with metadata `format` =
//! `mdpn-baseline` or `mdpn-baseline-int8`, `format_version`, `network` (`mlp`, `cnn`),
//! `config` (JSON), `class_names`, `program`, optionally `dataset`, and the int8 file's
//! `quantization` in words.
//!
//! Tensors, layer `i` counting a CNN's convolutions first: f32 files hold `layers.<i>.weight`
//! `(outputs, inputs)` and `layers.<i>.bias`, as checkpoints do; int8 files hold what an int8
//! MDPN file holds of its soma ([`crate::quantized_file`]): `layers.<i>.weight` I8,
//! `.weight_scale`, `.bias`, `.input_scale` F32 and `.input_zero_point` U8. The integer offsets
//! and multipliers follow from these as [`QuantizedBaseline::from_parts`] derives them. Layers
//! with int4 weights (`mdpn quantize --weight-bits 4`) store them as MDPN's files do, as
//! `layers.<i>.weight_int4`, in files of version 2.

use std::collections::HashMap;

use safetensors::SafeTensors;

use super::quantized::QuantizedBaseline;
use super::{Architecture, Baseline};
use crate::error::{Error, Result};
use crate::layers::linear::Linear;
use crate::quantized_file::{layer, layer_tensors};
use crate::tensor_file::{
    f32_shaped, format_of, json, not_safetensors, serialize, serialize_f32, verify_checksum,
    Metadata,
};
use crate::trainable::{linear_layout, ParamSet};

/// `format` of f32 baseline files.
pub const FORMAT: &str = "mdpn-baseline";
/// `format` of int8 baseline files.
pub const INT8_FORMAT: &str = "mdpn-baseline-int8";
/// Version of both layouts; files from a newer version are refused.
pub const FORMAT_VERSION: u32 = 1;
/// The version of int8 files with int4 layers (stored as `weight_int4`, two weights to a byte):
/// readers of version 1 refuse them as newer rather than miss their weights.
pub const INT4_FORMAT_VERSION: u32 = 2;

/// A baseline with its class names and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineFile {
    pub model: Baseline,
    pub class_names: Vec<String>,
    pub dataset: Option<String>,
    pub program: String,
}

/// An int8 baseline with its class names, where it came from and how it was quantized.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedBaselineFile {
    pub model: QuantizedBaseline,
    pub class_names: Vec<String>,
    pub dataset: Option<String>,
    pub program: String,
    pub quantization: String,
}

/// A baseline file of either precision.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyBaseline {
    F32(BaselineFile),
    Int8(QuantizedBaselineFile),
}

/// Whether `bytes` are a baseline file of either precision.
pub fn is_baseline(bytes: &[u8]) -> bool {
    format_of(bytes).is_some_and(|f| f == FORMAT || f == INT8_FORMAT)
}

/// The metadata both precisions share.
fn metadata(
    (format, version): (&str, u32),
    architecture: &Architecture,
    class_names: &[String],
    dataset: &Option<String>,
    program: &str,
) -> HashMap<String, String> {
    let config = match architecture {
        Architecture::Mlp(c) => json(c),
        Architecture::Cnn(c) => json(c),
    };
    let mut meta = HashMap::from([
        ("format".to_string(), format.to_string()),
        ("format_version".to_string(), version.to_string()),
        ("network".to_string(), architecture.kind().to_string()),
        ("config".to_string(), config),
        ("class_names".to_string(), json(&class_names)),
        ("program".to_string(), program.to_string()),
    ]);
    if let Some(d) = dataset {
        meta.insert("dataset".to_string(), d.clone());
    }
    meta
}

/// Serialises an f32 baseline file.
pub fn save(file: &BaselineFile) -> Result<Vec<u8>> {
    let arch = file.model.architecture();
    let meta = metadata(
        (FORMAT, FORMAT_VERSION),
        &arch,
        &file.class_names,
        &file.dataset,
        &file.program,
    );
    // The checkpoints' names and order of the layers' tensors.
    let layers = file.model.layers();
    let layout = linear_layout(layers);
    let tensors: Vec<_> = layout
        .iter()
        .zip(layers.tensors())
        .map(|((name, shape), values)| (name.clone(), shape.as_slice(), values))
        .collect();
    serialize_f32(&tensors, meta)
}

/// Serialises an int8 baseline file; the same model always gives the same bytes.
pub fn save_int8(file: &QuantizedBaselineFile) -> Result<Vec<u8>> {
    let model = &file.model;
    let version = if model.layers.iter().any(|l| l.fits_int4()) {
        INT4_FORMAT_VERSION
    } else {
        FORMAT_VERSION
    };
    let mut meta = metadata(
        (INT8_FORMAT, version),
        &model.architecture,
        &file.class_names,
        &file.dataset,
        &file.program,
    );
    meta.insert("quantization".to_string(), file.quantization.clone());
    let tensors: Vec<_> = model
        .layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| layer_tensors(&format!("layers.{i}"), l))
        .collect();
    serialize(&tensors, meta)
}

/// What both precisions read first: the checked metadata and the architecture, whose size is
/// checked against the file's before anything of that size is allocated.
struct Header<'a> {
    st: SafeTensors<'a>,
    meta: HashMap<String, String>,
    architecture: Architecture,
    class_names: Vec<String>,
}

fn header(bytes: &[u8]) -> Result<Header<'_>> {
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    verify_checksum(bytes, header_len, &meta)?;
    let described = Metadata {
        map: &meta,
        what: "baseline model file",
    };
    let format = described.field("format")?;
    if format != FORMAT && format != INT8_FORMAT {
        return Err(Error::Format(format!(
            "model file format is `{format}`, expected `{FORMAT}` or `{INT8_FORMAT}`"
        )));
    }
    described.check_version(INT4_FORMAT_VERSION)?;
    let architecture =
        Architecture::from_json(described.field("network")?, described.field("config")?)?;
    // At least half a byte per parameter (int4): refuse a configuration the file cannot hold.
    let needs = architecture.parameter_count();
    if needs / 2 > bytes.len() {
        return Err(Error::Shape(format!(
            "the file's {} configuration has {needs} parameters, more than its {} bytes hold",
            architecture.kind(),
            bytes.len()
        )));
    }
    let class_names: Vec<String> = described.json("class_names")?;
    if class_names.len() != architecture.classes() {
        return Err(Error::Format(format!(
            "the baseline model file names {} classes but its configuration has {}",
            class_names.len(),
            architecture.classes()
        )));
    }
    Ok(Header {
        st,
        meta,
        architecture,
        class_names,
    })
}

/// An f32 tensor of shape `shape`, or an error naming it.
fn floats(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    f32_shaped(st, name, shape, "a baseline model holds it")
}

/// Reads a baseline file of either precision.
pub fn load(bytes: &[u8]) -> Result<AnyBaseline> {
    let Header {
        st,
        meta,
        architecture,
        class_names,
    } = header(bytes)?;
    let dataset = meta.get("dataset").cloned();
    let program = meta.get("program").cloned().unwrap_or_default();
    let shapes = architecture.layer_shapes();
    if meta.get("format").map(String::as_str) == Some(INT8_FORMAT) {
        let layers = shapes
            .iter()
            .enumerate()
            .map(|(i, &(inputs, outputs))| layer(&st, &format!("layers.{i}"), inputs, outputs))
            .collect::<Result<Vec<_>>>()?;
        return Ok(AnyBaseline::Int8(QuantizedBaselineFile {
            model: QuantizedBaseline::from_parts(architecture, layers)?,
            class_names,
            dataset,
            program,
            quantization: meta.get("quantization").cloned().unwrap_or_default(),
        }));
    }
    let layers = shapes
        .iter()
        .enumerate()
        .map(|(i, &(inputs, outputs))| {
            Ok(Linear {
                inputs,
                outputs,
                weight: floats(&st, &format!("layers.{i}.weight"), &[outputs, inputs])?,
                bias: floats(&st, &format!("layers.{i}.bias"), &[outputs])?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AnyBaseline::F32(BaselineFile {
        model: architecture.with_layers(layers)?,
        class_names,
        dataset,
        program,
    }))
}
