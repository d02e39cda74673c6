//! Safetensors plumbing shared by model files and checkpoints: deterministic bytes, a checksum
//! of the tensors, f32 tensors read with errors that name them, and the reader's errors in
//! words.
//!
//! The checksum is CRC-32 (IEEE, the one of zlib and PNG) over the file's data section, every
//! byte after the JSON header, stored as 8 hex digits under [`CHECKSUM_KEY`]. It guards against
//! accidental damage (a flipped bit, a torn write): it detects every error of up to 32
//! consecutive bits and any other with probability 1 − 2⁻³². A cryptographic hash would add
//! nothing: whoever can change the tensors can rewrite a checksum stored beside them.

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::error::{Error, Result};

/// Metadata key of the tensors' checksum.
pub(crate) const CHECKSUM_KEY: &str = "tensors_crc32";

/// Safetensors bytes of named f32 tensors `(name, shape, values)` with metadata and the
/// tensors' checksum, the header's keys sorted so that the same content always gives the same
/// bytes.
pub(crate) fn serialize_f32(
    tensors: &[(String, &[usize], &[f32])],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, t)| t.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let tensors: Vec<_> = tensors
        .iter()
        .zip(bytes)
        .map(|((name, shape, _), data)| (name.clone(), Dtype::F32, shape.to_vec(), data))
        .collect();
    serialize(&tensors, meta)
}

/// Safetensors bytes of named tensors `(name, type, shape, little-endian bytes)` with metadata
/// and the tensors' checksum, the header's keys sorted.
pub(crate) fn serialize(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut views = Vec::new();
    for (name, dtype, shape, data) in tensors {
        let view = TensorView::new(*dtype, shape.clone(), data)
            .map_err(|e| Error::Format(format!("{name}: {e}")))?;
        views.push((name.as_str(), view));
    }
    let bytes = safetensors::serialize(views, &Some(meta))
        .map_err(|e| Error::Format(format!("cannot write safetensors: {e}")))?;
    Ok(sorted_header(&bytes))
}

/// The error of a file that the safetensors reader refused.
pub(crate) fn not_safetensors(e: SafeTensorError) -> Error {
    Error::Format(format!("not a safetensors file: {}", describe(e)))
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

/// The `format` metadata of safetensors `bytes`, if they have one: which of our files they are.
pub(crate) fn format_of(bytes: &[u8]) -> Option<String> {
    let (_, m) = SafeTensors::read_metadata(bytes).ok()?;
    m.metadata().as_ref()?.get("format").cloned()
}

/// The values of f32 tensor `name` if it has shape `shape`, or an error naming it (`what` says
/// which file holds it).
pub(crate) fn f32_shaped(
    st: &SafeTensors,
    name: &str,
    shape: &[usize],
    what: &str,
) -> Result<Vec<f32>> {
    let (have, values) = f32_tensor(st, name, what)?;
    if have != shape {
        return Err(Error::Shape(format!(
            "tensor {name} has shape {have:?}, the configuration needs {shape:?}"
        )));
    }
    Ok(values)
}

/// The same safetensors bytes with the checksum of their data section added to the metadata
/// and the header's keys in sorted order: the metadata is a `HashMap`, so without this the same
/// model could be written as different bytes.
fn sorted_header(bytes: &[u8]) -> Vec<u8> {
    type Sorted = std::collections::BTreeMap<String, serde_json::Value>;
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let mut header: Sorted = serde_json::from_slice(&bytes[8..8 + n]).expect("header just written");
    let meta = header.entry("__metadata__".into()).or_default();
    let mut sorted: Sorted = serde_json::from_value(meta.take()).unwrap_or_default();
    let crc = format!("{:08x}", data_crc32(bytes, n));
    sorted.insert(CHECKSUM_KEY.into(), crc.into());
    *meta = serde_json::to_value(sorted).expect("JSON value serialises");
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

/// The CRC-32 of the data section of safetensors `bytes` whose header is `header_len` bytes.
pub(crate) fn data_crc32(bytes: &[u8], header_len: usize) -> u32 {
    crc32fast::hash(&bytes[8 + header_len..])
}

/// Refuses a file whose metadata `meta` records a checksum that its data section (after the
/// header of `header_len` bytes, as the safetensors reader measured it) does not have. Files
/// without one (PyTorch state dicts, files written before checksums) pass.
pub(crate) fn verify_checksum(
    bytes: &[u8],
    header_len: usize,
    meta: &HashMap<String, String>,
) -> Result<()> {
    let Some(recorded) = meta.get(CHECKSUM_KEY) else {
        return Ok(());
    };
    let hex = recorded.len() == 8 && recorded.bytes().all(|b| b.is_ascii_hexdigit());
    let expected = u32::from_str_radix(recorded, 16)
        .ok()
        .filter(|_| hex)
        .ok_or_else(|| {
            Error::Format(format!(
                "the `{CHECKSUM_KEY}` metadata is `{recorded}`, expected 8 hex digits"
            ))
        })?;
    let found = data_crc32(bytes, header_len);
    if found != expected {
        return Err(Error::Format(format!(
            "the file is damaged: its tensors' CRC-32 is {found:08x}, but it was written with {expected:08x} (metadata `{CHECKSUM_KEY}`)"
        )));
    }
    Ok(())
}

/// The string metadata of one of our files, read with the kind of file (`model file`,
/// `checkpoint`, ...) named in every error.
pub(crate) struct Metadata<'a> {
    pub map: &'a HashMap<String, String>,
    pub what: &'static str,
}

impl<'a> Metadata<'a> {
    pub fn field(&self, key: &str) -> Result<&'a str> {
        self.map
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Format(format!("{} has no `{key}` metadata", self.what)))
    }

    /// A field holding JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.field(key)?)
            .map_err(|e| Error::Format(format!("{} `{key}` metadata is invalid: {e}", self.what)))
    }

    /// The `format_version`; refuses one that is missing, not a number, or newer than `newest`.
    pub fn check_version(&self, newest: u32) -> Result<u32> {
        let what = self.what;
        let version: u32 = self
            .map
            .get("format_version")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Format(format!("{what} has no valid format_version")))?;
        if version > newest {
            return Err(Error::Format(format!(
                "{what} format version {version} is newer than this program reads ({newest}); upgrade mdpn"
            )));
        }
        Ok(version)
    }
}

/// A metadata value as JSON.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}
