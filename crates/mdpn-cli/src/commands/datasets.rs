//! `mdpn datasets`: every known data set, whether it is here, where, and whether its files
//! match the official checksums.

use std::path::{Path, PathBuf};

use serde_json::json;

use mdpn_data::locate::{find_file, locate_source};
use mdpn_data::registry::{KnownDataset, KnownFile, REGISTRY};

use mdpn_data::verify::verify;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Folder searched first (itself and its `<name>/`), as for `train`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON object per data set instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the checksum of a file found says. An archive is judged by its md5; an IDX file,
/// raw or gzipped, by the md5 of its content when we know it, since a re-compressed `.gz`
/// (Debian's) differs from the official one but can hold the same data.
fn checksum(file: &KnownFile, path: &Path) -> anyhow::Result<&'static str> {
    if verify(file, path)? {
        return Ok("ok");
    }
    let decisive = if file.gzip {
        !file.md5_raw.is_empty()
    } else {
        !file.md5_gz.is_empty()
    };
    Ok(if decisive { "wrong" } else { "unknown" })
}

/// The state of one data set: folder, what was read there, and the checksum verdict.
fn status(ds: &KnownDataset, data_dir: Option<&Path>) -> anyhow::Result<serde_json::Value> {
    let Ok((folder, source)) = locate_source(ds, data_dir, 28) else {
        return Ok(json!({"name": ds.name, "present": false}));
    };
    let mut files = Vec::new();
    let mut verdict = "ok";
    for file in ds.files {
        let Some(path) = find_file(&folder, file.name) else {
            continue;
        };
        let state = checksum(file, &path)?;
        if state != "ok" && verdict != "wrong" {
            verdict = state;
        }
        files.push(json!({"file": path.display().to_string(), "checksum": state}));
    }
    if files.is_empty() {
        // Read from extracted files, which have no official checksum.
        verdict = "unknown";
    }
    Ok(json!({
        "name": ds.name,
        "present": true,
        "folder": folder.display().to_string(),
        "source": source.display().to_string(),
        "checksum": verdict,
        "files": files,
    }))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for ds in REGISTRY {
        rows.push(status(ds, args.data_dir.as_deref())?);
    }
    if args.json {
        for r in &rows {
            println!("{r}");
        }
        return Ok(());
    }
    println!(
        "{:<16} {:<7} {:<8} where",
        "data set", "present", "checksum"
    );
    for r in &rows {
        let present = r["present"].as_bool().unwrap_or(false);
        println!(
            "{:<16} {:<7} {:<8} {}",
            r["name"].as_str().unwrap_or(""),
            if present { "yes" } else { "no" },
            r["checksum"].as_str().unwrap_or("-"),
            r["source"].as_str().unwrap_or("-"),
        );
    }
    println!(
        "\nchecksum: ok = matches the official file; wrong = it does not; unknown = no official \
         checksum for this form (extracted or re-compressed files)"
    );
    Ok(())
}
