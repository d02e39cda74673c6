//! `mdpn import`: a PyTorch state dict of the authors' model becomes an mdpn model file.

use std::path::PathBuf;

use anyhow::bail;
use mdpn_data::FASHION_MNIST_CLASSES;

use super::ModelArgs;
use mdpn_runs::files::{program, write_model};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output model file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Class names, comma-separated, in label order.
    #[arg(long, value_delimiter = ',')]
    pub class_names: Option<Vec<String>>,
    /// Data set the model was trained on; fashion-mnist also sets its class names.
    #[arg(long)]
    pub dataset: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut file = args.model.load()?;
    let classes = file.model.config.classes;
    if let Some(names) = args.class_names {
        if names.len() != classes {
            bail!(
                "--class-names gives {} names but the model has {classes} classes",
                names.len()
            );
        }
        file.class_names = names;
    } else if args.dataset.as_deref() == Some("fashion-mnist")
        && classes == FASHION_MNIST_CLASSES.len()
    {
        file.class_names = FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    if args.dataset.is_some() {
        file.dataset = args.dataset;
    }
    file.program = program();
    write_model(&args.out, &file)?;
    let c = &file.model.config;
    println!(
        "wrote {}: {} channel(s), {}x{} images, {} dendrites, hidden {}, {} classes, mean {} std {}",
        args.out.display(),
        c.channels,
        c.image_size,
        c.image_size,
        c.dendrites,
        c.hidden,
        c.classes,
        c.mean,
        c.std
    );
    Ok(())
}
