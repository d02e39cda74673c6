//! The one writer of a run folder, epoch by epoch, for `mdpn train`, `mdpn study` and Python's
//! `fit(out=...)`: `config.json` when the run starts, then after every epoch its model files,
//! its row of `metrics.csv` and, last, its checkpoint, from which the run resumes bitwise as if
//! it had never stopped. The epochs themselves run in [`mdpn::training::fit`]; the writer is
//! called from its hooks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mdpn::checkpoint::Checkpoint;
use mdpn::model_file::ModelFile;
use mdpn::training::{BatchReport, EpochEnd};
use mdpn::Network;
use serde::{Deserialize, Serialize};

use crate::checkpoints::{record_epoch, show_metrics, TestPause, CHECKPOINT};
use crate::files::{program, write_atomic, write_model};
use crate::metrics::EpochMetrics;
use crate::timing::{EpochClock, EpochTime};

/// The model of the best validation epoch so far, in the run folder.
pub const BEST_MODEL: &str = "model.safetensors";
/// The model of the last epoch (`mdpn train` and Python's `fit`).
pub const LAST_MODEL: &str = "last.safetensors";
/// The run's settings, the program that ran it and on how many threads.
pub const CONFIG: &str = "config.json";

/// The file that shows that `dir` holds a run already (its `metrics.csv` or its checkpoint),
/// if any: a new run there would overwrite it.
pub fn held_run(dir: &Path) -> Option<&'static str> {
    ["metrics.csv", CHECKPOINT]
        .into_iter()
        .find(|f| dir.join(f).exists())
}

/// A run's `config.json`: the program and the threads that ran it, with what the front door
/// records of the run (`run`, flattened: `mdpn train`'s settings and data folder, a study's
/// `settings`).
#[derive(Serialize, Deserialize)]
pub struct RunConfig<S> {
    pub program: String,
    pub threads: usize,
    #[serde(flatten)]
    pub run: S,
}

impl<S: Serialize> RunConfig<S> {
    /// The record of a run that this process runs now.
    pub fn new(run: S) -> RunConfig<S> {
        RunConfig {
            program: program(),
            threads: rayon::current_num_threads(),
            run,
        }
    }

    /// Writes it as `dir/config.json`, atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(
            &dir.join(CONFIG),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

/// Writes a run folder from `fit`'s hooks, timing the epochs; without a folder it only times
/// them and makes their rows (Python's `fit` without `out`).
pub struct RunWriter {
    dir: Option<PathBuf>,
    clock: EpochClock,
    pause: TestPause,
    train_images: usize,
}

impl RunWriter {
    /// A writer of the run folder `dir` (which must exist), for a run of `train_images`
    /// training images per epoch.
    pub fn new(dir: Option<&Path>, train_images: usize) -> RunWriter {
        RunWriter {
            dir: dir.map(Path::to_path_buf),
            clock: EpochClock::starting_now(),
            pause: TestPause::from_env(),
            train_images,
        }
    }

    /// The hidden pause hook of the kill-and-resume tests (see [`TestPause`]).
    pub fn pause(&self) -> &TestPause {
        &self.pause
    }

    /// Starts or resumes `run`: `metrics.csv` shows its epochs (rows of an epoch cut short
    /// go), and the first epoch's clock starts.
    pub fn start<N: Network>(&self, run: &Checkpoint<N>) -> anyhow::Result<()> {
        if let Some(dir) = &self.dir {
            show_metrics(dir, run)?;
        }
        self.clock.restart();
        Ok(())
    }

    /// Time since the epoch started.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// From `fit`'s batch hook.
    pub fn batch(&self, report: &BatchReport) {
        self.clock.batch(report);
        self.pause.batch(report);
    }

    /// From `fit`'s epoch hook: the epoch's row of `metrics.csv`. `keep` is given the row and
    /// the epoch's times first, to do what the caller keeps of the epoch (show it, write its
    /// model files through [`RunWriter::write_model`], keep its own records in the checkpoint's
    /// `extra`); then the row and, last, the checkpoint are written.
    pub fn epoch<N: Network>(
        &self,
        end: &EpochEnd,
        run: &mut Checkpoint<N>,
        keep: impl FnOnce(&EpochMetrics, EpochTime, &mut Checkpoint<N>) -> anyhow::Result<()>,
    ) -> anyhow::Result<EpochMetrics> {
        let time = self.clock.epoch();
        let row = EpochMetrics::new(end, time, self.train_images);
        keep(&row, time, run)?;
        if let Some(dir) = &self.dir {
            record_epoch(dir, run, &row, &self.pause)?;
        }
        self.clock.restart();
        Ok(row)
    }

