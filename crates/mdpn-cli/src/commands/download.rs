//! `mdpn download`: fetch a known data set's official files, resumably, checked by md5.

use std::path::PathBuf;

use anyhow::Context;

use crate::fetch;

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
    let ds = fetch::known(&args.name).with_context(|| {
        let names: Vec<&str> = fetch::REGISTRY.iter().map(|d| d.name).collect();
        format!(
            "unknown data set `{}`; known: {}",
            args.name,
            names.join(", ")
        )
    })?;
    let root = match args.data_dir {
        Some(dir) => dir,
        None => dirs::cache_dir()
            .context("no user cache folder is known here; pass --data-dir DIR")?
            .join("mdpn"),
    };
    let dest = root.join(ds.folder);
    fetch::download(ds, &dest, args.mirror.as_deref(), true)?;
    println!("{} is in {}", ds.name, dest.display());
    Ok(())
}
