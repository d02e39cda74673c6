//! Run folders' checkpoints, shared by `mdpn train` and `mdpn study`: starting, resuming and
//! recording a run (`metrics.csv`, then the checkpoint), checking that a resumed run has its own
//! settings, and the hidden pause hook of the kill-and-resume tests.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use mdpn::checkpoint::{self, Checkpoint};
use mdpn::training::{BatchReport, Trainer};
use mdpn::Network;

use crate::files::{remove_temporaries, write_atomic, write_atomic_with};
use crate::metrics::{self, EpochMetrics};
use crate::stop;

/// The checkpoint's name in the run folder.
pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// A run before its first epoch: the trainer's model and Adam, with `settings` (JSON).
pub fn fresh<N: Network>(trainer: &Trainer<N>, settings: String) -> Checkpoint<N> {
    Checkpoint {
        metrics: metrics::header_line(),
        ..trainer.fresh_run(settings)
    }
}

/// The run of folder `dir` from its checkpoint, read with `load` (see [`read_checkpoint`]),
/// refused if it was started with settings other than `settings`.
pub fn resume<N: Network>(
    dir: &Path,
    load: impl FnOnce(&[u8]) -> mdpn::Result<Checkpoint<N>>,
    settings: &str,
) -> anyhow::Result<Checkpoint<N>> {
    let run = read_checkpoint(&dir.join(CHECKPOINT), load)?;
    check_settings(&run.settings, settings, dir)?;
    Ok(run)
}

/// Makes the run folder's `metrics.csv` show the checkpoint's epochs, as a run starts or resumes:
/// rows of an epoch that was cut short go.
pub fn show_metrics<N: Network>(dir: &Path, run: &Checkpoint<N>) -> anyhow::Result<()> {
    write_atomic(&dir.join("metrics.csv"), run.metrics.as_bytes())
}

/// Records an epoch that `fit` brought `run` to: its row in `metrics.csv`, then the checkpoint,
/// written last (the caller writes its model files before). If the program dies before the
/// checkpoint is in place, the resumed run redoes the epoch and rewrites these files with the
/// same bytes.
pub fn record_epoch<N: Network>(
    dir: &Path,
    run: &mut Checkpoint<N>,
    row: &EpochMetrics,
    pause: &TestPause,
) -> anyhow::Result<()> {
    run.metrics += &row.csv_line()?;
    show_metrics(dir, run)?;
    write_checkpoint(&dir.join(CHECKPOINT), run, pause)
}

/// Reads the checkpoint of a run folder to resume the run, with `load`: [`checkpoint::load`] for
/// MDPN as the file describes it, or [`checkpoint::load_into`] a network the caller built. The
/// temporary files that the stopped run's cut writes left in the folder go.
pub fn read_checkpoint<N: Network>(
    path: &Path,
    load: impl FnOnce(&[u8]) -> mdpn::Result<Checkpoint<N>>,
) -> anyhow::Result<Checkpoint<N>> {
    let bytes = fs::read(path)
        .with_context(|| format!("cannot resume: cannot read checkpoint {}", path.display()))?;
    let state = load(&bytes)
        .with_context(|| format!("cannot resume from checkpoint {}", path.display()))?;
    remove_temporaries(path.parent().unwrap_or(Path::new(".")))?;
    Ok(state)
}

/// Writes a checkpoint atomically, pausing before the rename when a test asks for it.
pub fn write_checkpoint<N: Network>(
    path: &Path,
    state: &Checkpoint<N>,
    pause: &TestPause,
) -> anyhow::Result<()> {
    write_atomic_with(path, &checkpoint::save(state)?, || {
        pause.at("checkpoint", state.epochs_done)
    })
}

/// Refuses to resume a run with settings other than those it was started with: compares the
/// settings in `current` with those recorded in `stored` (a checkpoint's or `config.json`).
pub fn check_settings(stored: &str, current: &str, out: &Path) -> anyhow::Result<()> {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s);
    let stored = parse(stored).context("the run's recorded settings are not valid JSON")?;
    let mut diffs = Vec::new();
    differences("", &stored, &parse(current)?, &mut diffs);
    if !diffs.is_empty() {
        bail!(
            "cannot resume {}: this command's settings differ from the run's: {}. Leave them out to continue with the run's own settings",
            out.display(),
            diffs.join("; ")
        );
    }
    Ok(())
}

/// Lists `key: run A, command B` for every key of `command` where the two JSON values differ.
fn differences(
    key: &str,
    run: &serde_json::Value,
    command: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value::Object;
    match (run, command) {
        (Object(a), Object(b)) => {
            for k in b.keys() {
                let null = serde_json::Value::Null;
                let sub = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                differences(
                    &sub,
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(format!("{key}: run {a}, command {b}")),
        _ => {}
    }
}

/// A hidden hook for the kill-and-resume tests: `MDPN_TEST_PAUSE=POINT@EPOCH[,POINT@EPOCH...]`
/// makes training print `MDPN_TEST_PAUSE POINT@EPOCH` to stderr and wait for a Ctrl-C at
/// `mid-epoch` (after the middle batch of epoch EPOCH, counting from 1) or at `checkpoint` (once
/// the temporary file of the checkpoint after EPOCH epochs is synced, before its rename), so
/// that a test can kill or interrupt the program at exactly that moment. In a study these points
/// are those of every run, and `run@N` pauses once the N-th run (counting from 1) is done.
pub struct TestPause(Vec<String>);

impl TestPause {
    pub fn from_env() -> TestPause {
        let points = std::env::var("MDPN_TEST_PAUSE").unwrap_or_default();
        TestPause(points.split(',').map(str::to_string).collect())
    }

    /// From the batch hook: the `mid-epoch` point, after the middle batch.
    pub fn batch(&self, report: &BatchReport) {
        if report.batch == report.batches.div_ceil(2) {
            self.at("mid-epoch", report.epoch);
        }
    }

    pub fn at(&self, point: &str, epoch: usize) {
        let here = format!("{point}@{epoch}");
        if self.0.contains(&here) {
            let presses = stop::presses();
            eprintln!("MDPN_TEST_PAUSE {here}");
            while stop::presses() == presses {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
