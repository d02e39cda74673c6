//! Int8 model files ([`crate::quantized`]): safetensors, like the f32 model files
//! ([`crate::model_file`]), with metadata `format` = `mdpn-int8`.
//!
//! Tensors (`L` = `model.2.fc` for the soma, `model.3.fc` for the axon):
//! - `model.0.params.w`, `model.0.params.q`: F32, the synapses, shaped as in the f32 file;
//! - `L.weight`: I8 `(outputs, inputs)`; `L.weight_scale`: F32 `(outputs)`; `L.bias`: F32;
//! - `L.input_scale`: F32 `(1)`; `L.input_zero_point`: U8 `(1)`: how the layer's input is
//!   quantized.
//!
//! Format 2 adds the integer path ([`crate::integer`], computed by [`mdpn_micro`]), so that
//! every reader computes with the same integers, whatever its floating point:
//! - `model.0.params.slope`, `model.0.params.offset`: I32, shaped as `w`: `z = slope·v + offset`;
//! - `model.1.table`: I16, the shared table of `g(Y + c)` over `z`;
//! - `model.1.membrane_multiplier`: I32 `(1)`; `L.offset`, `L.multiplier`: I32 `(outputs)`;
//! - metadata `integer`: `z_frac`, `table_frac`, `z_limit`, `ln_frac` and the three shifts.
//!
//! Format 3 is format 2 with int4 weights (`mdpn quantize --weight-bits 4`): a layer whose
//! weights all lie in −7..=7 stores them as `L.weight_int4`, two to a byte ([`layer_tensors`]).
//!
//! Format 1 files (f32 synapses, float biases) are read and get the integer path derived as
//! `mdpn quantize` derives it; [`QuantizedFile::format_version`] says so.

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::integer::{FixedScale, IntegerSynapses};
use crate::model::{Params, TENSOR_NAMES};
use crate::quantized::{ActivationQuant, IntegerParts, QuantizedLinear, QuantizedMdpn, WeightBits};
use crate::tensor_file::{
    describe, f32_shaped, format_of, json, serialize, verify_checksum, Metadata,
};

/// Value of the `format` metadata key in int8 model files.
pub const FORMAT: &str = "mdpn-int8";
/// Version of the int8 file layout; files from a newer version are refused.
pub const FORMAT_VERSION: u32 = 2;
/// The version of files whose soma has int4 weights ([`layer_tensors`]): readers of version 2
/// refuse them as newer rather than miss the soma's weights.
pub const INT4_FORMAT_VERSION: u32 = 3;

/// An int8 model with its class names and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedFile {
    pub model: QuantizedMdpn,
    pub class_names: Vec<String>,
    pub dataset: Option<String>,
    pub program: String,
    /// How it was quantized, in words (metadata `quantization`).
    pub quantization: String,
    /// The format the file was read from: below [`FORMAT_VERSION`], its integer path was
    /// derived when it was read, and `mdpn quantize` rewrites it in the current format.
    pub format_version: u32,
}

/// The integer path's settings (metadata `integer`).
#[derive(Debug, Serialize, Deserialize)]
struct IntegerSettings {
    z_frac: u32,
    table_frac: u32,
    z_limit: i32,
    ln_frac: u32,
    membrane_shift: u32,
    soma_shift: u32,
    axon_shift: u32,
}

/// Little-endian bytes of f32 values.
fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of 32-bit integers.
fn le_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Whether `bytes` are an int8 model file (safetensors whose `format` is [`FORMAT`]).
pub fn is_int8(bytes: &[u8]) -> bool {
    format_of(bytes).is_some_and(|f| f == FORMAT)
}

/// The layer prefixes of the soma and axon.
const LAYERS: [&str; 2] = ["model.2.fc", "model.3.fc"];
/// The integer synapses, the table and the membrane's multiplier (format 2).
const SLOPE: &str = "model.0.params.slope";
const OFFSET: &str = "model.0.params.offset";
const TABLE: &str = "model.1.table";
const MEMBRANE: &str = "model.1.membrane_multiplier";

