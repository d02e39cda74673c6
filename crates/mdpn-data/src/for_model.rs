//! A data set for a model: read at the model's image size and colour, checked against its
//! images and classes, and split into training, validation and test images by protocol. The
//! same for `mdpn train`, `study`, `prune`, `inspect` and Python.

use std::path::Path;

use anyhow::Context;
use mdpn::baselines::Architecture;
use mdpn::splits::{ProtocolName, Splits};
use mdpn::training::FitData;
use mdpn::{Config, Task};

use crate::datasets::{load, splits, Color, DataArgs, Loaded};

/// Reads a data set for a model of `cfg`: an image folder at the model's input size and
/// channels; the test images must have the model's shape.
pub fn load_data_for(cfg: &Config, args: &DataArgs) -> anyhow::Result<Loaded> {
    load_shaped(cfg.channels, cfg.image_size, args)
}

/// Reads a data set for a baseline: a CNN's as [`load_data_for`] does for MDPN; an MLP records
/// only its input length, so its images are read as `args` say and must have that length.
pub fn load_data_for_baseline(arch: &Architecture, args: &DataArgs) -> anyhow::Result<Loaded> {
    match arch {
        Architecture::Cnn(c) => load_shaped(c.channels, c.image_size, args),
        Architecture::Mlp(c) => {
            let data = load(args, true)?;
            let test = &data.test;
            anyhow::ensure!(
                test.image_len() == c.inputs,
                "the MLP takes images of {} values but {} has {}x{}x{} ({}); give --image-size \
                 and --color to read them at the size it was trained on",
                c.inputs,
                data.name,
                test.channels,
                test.size,
                test.size,
                test.image_len()
            );
            Ok(data)
        }
    }
}

/// Reads a data set at `size`×`size` pixels of `channels`, checked to have that shape.
fn load_shaped(channels: usize, size: usize, args: &DataArgs) -> anyhow::Result<Loaded> {
    let color = args.color.or(Some(if channels == 3 {
        Color::Rgb
    } else {
        Color::Gray
    }));
    let data = load(
        &DataArgs {
            image_size: Some(size),
            color,
            ..args.clone()
        },
        true,
    )?;
    let test = &data.test;
    anyhow::ensure!(
        (channels, size) == (test.channels, test.size),
        "the model takes {channels}x{size}x{size} images but {} has {}x{}x{}",
        data.name,
        test.channels,
        test.size,
        test.size
    );
    Ok(data)
}

/// The data set for training the model of `cfg` (file `path`) further: refused unless its
/// images and classes are the model's.
pub fn load_data_to_train(cfg: &Config, args: &DataArgs, path: &Path) -> anyhow::Result<Loaded> {
    let data = load_data_for(cfg, args)
        .with_context(|| format!("cannot train {} further", path.display()))?;
    let classes = data.train.classes();
    let task = |t: Task| match t {
        Task::MultiClass => "classes",
        Task::MultiLabel => "labels (multi-label)",
    };
    anyhow::ensure!(
        (classes, data.train.task) == (cfg.classes, cfg.task),
        "cannot train {} further: it predicts {} {} but {} has {classes} {}",
        path.display(),
        cfg.classes,
        task(cfg.task),
        data.name,
        task(data.train.task)
    );
    Ok(data)
}

/// A run's splits by `protocol`: the holdout protocol holds out `val_fraction` of the training
/// set, unless the set has an official validation split; `limit` keeps the first training
/// images only. Also the fraction in effect, recorded in the run's settings (`None` where none).
pub fn run_splits(
    data: &Loaded,
    protocol: ProtocolName,
    val_fraction: f64,
    limit: Option<usize>,
    seed: u64,
) -> anyhow::Result<(Splits, Option<f64>)> {
    let fraction = (protocol == ProtocolName::Holdout && data.official_validation == 0)
        .then_some(val_fraction);
    let protocol = protocol.with_fraction(val_fraction);
    let mut splits = splits(data, protocol, seed)?;
    if let Some(limit) = limit {
        splits.train.indices.truncate(limit);
    }
    Ok((splits, fraction))
}

impl Loaded {
    /// The images `fit` trains, validates and tests on, by `splits`.
    pub fn fit_data<'a>(&'a self, splits: &'a Splits) -> FitData<'a> {
        FitData {
            train: &self.train,
            test: &self.test,
            splits,
        }
    }
}
