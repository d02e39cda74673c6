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

/// [`mdpn_onnx::Synapses`] as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynapsesArg {
    Tables,
    Formulas,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The model file (f32 or int8) or an authors' state dict.
    pub model: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Onnx)]
    pub format: Format,
    /// How an f32 model's synapses are computed: `tables` (ln(Y + c) over the 256 pixel values,
    /// looked up: about ten times faster, 1.28 MB more for the default model) or `formulas`
    /// (atan and ln on every window). Int8 models export their QDQ graph of formulas.
    #[arg(long, value_enum)]
    pub synapses: Option<SynapsesArg>,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = ModelArgs::path(&args.model).load_any()?;
    let Format::Onnx = args.format;
    let bytes = match &model {
        AnyModel::F32(f) => {
            let synapses = match args.synapses {
                Some(SynapsesArg::Formulas) => mdpn_onnx::Synapses::Formulas,
                Some(SynapsesArg::Tables) | None => mdpn_onnx::Synapses::Tables,
            };
            mdpn_onnx::export(&f.model, synapses, &program())?
        }
        AnyModel::Int8(f) => {
            if let Some(SynapsesArg::Tables) = args.synapses {
                anyhow::bail!(
                    "--synapses tables is for f32 models; an int8 model exports its QDQ graph of formulas"
                );
            }
            mdpn_onnx::export_int8(&f.model, &program())?
        }
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