/// Serialises an int8 model file; the same model always gives the same bytes.
pub fn save(file: &QuantizedFile) -> Result<Vec<u8>> {
    let model = &file.model;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    let version = if model.soma.fits_int4() || model.axon.fits_int4() {
        INT4_FORMAT_VERSION
    } else {
        FORMAT_VERSION
    };
    meta.insert("format_version".to_string(), version.to_string());
    meta.insert("config".to_string(), json(&model.config));
    meta.insert("class_names".to_string(), json(&file.class_names));
    meta.insert("program".to_string(), file.program.clone());
    meta.insert("quantization".to_string(), file.quantization.clone());
    if let Some(d) = &file.dataset {
        meta.insert("dataset".to_string(), d.clone());
    }
    let int = &model.integer;
    let syn = &int.synapses;
    let settings = IntegerSettings {
        z_frac: syn.z_frac,
        table_frac: syn.table_frac,
        z_limit: syn.z_limit,
        ln_frac: syn.ln_frac,
        membrane_shift: int.membrane.shift,
        soma_shift: int.soma.shift,
        axon_shift: int.axon.shift,
    };
    meta.insert("integer".to_string(), json(&settings));
    let shapes = Params::shapes(&model.config);
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        (
            TENSOR_NAMES[0].into(),
            Dtype::F32,
            shapes[0].clone(),
            le_f32(&model.w),
        ),
        (
            TENSOR_NAMES[1].into(),
            Dtype::F32,
            shapes[1].clone(),
            le_f32(&model.q),
        ),
        (
            SLOPE.into(),
            Dtype::I32,
            shapes[0].clone(),
            le_i32(&syn.slope),
        ),
        (
            OFFSET.into(),
            Dtype::I32,
            shapes[0].clone(),
            le_i32(&syn.offset),
        ),
        (
            TABLE.into(),
            Dtype::I16,
            vec![syn.table.len()],
            syn.table.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        (
            MEMBRANE.into(),
            Dtype::I32,
            vec![1],
            le_i32(&int.membrane.multiplier),
        ),
    ];
    let integer = [(&int.soma_offset, &int.soma), (&int.axon_offset, &int.axon)];
    for ((prefix, layer), (offset, scale)) in
        LAYERS.iter().zip([&model.soma, &model.axon]).zip(integer)
    {
        tensors.extend(layer_tensors(prefix, layer));
        let o = layer.outputs;
        tensors.extend([
            (
                format!("{prefix}.offset"),
                Dtype::I32,
                vec![o],
                le_i32(offset),
            ),
            (
                format!("{prefix}.multiplier"),
                Dtype::I32,
                vec![o],
                le_i32(&scale.multiplier),
            ),
        ]);
    }
    serialize(&tensors, meta)
}

/// The tensors of one int8 layer under `prefix`: its weights, their scales, the bias and how its
/// input is quantized (what every int8 file, MDPN's or a baseline's, holds of a layer). Weights
/// that all fit int4 (−7..=7) are stored two to a byte as `weight_int4`, U8
/// `(outputs, ⌈inputs/2⌉)`, the even input in the low nibble, two's complement.
pub(crate) fn layer_tensors(
    prefix: &str,
    layer: &QuantizedLinear,
) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let (o, i) = (layer.outputs, layer.inputs);
    let weight = if layer.fits_int4() {
        let packed = layer
            .weight
            .chunks(i.max(1))
            .flat_map(|row| {
                row.chunks(2).map(|pair| {
                    let high = pair.get(1).map_or(0, |&w| (w as u8) << 4);
                    (pair[0] as u8 & 0x0f) | high
                })
            })
            .collect();
        (
            format!("{prefix}.weight_int4"),
            Dtype::U8,
            vec![o, i.div_ceil(2)],
            packed,
        )
    } else {
        let bytes = layer.weight.iter().map(|&v| v as u8).collect();
        (format!("{prefix}.weight"), Dtype::I8, vec![o, i], bytes)
    };
    vec![
        weight,
        (
            format!("{prefix}.weight_scale"),
            Dtype::F32,
            vec![o],
            le_f32(&layer.weight_scale),
        ),
        (
            format!("{prefix}.bias"),
            Dtype::F32,
            vec![o],
            le_f32(&layer.bias),
        ),
        (
            format!("{prefix}.input_scale"),
            Dtype::F32,
            vec![1],
            le_f32(&[layer.input.scale]),
        ),
        (
            format!("{prefix}.input_zero_point"),
            Dtype::U8,
            vec![1],
            vec![layer.input.zero_point],
        ),
    ]
}

