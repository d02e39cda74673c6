//! `mdpn download`: fetch a known data set's official files, resumably, checked by md5.

use std::path::PathBuf;

use anyhow::Context;

use mdpn_data::registry;

use mdpn_data::download::download;
use mdpn_data::obtain::download_dir;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A known data set (`mdpn datasets` lists them).
    pub name: String,
    /// Root folder: files go into `<data-dir>/<folder>/` (default: the user cache dir's `mdpn`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Base URL of a mirror that serves the official files (also `$MDPN_MIRROR`).
    #[arg(long)]
    pub mirror: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = registry::known(&args.name).with_context(|| {
        format!(
            "unknown data set `{}`; known: {}",
            args.name,
            registry::names().join(", ")
        )
    })?;
    let dest = download_dir(ds, args.data_dir.as_deref())?;
    download(ds, &dest, args.mirror.as_deref(), true)?;
    println!("{} is in {}", ds.name, dest.display());
    Ok(())
}
