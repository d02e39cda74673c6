//! A model to load from a file: our model files (f32 or int8) or an authors' PyTorch state
//! dict, with what a state dict does not say and normalisation overrides. Every command that
//! takes a model, and Python's `mdpn.load`, read it through here.

use std::path::PathBuf;

use anyhow::Context;
use mdpn::any_model::AnyModel;
use mdpn::model_file::ModelFile;
use mdpn::quantized_file;
use mdpn::state_dict::StateDictOptions;
use mdpn::Config;

/// A model to load: our model file or an authors' PyTorch state dict.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ModelArgs {
    /// Model file (`mdpn train` or `mdpn quantize` output) or PyTorch state dict saved as
    /// safetensors.
    #[cfg_attr(feature = "clap", arg(long))]
    pub model: PathBuf,
    /// Image side for a state dict (default: the smallest that fits its soma layer).
    #[cfg_attr(feature = "clap", arg(long))]
    pub image_size: Option<usize>,
    /// Normalisation mean (a state dict carries none: default 0.5).
    #[cfg_attr(feature = "clap", arg(long))]
    pub mean: Option<f32>,
    /// Normalisation standard deviation (a state dict carries none: default 0.5).
    #[cfg_attr(feature = "clap", arg(long))]
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
        self.load_any_from(&self.read()?)
    }

    /// The model file's bytes, for a caller that looks at them before [`Self::load_any_from`]
    /// (to tell a baseline's file apart).
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.model)
            .with_context(|| format!("cannot read model file {}", self.model.display()))
    }

    /// [`Self::load_any`] of the file's `bytes`, already read.
    pub fn load_any_from(&self, bytes: &[u8]) -> anyhow::Result<AnyModel> {
        let options = StateDictOptions {
            image_size: self.image_size,
            mean: self.mean,
            std: self.std,
            ..Default::default()
        };
        let mut file = AnyModel::load(bytes, &options)
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
