//! One module per subcommand.

pub mod bench;
#[cfg(feature = "network")]
pub mod datasets;
#[cfg(feature = "network")]
pub mod download;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod predict;
pub mod prune;
pub mod quantize;
pub mod report;
pub mod study;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::Context;
pub use mdpn::any_model::AnyModel;
use mdpn::model_file::ModelFile;
use mdpn::quantized_file;
use mdpn::splits::{ProtocolName, Splits};
use mdpn::state_dict::StateDictOptions;
use mdpn::training::FitData;
use mdpn::{Config, Task};
use mdpn_data::datasets::{Color, DataArgs, Loaded};

/// A model to load: our model file or an authors' PyTorch state dict.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model file (`mdpn train` or `mdpn quantize` output) or PyTorch state dict saved as
    /// safetensors.
    #[arg(long)]
    pub model: PathBuf,
    /// Image side for a state dict (default: the smallest that fits its soma layer).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Normalisation mean (a state dict carries none: default 0.5).
    #[arg(long)]
    pub mean: Option<f32>,
    /// Normalisation standard deviation (a state dict carries none: default 0.5).
    #[arg(long)]
    pub std: Option<f32>,
}

impl ModelArgs {
    /// The model file at `path`, with what its file says (for commands that take the model as
    /// their first argument).
    pub fn path(path: &std::path::Path) -> ModelArgs {
        ModelArgs {
            model: path.to_path_buf(),
            image_size: None,
            mean: None,
            std: None,
        }
    }

    /// Loads an f32 model; `--mean` and `--std`, when given, override what the file says.
    pub fn load(&self) -> anyhow::Result<ModelFile> {
        match self.load_any()? {
            AnyModel::F32(file) => Ok(file),
            AnyModel::Int8(_) => anyhow::bail!(
                "{} is an int8 model (`mdpn quantize` output); this command takes an f32 model",
                self.model.display()
            ),
        }
    }

    /// Loads an f32 or int8 model; `--mean` and `--std`, when given, override what the file says.
    pub fn load_any(&self) -> anyhow::Result<AnyModel> {
        let bytes = std::fs::read(&self.model)
            .with_context(|| format!("cannot read model file {}", self.model.display()))?;
        let options = StateDictOptions {
            image_size: self.image_size,
            mean: self.mean,
            std: self.std,
            ..Default::default()
        };
        let mut file = AnyModel::load(&bytes, &options)
            .with_context(|| format!("cannot load model {}", self.model.display()))?;
        if let AnyModel::Int8(f) = &file {
            anyhow::ensure!(
                self.mean.is_none() && self.std.is_none(),
                "{} is an int8 model, whose normalisation is folded into its integer synapses: \
                 give --mean and --std to `mdpn quantize` of the f32 model instead",
                self.model.display()
            );
            if f.format_version < quantized_file::FORMAT_VERSION {
                eprintln!(
                    "note: {} is an int8 file of format {}; its integer path was derived on \
                     reading. `mdpn quantize {} --out NEW` writes it in format {}",
                    self.model.display(),
                    f.format_version,
                    self.model.display(),
                    quantized_file::FORMAT_VERSION
                );
            }
        }
        self.override_normalisation(file.config_mut())?;
        Ok(file)
    }

    fn override_normalisation(&self, config: &mut Config) -> anyhow::Result<()> {
        config.mean = self.mean.unwrap_or(config.mean);
        config.std = self.std.unwrap_or(config.std);
        Ok(config.validate()?)
    }
}

/// Reads a data set for a model of `cfg`: an image folder at the model's input size and
/// channels; the test images must have the model's shape.
pub fn load_data_for(cfg: &Config, args: &DataArgs) -> anyhow::Result<Loaded> {
    let color = args.color.or(Some(if cfg.channels == 3 {
        Color::Rgb
    } else {
        Color::Gray
    }));
    let data = mdpn_data::datasets::load(
        &DataArgs {
            image_size: Some(cfg.image_size),
            color,
            ..args.clone()
        },
        true,
    )?;
    let test = &data.test;
    anyhow::ensure!(
        (cfg.channels, cfg.image_size) == (test.channels, test.size),
        "the model takes {}x{}x{} images but {} has {}x{}x{}",
        cfg.channels,
        cfg.image_size,
        cfg.image_size,
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
    let mut splits = mdpn_data::datasets::splits(data, protocol, seed)?;
    if let Some(limit) = limit {
        splits.train.indices.truncate(limit);
    }
    Ok((splits, fraction))
}

/// The images `fit` trains, validates and tests on.
pub fn fit_data<'a>(data: &'a Loaded, splits: &'a Splits) -> FitData<'a> {
    FitData {
        train: &data.train,
        test: &data.test,
        splits,
    }
}
