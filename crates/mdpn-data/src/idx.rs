//! The IDX format of MNIST-style data sets, raw or gzip-compressed.

use std::io::Read;

use flate2::read::GzDecoder;

use mdpn::{Dataset, Error, Result};

use crate::pixels;

/// The files of an MNIST-style set (without `.gz`): train images, train labels, test images,
/// test labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Largest ratio of decompressed to compressed size that deflate can reach; a header that
/// declares more data than this allows is rejected before anything is allocated.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// An IDX array: its dimensions and its values, big-endian as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    /// IDX type code: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
    pub type_code: u8,
    pub data: Vec<u8>,
}

/// Bytes per element of an IDX type code.
fn element_size(code: u8) -> Option<usize> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0B => Some(2),
        0x0C | 0x0D => Some(4),
        0x0E => Some(8),
        _ => None,
    }
}

impl Idx {
    /// Parses IDX bytes, gunzipping them first if they start with the gzip magic.
    pub fn parse(bytes: &[u8]) -> Result<Idx> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut reader = GzDecoder::new(bytes);
            let limit = (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO);
            Idx::read(&mut reader, limit, true)
        } else {
            Idx::read(&mut &bytes[..], bytes.len() as u64, false)
        }
    }

    fn read(reader: &mut impl Read, available: u64, gz: bool) -> Result<Idx> {
        let what = if gz { "decompressed data" } else { "file" };
        let io = |e: std::io::Error| Error::Format(format!("cannot read the IDX data: {e}"));
        let mut magic = [0u8; 4];
        read_full(reader, &mut magic)
            .map_err(io)?
            .then_some(())
            .ok_or_else(|| {
                Error::Format(format!("the {what} is shorter than the 4-byte IDX header"))
            })?;
        if magic[0] != 0 || magic[1] != 0 {
            return Err(Error::Format(format!(
                "not an IDX file: the first two bytes are {:#04x} {:#04x}, expected 0x00 0x00",
                magic[0], magic[1]
            )));
        }
        let type_code = magic[2];
        let size = element_size(type_code)
            .ok_or_else(|| Error::Format(format!("unknown IDX type code {type_code:#04x}")))?;
        let ndim = magic[3] as usize;
        if ndim == 0 {
            return Err(Error::Format("IDX header declares 0 dimensions".into()));
        }
        let mut dim_bytes = vec![0u8; 4 * ndim];
        if !read_full(reader, &mut dim_bytes).map_err(io)? {
            return Err(Error::Format(format!(
                "the {what} ends inside the {ndim} IDX dimensions"
            )));
        }
        let dims: Vec<usize> = dim_bytes
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let total = dims
            .iter()
            .try_fold(size as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| Error::Format(format!("IDX dimensions {dims:?} overflow")))?;
        let header = 4 + 4 * ndim as u64;
        if !gz && total > available.saturating_sub(header) {
            return Err(Error::Format(format!(
                "truncated: the IDX header declares dimensions {dims:?} ({total} bytes of data) but the file holds {}",
                available.saturating_sub(header)
            )));
        }
        if gz && total > available {
            return Err(Error::Format(format!(
                "IDX header declares dimensions {dims:?} ({total} bytes of data), more than the compressed file can hold"
            )));
        }
        let mut data = Vec::with_capacity(total as usize);
        reader.take(total + 1).read_to_end(&mut data).map_err(io)?;
        if (data.len() as u64) < total {
            return Err(Error::Format(format!(
                "truncated: the IDX header declares dimensions {dims:?} ({total} bytes of data) but the {what} holds {}",
                data.len()
            )));
        }
        if data.len() as u64 > total {
            return Err(Error::Format(format!(
                "the {what} holds more than the {total} bytes its IDX header declares ({dims:?})"
            )));
        }
        Ok(Idx {
            dims,
            type_code,
            data,
        })
    }
}

/// Fills `buf`; `Ok(false)` if the data ended first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

impl Idx {
    /// Number of values.
    fn len(&self) -> usize {
        self.data.len() / element_size(self.type_code).unwrap_or(1)
    }

    /// Value `i` as `f64`, whatever the type code (all IDX types convert exactly).
    fn get(&self, i: usize) -> f64 {
        let size = element_size(self.type_code).unwrap_or(1);
        let b = &self.data[i * size..][..size];
        match self.type_code {
            0x08 => b[0] as f64,
            0x09 => b[0] as i8 as f64,
            0x0B => i16::from_be_bytes([b[0], b[1]]) as f64,
            0x0C => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64,
            0x0D => f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64,
            _ => f64::from_be_bytes(b.try_into().expect("8 bytes")),
        }
    }

    /// The array as 8-bit pixels: u8 as stored, any other type by the rule of
    /// [`pixels::to_u8`] (floats in 0..=1 are scaled by 255).
    pub fn pixels(self) -> Result<Vec<u8>> {
        if self.type_code == 0x08 {
            return Ok(self.data);
        }
        let float = matches!(self.type_code, 0x0D | 0x0E);
        pixels::to_u8(self.len(), float, |i| self.get(i))
            .map_err(|e| Error::Format(format!("IDX type {:#04x}: {e}", self.type_code)))
    }

    /// The array as class labels: whole numbers of any type, none negative.
    pub fn labels(&self) -> Result<Vec<u32>> {
        if self.type_code == 0x08 {
            return Ok(self.data.iter().map(|&l| l as u32).collect());
        }
        (0..self.len())
            .map(|i| {
                let v = self.get(i);
                if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) {
                    Ok(v as u32)
                } else {
                    Err(Error::Format(format!(
                        "label {v} of image {i} is not a class number"
                    )))
                }
            })
            .collect()
    }
}

/// A data set from an IDX image array `(N, H, W)` and an IDX label array `(N)`, of any IDX
/// type ([`Idx::pixels`], [`Idx::labels`]).
pub fn dataset(images: Idx, labels: Idx, class_names: &[&str]) -> Result<Dataset> {
    if images.dims.len() != 3 {
        return Err(Error::Format(format!(
            "images: expected an IDX array with 3 dimensions (images, rows, columns), found dimensions {:?}",
            images.dims
        )));
    }
    if labels.dims.len() != 1 {
        return Err(Error::Format(format!(
            "labels: expected an IDX array with 1 dimension, found dimensions {:?}",
            labels.dims
        )));
    }
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if n != labels.dims[0] {
        return Err(Error::Shape(format!(
            "{n} images but {} labels",
            labels.dims[0]
        )));
    }
    if h != w {
        return Err(Error::Format(format!(
            "images are {h}x{w}; only square images are supported"
        )));
    }
    let labels = labels.labels()?;
    Dataset::new(
        images.pixels()?,
        labels,
        1,
        h,
        class_names.iter().map(|s| s.to_string()).collect(),
    )
}
