//! One module per subcommand.

pub mod bench;
pub mod datasets;
pub mod download;
pub mod eval;
pub mod import;
pub mod predict;
pub mod report;
pub mod study;
pub mod train;

use std::path::PathBuf;

use mdpn::model_file::ModelFile;
use mdpn::state_dict::StateDictOptions;

/// A model to load: our model file or an authors' PyTorch state dict.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model file (`mdpn train` output) or PyTorch state dict saved as safetensors.
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
    /// Loads the model; `--mean` and `--std`, when given, override what the file says.
    pub fn load(&self) -> anyhow::Result<ModelFile> {
        let options = StateDictOptions {
            image_size: self.image_size,
            mean: self.mean,
            std: self.std,
            ..Default::default()
        };
        let mut file = crate::files::read_model(&self.model, &options)?;
        let config = &mut file.model.config;
        config.mean = self.mean.unwrap_or(config.mean);
        config.std = self.std.unwrap_or(config.std);
        config.validate()?;
        Ok(file)
    }
}
