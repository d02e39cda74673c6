//! `mdpn quantize`: an f32 model becomes an int8 model file ([`mdpn::quantized`]), its
//! activations calibrated on training images; an int8 file of an older format is rewritten in
//! the current one.

use std::path::PathBuf;

use anyhow::bail;
use mdpn::model_file::ModelFile;
use mdpn::quantized::{calibrate, QuantizedMdpn};
use mdpn::quantized_file::{self, QuantizedFile};
use mdpn::Dataset;

use super::{AnyModel, ModelArgs};
use crate::datasets::{self, Color, DataArgs};
use crate::files::{program, write_atomic};

/// Training images that calibrate the activations unless told otherwise.
pub const CALIBRATION_IMAGES: usize = 10_000;

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
    let out = quantize(&file, train, &data.name, args.calibration_images)?;
    let bytes = quantized_file::save(&out)?;
    write_atomic(&args.out, &bytes)?;
    println!(
        "wrote {} ({} bytes): integers from pixel to score, int8 soma and axon, activations calibrated on {} training images of {}",
        args.out.display(),
        bytes.len(),
        args.calibration_images.min(train.len()),
        data.name
    );
    Ok(())
}

/// The int8 model of an f32 model file, its activations calibrated on the first `images`
/// training images of `train` (a data set named `name`). `mdpn study` quantizes its models so.
pub fn quantize(
    file: &ModelFile,
    train: &Dataset,
    name: &str,
    images: usize,
) -> anyhow::Result<QuantizedFile> {
    let n = images.min(train.len());
    if n == 0 {
        bail!("--calibration-images must be at least 1");
    }
    let image_len = file.model.config.image_len();
    let calibration = calibrate(&file.model, &train.images[..n * image_len])?;
    let model = QuantizedMdpn::new(&file.model, &calibration)?;
    let quantization = format!(
        "soma and axon weights int8, symmetric, one scale per output row; their inputs uint8, one \
         scale and zero point per tensor, covering the range over the first {n} training images of {name} \
         (membrane {:?}, soma {:?}); synapses in fixed point (2^-{} of z), a table of {} entries of \
         ln(Y + c) in 2^-{}; integers only from pixel to score",
        calibration.membrane,
        calibration.hidden,
        model.integer.synapses.z_frac,
        model.integer.synapses.table.len(),
        model.integer.synapses.ln_frac
    );
    Ok(QuantizedFile {
        model,
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program: program(),
        quantization,
        format_version: quantized_file::FORMAT_VERSION,
    })
}
