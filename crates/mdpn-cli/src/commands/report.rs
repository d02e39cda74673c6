//! `mdpn report`: the HTML report of a run or a study folder ([`crate::reports`]).

use std::path::PathBuf;

use anyhow::bail;

use mdpn_report::reports::{write_run, write_study};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A run folder (`mdpn train` or one run of a study) or a study folder (`mdpn study`).
    pub dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = &args.dir;
    let page = if dir.join("study.json").exists() || dir.join("runs").is_dir() {
        write_study(dir)?
    } else if dir.join("metrics.csv").exists() {
        write_run(dir)?
    } else {
        bail!(
            "{} is neither a study folder (study.json, runs/) nor a run folder (metrics.csv)",
            dir.display()
        );
    };
    println!("report in {}", page.display());
    Ok(())
}
