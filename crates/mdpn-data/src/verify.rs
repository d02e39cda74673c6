//! Whether a copy of an official file can be trusted: its md5, or that of its decompressed
//! content, against the checksums the registry knows.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::registry::KnownFile;
use anyhow::Context;
use flate2::read::MultiGzDecoder;
use md5::{Digest, Md5};

/// md5 (lower-case hex) and length of everything `reader` yields.
fn md5_of(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Md5::new();
    let len = io::copy(&mut reader, &mut hasher)?;
    Ok((format!("{:x}", hasher.finalize()), len))
}

/// md5 (lower-case hex) and length of the file at `path`.
pub fn md5_of_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    md5_of(file).with_context(|| format!("cannot read {}", path.display()))
}

/// Checks a file against the known checksums: md5 of the file equals md5_gz
/// (official download) or one of older_md5 or, for raw or re-compressed files, the md5 of its
/// decompressed content equals md5_raw. Both are accepted because Debian
/// re-compresses the files, changing the `.gz` bytes but not their content.
pub fn verify(file: &KnownFile, path: &Path) -> anyhow::Result<bool> {
    let (md5, len) = md5_of_file(path)?;
    if md5 == file.md5_gz || file.older_md5.contains(&md5.as_str()) {
        return Ok(true);
    }
    let mut magic = Vec::with_capacity(2);
    File::open(path)
        .and_then(|f| f.take(2).read_to_end(&mut magic))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if magic != [0x1f, 0x8b] {
        return Ok(len == file.raw_len && md5 == file.md5_raw);
    }
    let gz = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match md5_of(MultiGzDecoder::new(gz)) {
        Ok((md5, len)) => Ok(len == file.raw_len && md5 == file.md5_raw),
        // A corrupt or truncated archive is a bad copy, not a failure to check.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
