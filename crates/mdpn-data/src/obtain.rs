//! Getting a known set onto this machine whatever the setup: the copy already on disk, else
//! Debian's package, else the official download.

use std::env;
use std::path::{Path, PathBuf};

use crate::locate::{cache_root, locate};
use crate::registry::KnownDataset;
use anyhow::Context;

use crate::apt::install_debian;
use crate::download::download;

/// The folder downloads of `ds` go to: `<data_dir or user cache dir/mdpn>/<folder>/`.
pub fn download_dir(ds: &KnownDataset, data_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let root = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => cache_root().context("no user cache folder is known here; pass --data-dir DIR")?,
    };
    Ok(root.join(ds.folder))
}

/// locate(); if missing: install_debian() unless `$MDPN_NO_APT` is set; else
/// download() into [`download_dir`]; then locate again. The user gets the data with one
/// command whatever their setup.
pub fn obtain(
    ds: &KnownDataset,
    data_dir: Option<&Path>,
    mirror: Option<&str>,
) -> anyhow::Result<PathBuf> {
    if let Ok(dir) = locate(ds, data_dir) {
        return Ok(dir);
    }
    if env::var_os("MDPN_NO_APT").is_none() {
        match install_debian(ds) {
            Ok(true) => return Ok(locate(ds, data_dir)?),
            Ok(false) => {}
            Err(e) => eprintln!("{e:#}; downloading instead"),
        }
    }
    let dest = download_dir(ds, data_dir)?;
    eprintln!("downloading {} into {}", ds.name, dest.display());
    download(ds, &dest, mirror, true)?;
    Ok(locate(ds, data_dir)?)
}
