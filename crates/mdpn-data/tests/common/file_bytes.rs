//! Data set files as bytes, written once for the tests of mdpn-data and of the `mdpn` program
//! (whose `tests/common/data_files.rs` includes this file): gzip, IDX, zip, NumPy `.npy` and `.npz`.

use std::io::{Cursor, Write};

use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// `data` gzipped (gzip is deterministic: the same bytes give the same file).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

/// An IDX file of unsigned bytes with dimensions `dims`.
pub fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    idx_typed(0x08, dims, data)
}

/// An IDX file of type `code` with dimensions `dims` and the big-endian `data`.
pub fn idx_typed(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

/// A `.npy` array of type `descr` (`|u1`: bytes), with its header as NumPy writes it.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let comma = if shape.len() == 1 { "," } else { "" };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}{comma}), }}",
        dims.join(", ")
    );
    while (11 + header.len()) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// A zip archive of `members` (name, bytes), each compressed by `method`.
pub fn zip_archive(members: &[(impl AsRef<str>, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        zip.start_file(
            name.as_ref(),
            SimpleFileOptions::default().compression_method(method),
        )
        .expect("zip in memory");
        zip.write_all(data).expect("zip in memory");
    }
    zip.finish().expect("zip in memory").into_inner()
}

/// An `.npz` archive of `.npy` members (name without `.npy`, bytes), compressed by `method`.
pub fn npz(members: &[(impl AsRef<str>, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let named: Vec<(String, Vec<u8>)> = members
        .iter()
        .map(|(name, data)| (format!("{}.npy", name.as_ref()), data.clone()))
        .collect();
    zip_archive(&named, method)
}
