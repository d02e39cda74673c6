//! One module per subcommand.

pub mod bench;
pub mod datasets;
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

use std::path::PathBuf;

use anyhow::Context;
use mdpn::evaluation::Classifier;
use mdpn::kernels::lut::Tables;
use mdpn::model_file::ModelFile;
use mdpn::quantized_file::{self, QuantizedFile};
use mdpn::state_dict::StateDictOptions;
use mdpn::{Config, Images, KernelChoice};

use crate::datasets::{Color, DataArgs, Loaded};

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
        if quantized_file::is_int8(&bytes) {
            let mut file = quantized_file::load(&bytes)
                .with_context(|| format!("cannot load int8 model {}", self.model.display()))?;
            self.override_normalisation(&mut file.model.config)?;
            return Ok(AnyModel::Int8(file));
        }
        let options = StateDictOptions {
            image_size: self.image_size,
            mean: self.mean,
            std: self.std,
            ..Default::default()
        };
        let mut file = crate::files::read_model(&self.model, &options)?;
        self.override_normalisation(&mut file.model.config)?;
        Ok(AnyModel::F32(file))
    }

    fn override_normalisation(&self, config: &mut Config) -> anyhow::Result<()> {
        config.mean = self.mean.unwrap_or(config.mean);
        config.std = self.std.unwrap_or(config.std);
        Ok(config.validate()?)
    }
}

/// A model file of either precision, for the commands that run models (eval, predict, bench).
pub enum AnyModel {
    F32(ModelFile),
    Int8(QuantizedFile),
}

impl AnyModel {
    pub fn config(&self) -> &Config {
        match self {
            AnyModel::F32(f) => &f.model.config,
            AnyModel::Int8(f) => &f.model.config,
        }
    }

    pub fn class_names(&self) -> &[String] {
        match self {
            AnyModel::F32(f) => &f.class_names,
            AnyModel::Int8(f) => &f.class_names,
        }
    }

    /// The model as evaluation takes it.
    pub fn classifier(&self) -> &dyn Classifier {
        match self {
            AnyModel::F32(f) => &f.model,
            AnyModel::Int8(f) => &f.model,
        }
    }

    /// Tables of the 8-bit dendrite kernel, to build once for many batches.
    pub fn tables(&self) -> Tables<'_> {
        match self {
            AnyModel::F32(f) => f.model.tables(),
            AnyModel::Int8(f) => f.model.tables(),
        }
    }

    /// Logits `(B, classes)` of a batch of 8-bit images, on the 8-bit kernel.
    pub fn logits(&self, images: &[u8], tables: &Tables) -> mdpn::Result<Vec<f32>> {
        let (images, fast) = (Images::U8(images), KernelChoice::Fast);
        match self {
            AnyModel::F32(f) => Ok(f.model.forward(images, fast, Some(tables))?.logits),
            AnyModel::Int8(f) => f.model.logits(images, fast, Some(tables)),
        }
    }

    /// Class probabilities `(B, classes)` of a batch of 8-bit images.
    pub fn probabilities(&self, images: &[u8]) -> mdpn::Result<Vec<f32>> {
        let (images, fast) = (Images::U8(images), KernelChoice::Fast);
        match self {
            AnyModel::F32(f) => f.model.probabilities(images, fast),
            AnyModel::Int8(f) => f.model.probabilities(images, fast),
        }
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
    let data = crate::datasets::load(
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

/// The membrane outputs `(N, features)` of the images of `data` at `indices`, with their labels,
/// through the 8-bit kernel in batches.
pub fn membranes(
    model: &mdpn::Mdpn,
    data: &mdpn::Dataset,
    indices: &[usize],
) -> anyhow::Result<(Vec<f32>, Vec<u32>)> {
    let tables = model.tables();
    let (mut membrane, mut labels) = (Vec::new(), Vec::new());
    let (mut images, mut batch_labels) = (Vec::new(), Vec::new());
    for chunk in indices.chunks(256) {
        data.batch(chunk, &mut images, &mut batch_labels);
        let fwd = model.forward(
            mdpn::Images::U8(&images),
            mdpn::KernelChoice::Fast,
            Some(&tables),
        )?;
        membrane.extend_from_slice(&fwd.membrane);
        labels.extend_from_slice(&batch_labels);
    }
    Ok((membrane, labels))
}