/// The int8 weights `(outputs, inputs)` of the layer under `prefix`, stored as int8 or as int4
/// two to a byte.
fn weights(st: &SafeTensors, prefix: &str, inputs: usize, outputs: usize) -> Result<Vec<i8>> {
    let packed = format!("{prefix}.weight_int4");
    if st.tensor(&packed).is_err() {
        let weight = raw(
            st,
            &format!("{prefix}.weight"),
            Dtype::I8,
            &[outputs, inputs],
        )?;
        return Ok(weight.iter().map(|&b| b as i8).collect());
    }
    let bytes = raw(st, &packed, Dtype::U8, &[outputs, inputs.div_ceil(2)])?;
    // Sign-extend each nibble.
    let nibble = |b: u8| ((b << 4) as i8) >> 4;
    let mut weight = Vec::with_capacity(outputs * inputs);
    for row in bytes.chunks(inputs.div_ceil(2).max(1)) {
        let values = row.iter().flat_map(|&b| [nibble(b), nibble(b >> 4)]);
        weight.extend(values.take(inputs));
    }
    let top = WeightBits::Four.largest();
    if weight.iter().any(|w| !(-top..=top).contains(w)) {
        return Err(Error::Format(format!(
            "{packed} holds -8, outside int4's symmetric range -7..=7"
        )));
    }
    Ok(weight)
}

/// The bytes of tensor `name` if it has type `dtype` and shape `shape`, or an error naming it.
fn raw<'a>(st: &'a SafeTensors, name: &str, dtype: Dtype, shape: &[usize]) -> Result<&'a [u8]> {
    let view = st
        .tensor(name)
        .map_err(|_| Error::Format(format!("tensor {name} is missing; an int8 model holds it")))?;
    if view.dtype() != dtype || view.shape() != shape {
        return Err(Error::Format(format!(
            "tensor {name} is {:?} {:?}, expected {dtype:?} {shape:?}",
            view.dtype(),
            view.shape()
        )));
    }
    Ok(view.data())
}

