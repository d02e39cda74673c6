//! `mdpn predict`: classify image files.

use std::path::PathBuf;

use anyhow::Context;
use mdpn_data::datasets::decode_image;
use mdpn_data::decoded_image::planes;
use serde_json::json;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// PNG or JPEG files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Classes to show per image.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// Print one JSON object per image (file, probabilities in class order, top classes).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = args.model.load_any()?;
    let cfg = file.config();
    let side = cfg.image_size as u32;
    for path in &args.images {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let img = decode_image(&bytes)
            .with_context(|| format!("{} is not a readable PNG or JPEG image", path.display()))?;
        let (w, h) = (img.width(), img.height());
        let resized = (w, h) != (side, side);
        let pixels = planes(img, side, cfg.channels);
        if pixels.len() != cfg.image_len() {
            anyhow::bail!(
                "the model takes {} channels; {} cannot be converted to them",
                cfg.channels,
                path.display()
            );
        }
        let probs = file.probabilities(&pixels)?;
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let top = &order[..args.top_k.min(order.len())];
        if args.json {
            let top: Vec<_> = top
                .iter()
                .map(|&c| json!({"class": c, "name": file.class_names()[c], "probability": probs[c]}))
                .collect();
            let resized_from = resized.then_some([w, h]);
            println!(
                "{}",
                json!({"file": path.display().to_string(), "probabilities": probs, "top": top, "resized_from": resized_from})
            );
        } else {
            let note = if resized {
                format!(" (resized from {w}x{h} to {side}x{side})")
            } else {
                String::new()
            };
            println!("{}{note}", path.display());
            for &c in top {
                println!(
                    "  {:>6.2}%  {} ({c})",
                    100.0 * probs[c],
                    file.class_names()[c]
                );
            }
        }
    }
    Ok(())
}
