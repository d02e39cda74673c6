//! A run folder's `metrics.csv`, one row per epoch, read and written through csv + serde (the
//! last two columns timed by [`crate::timing::EpochClock`]).

use std::path::Path;

use anyhow::Context;
use mdpn::training::EpochEnd;
use serde::{Deserialize, Serialize, Serializer};

use crate::timing::EpochTime;

/// One epoch of `metrics.csv`, its columns in file order (accuracies as fractions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Counting from 1.
    pub epoch: usize,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub train_loss: f64,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub train_acc: f64,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub val_loss: f64,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub val_acc: f64,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub test_loss: f64,
    #[serde(serialize_with = "decimals::<6, _>")]
    pub test_acc: f64,
    /// Wall time of the epoch (training, validation and test).
    #[serde(serialize_with = "decimals::<3, _>")]
    pub seconds: f64,
    /// Training images per second of the epoch's training part.
    #[serde(serialize_with = "decimals::<1, _>")]
    pub images_per_s: f64,
}

/// Writes a number with `D` decimals, as the file always had them.
fn decimals<const D: usize, S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:.D$}"))
}

/// The column names, the file's first line.
const HEADER: [&str; 9] = [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "seconds",
    "images_per_s",
];

impl EpochMetrics {
    /// The row of an epoch that `fit` reported, timed by `time`.
    pub fn new(end: &EpochEnd, time: EpochTime, train_images: usize) -> EpochMetrics {
        EpochMetrics {
            epoch: end.epoch,
            train_loss: end.train.loss,
            train_acc: end.train.accuracy,
            val_loss: end.validation.loss,
            val_acc: end.validation.accuracy,
            test_loss: end.test.loss,
            test_acc: end.test.accuracy,
            seconds: time.seconds,
            images_per_s: train_images as f64 / time.train_seconds,
        }
    }

    /// The row as a line of `metrics.csv`.
    pub fn csv_line(&self) -> anyhow::Result<String> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(self)?;
        Ok(String::from_utf8(w.into_inner()?)?)
    }
}

/// The text of a `metrics.csv` without rows: its header line.
pub fn header_line() -> String {
    HEADER.join(",") + "\n"
}

/// Reads a run's `metrics.csv` (as `mdpn train` and `mdpn study` write it).
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    reader
        .deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a run's metrics table", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header names the row's fields, so that files written with it read back.
    #[test]
    fn rows_round_trip_under_the_header() {
        let row = EpochMetrics {
            epoch: 3,
            train_loss: 0.5,
            train_acc: 0.8125,
            val_loss: 0.25,
            val_acc: 0.875,
            test_loss: 1.0 / 3.0,
            test_acc: 0.9,
            seconds: 12.0,
            images_per_s: 5000.04,
        };
        let line = row.csv_line().unwrap();
        assert_eq!(
            line,
            "3,0.500000,0.812500,0.250000,0.875000,0.333333,0.900000,12.000,5000.0\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, header_line() + &line + &line).unwrap();
        let rows = read_metrics(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].test_loss, 0.333333);
        assert_eq!(rows[1].epoch, 3);
    }
}