/// An I32 tensor of shape `shape`, or an error naming it.
fn ints(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<i32>> {
    Ok(raw(st, name, Dtype::I32, shape)?
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The integer path of a format 2 file whose f32 tensors are read.
fn integer(
    st: &SafeTensors,
    described: &Metadata,
    config: &Config,
    layers: [&QuantizedLinear; 2],
) -> Result<IntegerParts> {
    let set: IntegerSettings = described.json("integer")?;
    let synapse_shape = &Params::shapes(config)[0];
    let table_len = st.tensor(TABLE).map_or(0, |t| t.shape().iter().product());
    let table = raw(st, TABLE, Dtype::I16, &[table_len])?
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let scale = |name: &str, len: usize, shift: u32| -> Result<FixedScale> {
        Ok(FixedScale {
            multiplier: ints(st, name, &[len])?,
            shift,
        })
    };
    let [soma, axon] = layers;
    Ok(IntegerParts {
        synapses: IntegerSynapses {
            slope: ints(st, SLOPE, synapse_shape)?,
            offset: ints(st, OFFSET, synapse_shape)?,
            z_frac: set.z_frac,
            table,
            table_frac: set.table_frac,
            z_limit: set.z_limit,
            ln_frac: set.ln_frac,
        },
        soma_offset: ints(st, &format!("{}.offset", LAYERS[0]), &[soma.outputs])?,
        axon_offset: ints(st, &format!("{}.offset", LAYERS[1]), &[axon.outputs])?,
        membrane: scale(MEMBRANE, 1, set.membrane_shift)?,
        soma: scale(
            &format!("{}.multiplier", LAYERS[0]),
            soma.outputs,
            set.soma_shift,
        )?,
        axon: scale(
            &format!("{}.multiplier", LAYERS[1]),
            axon.outputs,
            set.axon_shift,
        )?,
    })
}

/// An F32 tensor of shape `shape`, or an error naming it.
fn floats(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    f32_shaped(st, name, shape, "an int8 model holds it")
}

/// Reads one quantized layer of `inputs → outputs`.
pub(crate) fn layer(
    st: &SafeTensors,
    prefix: &str,
    inputs: usize,
    outputs: usize,
) -> Result<QuantizedLinear> {
    let weight = weights(st, prefix, inputs, outputs)?;
    let weight_scale = floats(st, &format!("{prefix}.weight_scale"), &[outputs])?;
    let bias = floats(st, &format!("{prefix}.bias"), &[outputs])?;
    let scale = floats(st, &format!("{prefix}.input_scale"), &[1])?[0];
    let zero_point = raw(st, &format!("{prefix}.input_zero_point"), Dtype::U8, &[1])?[0];
    let positive = |v: f32| v.is_finite() && v > 0.0;
    if !positive(scale) || !weight_scale.iter().all(|&s| positive(s)) {
        return Err(Error::Format(format!(
            "{prefix} has a scale that is not a positive finite number"
        )));
    }
    Ok(QuantizedLinear::from_parts(
        weight,
        weight_scale,
        bias,
        ActivationQuant { scale, zero_point },
    ))
}

/// Reads an int8 model file.
pub fn load(bytes: &[u8]) -> Result<QuantizedFile> {
    let bad = |e| Error::Format(format!("not a safetensors file: {}", describe(e)));
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    verify_checksum(bytes, header_len, &meta)?;
    let described = Metadata {
        map: &meta,
        what: "int8 model file",
    };
    let format = described.field("format")?;
    if format != FORMAT {
        return Err(Error::Format(format!(
            "model file format is `{format}`, expected `{FORMAT}`"
        )));
    }
    let format_version = described.check_version(INT4_FORMAT_VERSION)?;
    let config: Config = described.json("config")?;
    config.validate()?;
    let class_names: Vec<String> = described.json("class_names")?;
    if class_names.len() != config.classes {
        return Err(Error::Format(format!(
            "int8 model file names {} classes but its configuration has {}",
            class_names.len(),
            config.classes
        )));
    }
    let shapes = Params::shapes(&config);
    let w = floats(&st, TENSOR_NAMES[0], &shapes[0])?;
    let q = floats(&st, TENSOR_NAMES[1], &shapes[1])?;
    let soma = layer(&st, LAYERS[0], config.features(), config.hidden)?;
    let axon = layer(&st, LAYERS[1], config.hidden, config.classes)?;
    let model = if format_version >= 2 {
        let integer = integer(&st, &described, &config, [&soma, &axon])?;
        QuantizedMdpn::with_integer(config, w, q, soma, axon, integer)?
    } else {
        QuantizedMdpn::from_parts(config, w, q, soma, axon)?
    };
    Ok(QuantizedFile {
        model,
        format_version,
        class_names,
        dataset: meta.get("dataset").cloned(),
        program: meta.get("program").cloned().unwrap_or_default(),
        quantization: meta.get("quantization").cloned().unwrap_or_default(),
    })
}
