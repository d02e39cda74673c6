//! `mdpn export`: a model as a standard ONNX graph ([`mdpn_onnx`]), or an int8 model as source
//! code for microcontrollers ([`mdpn::micro_export`]): C99, or Rust constants for `mdpn-micro`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mdpn::micro_export::{self, SourceFile};

use super::{AnyModel, ModelArgs};
use mdpn_runs::files::{program, write_atomic};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// ONNX, opset 17: uint8 `image` (N, C, H, W) in, `probabilities` (N, classes) out.
    Onnx,
    /// C99 for a firmware, integers only (int8 models): `mdpn.h` and `mdpn.c` in the folder `--out`.
    C,
    /// Rust constants for the `no_std` crate `mdpn-micro` (int8 models): `mdpn_model.rs` in the
    /// folder `--out`.
    Rust,
}

/// [`mdpn_onnx::Synapses`] as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynapsesArg {
    Tables,
    Formulas,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The model file (f32 or int8) or an authors' state dict; `c` and `rust` take int8 files.
    pub model: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Onnx)]
    pub format: Format,
    /// ONNX: how an f32 model's synapses are computed: `tables` (ln(Y + c) over the 256 pixel
    /// values, looked up: about ten times faster, 1.28 MB more for the default model) or
    /// `formulas` (atan and ln on every window). Int8 models export their QDQ graph of formulas.
    #[arg(long, value_enum)]
    pub synapses: Option<SynapsesArg>,
    /// Output file (onnx) or folder (c, rust; made if missing).
    #[arg(long, short)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = ModelArgs::path(&args.model).load_any()?;
    if args.format != Format::Onnx {
        return export_source(&model, &args);
    }
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

/// Writes the C or Rust source of an int8 model into the folder `args.out`. Every file is made
/// in memory first and then written atomically, so a refused model leaves nothing behind.
fn export_source(model: &AnyModel, args: &Args) -> anyhow::Result<()> {
    let AnyModel::Int8(file) = model else {
        bail!(
            "{} is an f32 model; the microcontroller export takes int8 models, which compute in \
             integers only: run `mdpn quantize {} --out MODEL-int8.safetensors` first and export that",
            args.model.display(),
            args.model.display()
        );
    };
    let about = micro_export::about(file.dataset.as_deref(), &program());
    let files: Vec<SourceFile> = match args.format {
        Format::C => micro_export::c_files(&file.model, &file.class_names, &about),
        Format::Rust => vec![micro_export::rust_file(
            &file.model,
            &file.class_names,
            &about,
        )],
        Format::Onnx => unreachable!("ONNX is written by run"),
    };
    write_folder(&args.out, &files)?;
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    let micro = file.model.micro();
    println!(
        "wrote {} in {}: {} bytes of weights and tables as constants, {} bytes of scratch memory",
        names.join(" and "),
        args.out.display(),
        micro_export::constant_bytes(&file.model),
        micro.shape.scratch_len()
    );
    Ok(())
}

/// Writes `files` into the folder `out`, made if missing.
fn write_folder(out: &Path, files: &[SourceFile]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot make the output folder {}", out.display()))?;
    for f in files {
        write_atomic(&out.join(f.name), f.text.as_bytes())?;
    }
    Ok(())
}
