//! Claims on the runs of a study shared by several worker processes (`mdpn study --worker`):
//! a job array of Slurm, a Kubernetes indexed Job or `xargs -P` starts any number of workers
//! on one study folder, and each run is trained by exactly one of them.
//!
//! A worker claims a run by creating its `claim.json` with `create_new`, which the file system
//! grants to one process only. The claim says who holds it (host and process id). It is taken
//! over when its holder is gone: on the same host, when that process no longer exists; on any
//! host, when neither the claim nor the run's checkpoint has changed for `stale_after` (the
//! holder rewrites its checkpoint after every epoch). Taking over renames the stale claim
//! away first, which again only one process can do, so two workers never both take it.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::checkpoints::CHECKPOINT;

/// The claim's file in the run folder.
pub const CLAIM: &str = "claim.json";

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
}

impl Holder {
    /// This process.
    pub fn me() -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// Whether the holder is known to be gone: a process of this host that no longer exists.
    fn is_gone(&self) -> bool {
        self.host == host_name() && !process_exists(self.pid)
    }
}

/// A run this worker holds; dropping it gives the claim back.
pub struct Claim {
    path: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // The run is finished or stopped: another worker may take it (a finished run is then
        // skipped by its `result.json`). A claim that cannot be removed goes stale.
        let _ = fs::remove_file(&self.path);
    }
}

/// What happened when a worker tried to claim a run.
pub enum Attempt {
    /// This worker holds the run now.
    Claimed(Claim),
    /// Another worker holds it and is alive, as far as can be told.
    Held(Holder),
}

/// Tries to claim the run in `dir`, taking over a claim whose holder is gone or stale.
pub fn claim(dir: &Path, stale_after: Duration) -> anyhow::Result<Attempt> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(CLAIM);
    for _ in 0..3 {
        match create(&path) {
            Ok(()) => return Ok(Attempt::Claimed(Claim { path })),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
        }
        let Some(holder) = read_holder(&path)? else {
            continue; // given back meanwhile: try again
        };
        if !(holder.is_gone() || is_stale(dir, &path, stale_after)) {
            return Ok(Attempt::Held(holder));
        }
        // Only one worker's rename of the stale claim succeeds; the others find it gone.
        let away = dir.join(format!(".claim.stale.{}", std::process::id()));
        if fs::rename(&path, &away).is_ok() {
            let _ = fs::remove_file(&away);
        }
    }
    let holder = read_holder(&path)?.unwrap_or_else(Holder::me);
    Ok(Attempt::Held(holder))
}

/// Writes this process's claim at `path`, failing if one exists.
fn create(path: &Path) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let text = serde_json::to_string(&Holder::me()).expect("plain data serialises");
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The holder named in the claim at `path`; `None` if it was removed meanwhile. A claim cut
/// short by a crash while it was written names nobody: it is taken as stale-able by age alone.
fn read_holder(path: &Path) -> anyhow::Result<Option<Holder>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).unwrap_or(Holder {
            host: String::new(),
            pid: 0,
        }))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Whether neither the claim nor the run's checkpoint has changed for `stale_after`.
fn is_stale(dir: &Path, claim: &Path, stale_after: Duration) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let last = [modified(claim), modified(&dir.join(CHECKPOINT))]
        .into_iter()
        .flatten()
        .max();
    last.is_some_and(|t| {
        SystemTime::now()
            .duration_since(t)
            .is_ok_and(|age| age > stale_after)
    })
}

/// This machine's name, as claims record it.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a process with this id exists on this machine.
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    // Signal 0 checks the process without touching it; EPERM means it exists as another user.
    // SAFETY: kill(2) with signal 0 sends nothing.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_and_dead_holders_are_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let long = Duration::from_secs(3600);
        let Attempt::Claimed(first) = claim(&dir, long).unwrap() else {
            panic!("a free run is claimed");
        };
        // This process holds it and is alive: a second attempt sees it held.
        match claim(&dir, long).unwrap() {
            Attempt::Held(h) => assert_eq!(h, Holder::me()),
            Attempt::Claimed(_) => panic!("claimed twice"),
        }
        drop(first);
        assert!(!dir.join(CLAIM).exists(), "dropping gives the claim back");
        // A claim of a process that is gone is taken over at once.
        let dead = Holder {
            host: host_name(),
            pid: u32::MAX / 2,
        };
        fs::write(dir.join(CLAIM), serde_json::to_string(&dead).unwrap()).unwrap();
        assert!(matches!(claim(&dir, long).unwrap(), Attempt::Claimed(_)));
        // One of another host is taken over only once it is stale.
        let far = Holder {
            host: "elsewhere".into(),
            pid: 1,
        };
        fs::write(dir.join(CLAIM), serde_json::to_string(&far).unwrap()).unwrap();
        assert!(matches!(claim(&dir, long).unwrap(), Attempt::Held(_)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(
            claim(&dir, Duration::from_millis(10)).unwrap(),
            Attempt::Claimed(_)
        ));
    }
}
