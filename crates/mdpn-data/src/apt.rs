//! Debian's dataset packages: the most trustworthy and offline-friendly source of a set that
//! has one, so it is tried before downloading, where apt can install anything (as root).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::locate::source;
use crate::registry::KnownDataset;
use anyhow::Context;

/// Whether we run as root, the only case where apt-get can install anything.
#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// Runs apt-get non-interactively, its output on our stderr so that stdout
/// stays clean for the command's own results.
fn apt_get(args: &[&str]) -> anyhow::Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .status()
        .with_context(|| format!("cannot run apt-get {}", args.join(" ")))?;
    Ok(status.success())
}

/// Tries Debian's package: only when running as root and `apt-get` exists;
/// runs `apt-get install -y <pkg>` and, if that fails (stale package lists),
/// `apt-get update` then install again. Returns Ok(true) if the Debian dir then
/// holds the files. Output of apt goes to the user's stderr.
pub fn install_debian(ds: &KnownDataset) -> anyhow::Result<bool> {
    let (Some(pkg), Some(dir)) = (ds.debian_package, ds.debian_dir) else {
        return Ok(false);
    };
    if !is_root() {
        return Ok(false);
    }
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_apt {
        return Ok(false);
    }
    eprintln!("{} not found; installing Debian package {pkg}", ds.name);
    if !apt_get(&["install", "-y", pkg])? {
        apt_get(&["update"])?;
        apt_get(&["install", "-y", pkg])?;
    }
    Ok(source(ds, Path::new(dir), 28).is_some())
}
