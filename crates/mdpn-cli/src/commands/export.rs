//! `mdpn export`: a model (f32 or int8) as a standard ONNX graph ([`mdpn_onnx`]).

use std::path::PathBuf;

use super::{AnyModel, ModelArgs};
use crate::files::{program, write_atomic};

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// ONNX, opset 17: uint8 `image` (N, C, H, W) in, `probabilities` (N, classes) out.
    Onnx,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The model file (f32 or int8) or an authors' state dict.
    pub model: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Onnx)]
    pub format: Format,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = ModelArgs::path(&args.model).load_any()?;
    let Format::Onnx = args.format;
    let bytes = match &model {
        AnyModel::F32(f) => mdpn_onnx::export(&f.model, &program())?,
        AnyModel::Int8(f) => mdpn_onnx::export_int8(&f.model, &program())?,
    };
    write_atomic(&args.out, &bytes)?;
    let cfg = model.config();
    println!(
        "wrote {} (ONNX opset {}): input `image` uint8 (N, {}, {}, {}), output `probabilities` (N, {})",
        args.out.display(),
        mdpn_onnx::OPSET,
        cfg.channels,
        cfg.image_size,
        cfg.image_size,
        cfg.classes
    );
    Ok(())
}
