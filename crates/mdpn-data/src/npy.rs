//! NumPy's `.npy` arrays and `.npz` archives of them (zip files, members stored or deflated), as
//! MedMNIST ships its data.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use mdpn::{Error, Result};

use crate::pixels;

/// Largest ratio of decompressed to compressed size that deflate can reach.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Element types of the arrays we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
    Bool,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 | Dtype::Bool => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }
}

/// A C-ordered array: its shape and its values, converted to native `f64`-readable form.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// Little-endian bytes of the values (big-endian files are swapped on reading).
    pub data: Vec<u8>,
}

impl Array {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the array holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as `f64` (exact for every type but 64-bit integers past 2^53).
    pub fn get(&self, i: usize) -> f64 {
        let s = self.dtype.size();
        let b = &self.data[i * s..][..s];
        match self.dtype {
            Dtype::U8 | Dtype::Bool => b[0] as f64,
            Dtype::I8 => b[0] as i8 as f64,
            Dtype::U16 => u16::from_le_bytes([b[0], b[1]]) as f64,
            Dtype::I16 => i16::from_le_bytes([b[0], b[1]]) as f64,
            Dtype::U32 => u32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
            Dtype::I32 => i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
            Dtype::F32 => f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
            Dtype::U64 => u64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
            Dtype::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
            Dtype::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    }

    /// The array as 8-bit pixels: u8 as stored, any other type by the rule of
    /// [`pixels::to_u8`] (floats in 0..=1 are scaled by 255).
    pub fn pixels(&self) -> Result<Vec<u8>> {
        if self.dtype == Dtype::U8 {
            return Ok(self.data.clone());
        }
        let float = matches!(self.dtype, Dtype::F32 | Dtype::F64);
        pixels::to_u8(self.len(), float, |i| self.get(i))
            .map_err(|e| Error::Format(format!("{:?} array: {e}", self.dtype)))
    }
}

/// Parses one `.npy` file (format versions 1 to 3, C order).
pub fn parse_npy(bytes: &[u8]) -> Result<Array> {
    let bad = |msg: String| Error::Format(format!("not a valid .npy array: {msg}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("it does not start with the magic \\x93NUMPY".into()));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unknown format version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .ok_or_else(|| {
            bad(format!(
                "the header declares {header_len} bytes but the file ends first"
            ))
        })?;
    let header = std::str::from_utf8(header).map_err(|_| bad("the header is not text".into()))?;
    let descr = dict_value(header, "descr")
        .map(|v| v.trim_matches(|c| c == '\'' || c == '"'))
        .ok_or_else(|| bad(format!("the header has no 'descr': {header}")))?;
    let fortran = dict_value(header, "fortran_order")
        .ok_or_else(|| bad(format!("the header has no 'fortran_order': {header}")))?;
    if fortran != "False" {
        return Err(bad("Fortran-ordered arrays are not supported".into()));
    }
    let shape_text = dict_value(header, "shape")
        .ok_or_else(|| bad(format!("the header has no 'shape': {header}")))?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .map_err(|_| bad(format!("bad shape {shape_text}")))
        })
        .collect::<Result<Vec<usize>>>()?;
    // The byte-order character, then the type code (split on a character boundary, whatever
    // the header holds).
    let (order, code) = match descr.char_indices().nth(1) {
        Some((i, _)) => descr.split_at(i),
        None => (descr, ""),
    };
    let dtype = match code {
        "u1" => Dtype::U8,
        "i1" => Dtype::I8,
        "b1" => Dtype::Bool,
        "u2" => Dtype::U16,
        "i2" => Dtype::I16,
        "u4" => Dtype::U32,
        "i4" => Dtype::I32,
        "u8" => Dtype::U64,
        "i8" => Dtype::I64,
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        _ => return Err(bad(format!("unsupported dtype '{descr}'"))),
    };
    let big_endian = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return Err(bad(format!("unsupported dtype '{descr}'"))),
    };
    let data = &bytes[start + header_len..];
    // The dimensions must multiply without overflow in any order, even when a zero among
    // them makes the array empty, as [`Array::len`] and the data sets multiply them.
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} holds more values than memory can")))?;
    let total = if shape.contains(&0) {
        0
    } else {
        nonzero as u64
    };
    if total != data.len() as u64 {
        return Err(bad(format!(
            "the header declares shape {shape:?} of '{descr}' ({total} bytes) but {} bytes follow{}",
            data.len(),
            if total > data.len() as u64 {
                " (truncated)"
            } else {
                ""
            }
        )));
    }
    let mut data = data.to_vec();
    if big_endian && dtype.size() > 1 {
        for v in data.chunks_exact_mut(dtype.size()) {
            v.reverse();
        }
    }
    Ok(Array { shape, dtype, data })
}

/// The text of `key`'s value in a Python dict literal such as NumPy's header.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?;
    let rest = rest.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// An `.npz` archive, its members read on demand.
pub struct Npz<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
}

impl<'a> Npz<'a> {
    /// Opens an `.npz` archive held in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Npz<'a>> {
        let archive =
            open_zip(bytes).map_err(|e| Error::Format(format!("not a valid .npz archive: {e}")))?;
        Ok(Npz { archive })
    }

    /// Names of its arrays (member names without `.npy`).
    pub fn keys(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|n| n.ok())
            .map(|n| n.strip_suffix(".npy").unwrap_or(&n).to_string())
            .collect()
    }

    /// The array `key`, or an error naming the keys there are.
    pub fn array(&mut self, key: &str) -> Result<Array> {
        let name = format!("{key}.npy");
        if self.archive.index_for_name(&name).is_none() {
            let mut keys = self.keys();
            keys.sort();
            return Err(Error::Format(format!(
                "the archive has no array '{key}'; it holds {}",
                keys.join(", ")
            )));
        }
        let bytes = read_member(&mut self.archive, &name)?;
        parse_npy(&bytes).map_err(|e| Error::Format(format!("array '{key}': {e}")))
    }
}

/// Reads the zip member `name` whole, after checking its declared sizes against the archive and
/// against what its compressed bytes can hold, so a forged header cannot make us allocate
/// without bound.
pub(crate) fn read_member(archive: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>> {
    // Members' data lies before the central directory.
    let room = archive.central_directory_start();
    let member = archive
        .by_name(name)
        .map_err(|e| Error::Format(format!("cannot read member {name}: {e}")))?;
    let (declared, packed) = (member.size(), member.compressed_size());
    if packed > room {
        return Err(Error::Format(format!(
            "member {name} declares {packed} compressed bytes but the archive holds {room} before its directory"
        )));
    }
    let limit = match member.compression() {
        zip::CompressionMethod::Stored => packed,
        _ => packed.saturating_mul(MAX_DEFLATE_RATIO),
    };
    if declared > limit {
        return Err(Error::Format(format!(
            "member {name} declares {declared} bytes, more than its {packed} compressed bytes can hold"
        )));
    }
    let mut out = Vec::with_capacity(declared as usize);
    member
        .take(declared + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Format(format!("member {name} is corrupt: {e}")))?;
    if out.len() as u64 != declared {
        return Err(Error::Format(format!(
            "member {name} declares {declared} bytes but holds {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Opens a zip archive held in `bytes`.
pub(crate) fn open_zip(bytes: &[u8]) -> Result<ZipArchive<Cursor<&[u8]>>> {
    ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::Format(format!("not a valid zip archive: {e}")))
}
