//! File helpers: atomic writes and model files.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mdpn::model_file::{self, ModelFile};
use mdpn::state_dict::StateDictOptions;

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and renamed into
/// place, then syncs the folder, so that `path` always holds either the old or the new content
/// in full, even after a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, || {})
}

/// [`write_atomic`], calling `before_rename` once the temporary file is complete and synced.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(),
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        before_rename();
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Makes a rename in `dir` durable (where the platform can open folders).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads a model file or an authors' state dict.
pub fn read_model(path: &Path, options: &StateDictOptions) -> anyhow::Result<ModelFile> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read model file {}", path.display()))?;
    model_file::load(&bytes, options)
        .with_context(|| format!("cannot load model {}", path.display()))
}

/// Writes a model file atomically.
pub fn write_model(path: &Path, file: &ModelFile) -> anyhow::Result<()> {
    write_atomic(path, &model_file::save(file)?)
}

/// This program's name and version, recorded in the files it writes.
pub fn program() -> String {
    format!("mdpn {}", env!("CARGO_PKG_VERSION"))
}
