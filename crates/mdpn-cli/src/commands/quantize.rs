//! `mdpn quantize`: an f32 model becomes an int8 model file ([`mdpn::quantized`]), its
//! activations calibrated on training images; an int8 file of an older format is rewritten in
//! the current one.

use std::path::PathBuf;

use anyhow::bail;
use mdpn::quantize::{quantize, CALIBRATION_IMAGES};
use mdpn::quantized_file;
use mdpn_data::datasets::{self, Color, DataArgs};

use super::{AnyModel, ModelArgs};
use mdpn_runs::files::{program, write_atomic};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The f32 model file (`mdpn train` output) or an authors' state dict; or an int8 file of an
    /// older format, to rewrite in the current one.
    pub model: PathBuf,
    /// Output int8 model file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Data set whose training images calibrate the activations' ranges.
    #[command(flatten)]
    pub data: DataArgs,
    /// How many training images (the first ones) calibrate the activations.
    #[arg(long, default_value_t = CALIBRATION_IMAGES)]
    pub calibration_images: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = match ModelArgs::path(&args.model).load_any()? {
        AnyModel::F32(file) => file,
        AnyModel::Int8(mut file) => {
            let from = file.format_version;
            file.format_version = quantized_file::FORMAT_VERSION;
            let bytes = quantized_file::save(&file)?;
            write_atomic(&args.out, &bytes)?;
            println!(
                "wrote {} ({} bytes): the int8 model of {} (format {from}) in format {}",
                args.out.display(),
                bytes.len(),
                args.model.display(),
                quantized_file::FORMAT_VERSION
            );
            return Ok(());
        }
    };
    let cfg = &file.model.config;
    let color = args.data.color.or(Some(if cfg.channels == 3 {
        Color::Rgb
    } else {
        Color::Gray
    }));
    let data = datasets::load(
        &DataArgs {
            image_size: Some(cfg.image_size),
            color,
            ..args.data.clone()
        },
        true,
    )?;
    let train = &data.train;
    if (cfg.channels, cfg.image_size) != (train.channels, train.size) {
        bail!(
            "the model takes {}x{}x{} images but {} has {}x{}x{}",
            cfg.channels,
            cfg.image_size,
            cfg.image_size,
            data.name,
            train.channels,
            train.size,
            train.size
        );
    }
    let n = args.calibration_images.min(train.len());
    anyhow::ensure!(n > 0, "--calibration-images must be at least 1");
    let out = quantize(
        &file,
        train.first_images(n),
        &format!("training images of {}", data.name),
        program(),
    )?;
    let bytes = quantized_file::save(&out)?;
    write_atomic(&args.out, &bytes)?;
    println!(
        "wrote {} ({} bytes): integers from pixel to score, int8 soma and axon, activations calibrated on {} training images of {}",
        args.out.display(),
        bytes.len(),
        n,
        data.name
    );
    Ok(())
}