    /// Writes the model file `name` ([`BEST_MODEL`], [`LAST_MODEL`]) of the run folder, if the
    /// writer has one.
    pub fn write_model(&self, name: &str, file: &ModelFile) -> anyhow::Result<()> {
        match &self.dir {
            Some(dir) => write_model(&dir.join(name), file),
            None => Ok(()),
        }
    }

    /// Writes a file of the run (a baseline's model), atomically.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        match &self.dir {
            Some(dir) => write_atomic(&dir.join(name), bytes),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use mdpn::splits::{Protocol, Splits};
    use mdpn::training::{fit, FitData, Fitted, Trainer};
    use mdpn::{checkpoint, Config, Dataset, Mdpn};

    use super::*;
    use crate::checkpoints::fresh;
    use crate::metrics::read_metrics;

    /// Trains a tiny model for `epochs` on 96 scrambled 12×12 images, writing through a
    /// [`RunWriter`] of `dir`; the rows it returned.
    fn train(dir: Option<&Path>, epochs: usize) -> Vec<EpochMetrics> {
        let images: Vec<u8> = (0..96 * 144u32).map(|i| (i * 37 % 251) as u8).collect();
        let labels = (0..96).map(|i| (i % 3) as u32).collect();
        let names = vec!["a".into(), "b".into(), "c".into()];
        let data = Dataset::new(images, labels, 1, 12, names).unwrap();
        let splits = Splits::new(96, 0, Protocol::Holdout { fraction: 0.25 }, 1).unwrap();
        let config = Config {
            image_size: 12,
            dendrites: 2,
            hidden: 8,
            classes: 3,
            ..Config::default()
        };
        let mut trainer = Trainer::new(Mdpn::new(config, 1).unwrap(), 1e-3, 16, 1).unwrap();
        let mut run = fresh(&trainer, "{}".into());
        let writer = RunWriter::new(dir, splits.train.indices.len());
        writer.start(&run).unwrap();
        let mut rows = Vec::new();
        let data = FitData {
            train: &data,
            test: &data,
            splits: &splits,
        };
        let fitted = fit(
            &mut trainer,
            &mut run,
            data,
            epochs,
            |r| {
                writer.batch(r);
                ControlFlow::Continue(())
            },
            |end, run: &mut Checkpoint<Mdpn>| -> anyhow::Result<()> {
                let row = writer.epoch(end, run, |row, time, run| {
                    assert_eq!(row.epoch, end.epoch);
                    assert!(time.train_seconds <= time.seconds);
                    let file = ModelFile {
                        model: run.model.clone(),
                        class_names: Vec::new(),
                        dataset: None,
                        program: program(),
                    };
                    writer.write_model(LAST_MODEL, &file)
                })?;
                rows.push(row);
                Ok(())
            },
            || false,
        )
        .unwrap();
        assert_eq!(fitted, Fitted::Finished);
        rows
    }

    /// Every epoch leaves its model file, its row of metrics.csv and its checkpoint, which
    /// holds the same rows; without a folder the same rows come back.
    #[test]
    fn each_epoch_leaves_its_row_model_and_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let rows = train(Some(dir.path()), 2);
        assert_eq!(rows.len(), 2);
        let written = read_metrics(&dir.path().join("metrics.csv")).unwrap();
        let columns = |r: &EpochMetrics| (r.epoch, format!("{:.6}", r.train_loss));
        assert_eq!(
            written.iter().map(columns).collect::<Vec<_>>(),
            rows.iter().map(columns).collect::<Vec<_>>()
        );
        let bytes = std::fs::read(dir.path().join(crate::checkpoints::CHECKPOINT)).unwrap();
        let saved = checkpoint::load(&bytes).unwrap();
        assert_eq!(saved.epochs_done, 2);
        assert_eq!(
            saved.metrics,
            std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap()
        );
        assert!(dir.path().join(LAST_MODEL).is_file());

        let unwritten = train(None, 2);
        assert_eq!(
            unwritten.iter().map(columns).collect::<Vec<_>>(),
            rows.iter().map(columns).collect::<Vec<_>>()
        );
    }
}
