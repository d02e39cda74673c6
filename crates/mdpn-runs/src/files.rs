//! File helpers: atomic writes and model files.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mdpn::model_file::{self, ModelFile};

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and renamed into
/// place, then syncs the folder, so that `path` always holds either the old or the new content
/// in full, even after a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, || {})
}

/// [`write_atomic`], calling `before_rename` once the temporary file is complete and synced.
/// The temporary file has a name of its own (`.NAME.XXXXXX.tmp`, see [`is_temporary`]), so
/// writers sharing a folder, even of one file, never clash; it is removed if the write fails.
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
    let result = (|| -> std::io::Result<()> {
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMPORARY);
        // As `File::create` makes files (0666 less the umask), not private to their owner.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut tmp = builder.tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        before_rename();
        tmp.persist(path).map_err(|e| e.error)?;
        sync_dir(dir)
    })();
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// How the names of [`write_atomic`]'s temporary files end.
const TEMPORARY: &str = ".tmp";

/// Whether `name` is that of a temporary file of [`write_atomic`]: one that a process killed
/// before its rename leaves behind.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMPORARY)
}

/// Removes the temporary files that writes cut short left in `dir`.
pub fn remove_temporaries(dir: &Path) -> anyhow::Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let stray = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_temporary);
        if stray && path.is_file() {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Makes a rename in `dir` durable (where the platform can open folders).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes a model file atomically.
pub fn write_model(path: &Path, file: &ModelFile) -> anyhow::Result<()> {
    write_atomic(path, &model_file::save(file)?)
}

/// This program's name and version, recorded in the files it writes.
pub fn program() -> String {
    format!("mdpn {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers sharing a folder, all writing one file and each its own at the same time: no
    /// write fails, every file read holds one writer's bytes in full, and no temporary file is
    /// left behind.
    #[test]
    fn concurrent_writers_in_one_folder_do_not_clash() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared.bin");
        let content = |writer: u8| vec![writer; 100_000 + writer as usize];
        let whole = |bytes: &[u8]| !bytes.is_empty() && bytes == content(bytes[0]);
        std::thread::scope(|s| {
            for writer in 1..=4u8 {
                let (shared, own) = (&shared, dir.path().join(format!("own{writer}.bin")));
                s.spawn(move || {
                    for _ in 0..25 {
                        write_atomic(shared, &content(writer)).unwrap();
                        write_atomic(&own, &content(writer)).unwrap();
                        assert!(whole(&fs::read(shared).unwrap()), "a torn shared file");
                    }
                    assert_eq!(fs::read(&own).unwrap(), content(writer));
                });
            }
        });
        assert!(whole(&fs::read(&shared).unwrap()));
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["own1.bin", "own2.bin", "own3.bin", "own4.bin", "shared.bin"]
        );
    }

    /// Before its rename, a write has only its temporary file, named so that
    /// `remove_temporaries` drops it where a kill left it, and no other file.
    #[test]
    fn temporaries_of_cut_writes_are_recognised_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        write_atomic(&path, b"epoch 1").unwrap();
        let names = || -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let mut during = Vec::new();
        write_atomic_with(&path, b"epoch 2", || {
            during = names();
            assert_eq!(fs::read(&path).unwrap(), b"epoch 1");
        })
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"epoch 2");
        let [stray, final_name] = &during[..] else {
            panic!("{during:?}")
        };
        assert_eq!(final_name, "checkpoint.safetensors");
        assert!(stray.starts_with(".checkpoint.safetensors.") && is_temporary(stray));
        // What a kill before the rename leaves, next to files that are not temporaries.
        fs::write(dir.path().join(stray), b"epoch 3").unwrap();
        fs::write(dir.path().join("notes.tmp"), b"kept").unwrap();
        remove_temporaries(dir.path()).unwrap();
        assert_eq!(names(), ["checkpoint.safetensors", "notes.tmp"]);
    }

    /// Files written atomically get the permissions of any new file (the umask's), not the
    /// owner-only ones of a temporary file.
    #[cfg(unix)]
    #[test]
    fn written_files_have_the_usual_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("a"), dir.path().join("b"));
        write_atomic(&atomic, b"x").unwrap();
        fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&atomic), mode(&plain));
    }
}
