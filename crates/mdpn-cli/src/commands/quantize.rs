//! `mdpn quantize`: an f32 model becomes an int8 model file ([`mdpn::quantized`]; a study's
//! baselines, [`mdpn::baselines::quantized`]), its activations calibrated on training images;
//! an int8 file of an older format is rewritten in the current one.

use std::path::PathBuf;

use anyhow::{bail, Context};
use mdpn::baselines::baseline_file::{self, AnyBaseline};
use mdpn::quantize::{quantize, quantize_baseline, CALIBRATION_IMAGES};
use mdpn::quantized::WeightBits;
use mdpn::quantized_file;
use mdpn_data::datasets::{DataArgs, Loaded};
use mdpn_data::for_model::{load_data_for, load_data_for_baseline};

use super::{AnyModel, ModelArgs};
use mdpn_runs::files::{program, write_atomic};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The f32 model file (`mdpn train` output), an authors' state dict, or a baseline's (the
    /// MLP or CNN of a study run); or an int8 file of an older format, to rewrite in the
    /// current one.
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
    /// Bits of the hidden layers' weights: 8, or 4 (two to a byte in the file: half the bytes
    /// of MDPN's soma, of every baseline layer but the last). The output layer keeps 8.
    #[arg(long, default_value_t = 8, value_parser = parse_bits)]
    pub weight_bits: u32,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = ModelArgs::path(&args.model);
    let bytes = model.read()?;
    if baseline_file::is_baseline(&bytes) {
        return quantize_a_baseline(&args, &bytes);
    }
    let file = match model.load_any_from(&bytes)? {
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
    let data = load_data_for(&file.model.config, &args.data)?;
    let images = calibration(&args, &data)?;
    let out = quantize(&file, images, &source(&data), program(), bits(&args)?)?;
    let what = format!("int{} soma and int8 axon", args.weight_bits);
    write(&args, &quantized_file::save(&out)?, &what, images, &data)
}

/// The words the file records for its calibration images.
fn source(data: &Loaded) -> String {
    format!("training images of {}", data.name)
}

fn bits(args: &Args) -> anyhow::Result<WeightBits> {
    Ok(WeightBits::from_count(args.weight_bits)?)
}

/// Writes the quantized file `bytes` and says what it holds.
fn write(
    args: &Args,
    bytes: &[u8],
    what: &str,
    images: &[u8],
    data: &Loaded,
) -> anyhow::Result<()> {
    write_atomic(&args.out, bytes)?;
    println!(
        "wrote {} ({} bytes): integers from pixel to score, {what}, activations calibrated on {} training images of {}",
        args.out.display(),
        bytes.len(),
        images.len() / data.train.image_len(),
        data.name
    );
    Ok(())
}

/// `--weight-bits`: 4 or 8.
fn parse_bits(s: &str) -> Result<u32, String> {
    let bits: u32 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bits"))?;
    WeightBits::from_count(bits)
        .map(WeightBits::count)
        .map_err(|e| e.to_string())
}

/// The first `--calibration-images` training images of `data`.
fn calibration<'a>(args: &Args, data: &'a Loaded) -> anyhow::Result<&'a [u8]> {
    let n = args.calibration_images.min(data.train.len());
    anyhow::ensure!(n > 0, "--calibration-images must be at least 1");
    Ok(data.train.first_images(n))
}

/// `mdpn quantize` of an MLP or CNN file (a study's baseline run): its int8 model, quantized
/// as MDPN's soma and axon are.
fn quantize_a_baseline(args: &Args, bytes: &[u8]) -> anyhow::Result<()> {
    let path = args.model.display();
    let file = match baseline_file::load(bytes)
        .with_context(|| format!("cannot load model {path}"))?
    {
        AnyBaseline::F32(file) => file,
        AnyBaseline::Int8(_) => bail!("{path} is an int8 baseline already; quantize its f32 model"),
    };
    let arch = file.model.architecture();
    let data = load_data_for_baseline(&arch, &args.data)?;
    let images = calibration(args, &data)?;
    let out = quantize_baseline(&file, images, &source(&data), program(), bits(args)?)?;
    let what = format!(
        "the {} with int{} weights (int8 in the last layer)",
        arch.kind(),
        args.weight_bits
    );
    write(args, &baseline_file::save_int8(&out)?, &what, images, &data)
}
