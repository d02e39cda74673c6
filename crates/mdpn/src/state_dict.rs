//! PyTorch `state_dict`s of the authors' model saved as safetensors: they carry tensors but no
//! settings, so the configuration is inferred from the tensor shapes.

use crate::config::Config;
use crate::error::{Error, Result};

/// Settings a `state_dict` does not carry, for [`load`].
#[derive(Clone, Debug, Default)]
pub struct StateDictOptions {
    /// Image side; by default the smallest one that gives the soma's input width.
    pub image_size: Option<usize>,
    /// Normalisation; by default 0.5 and 0.5, what the authors used for MedMNIST.
    pub mean: Option<f32>,
    pub std: Option<f32>,
    /// Constants the authors' code fixed; the paper's values by default.
    pub k: Option<f32>,
    pub c: Option<f32>,
    pub pool: Option<usize>,
}

/// The configuration of a `state_dict`, from its tensor shapes.
pub(crate) fn infer_config(
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
    options: &StateDictOptions,
) -> Result<Config> {
    let shape = |i: usize| tensors[i].1.as_slice();
    let (channels, dendrites, window) = match *shape(0) {
        [m, k, k2] if k == k2 => (1, m, k),
        [c, 1, 1, m, k, k2] if k == k2 => (c, m, k),
        ref s => {
            return Err(Error::Shape(format!(
                "model.0.params.w has shape {s:?}; expected (M, k, k) for gray or (C, 1, 1, M, k, k) for colour"
            )))
        }
    };
    let (hidden, features) = match *shape(2) {
        [h, f] => (h, f),
        ref s => {
            return Err(Error::Shape(format!(
                "model.2.fc.weight has shape {s:?}, expected 2 dimensions"
            )))
        }
    };
    let classes = match *shape(4) {
        [k, h] if h == hidden => k,
        ref s => {
            return Err(Error::Shape(format!(
                "model.3.fc.weight has shape {s:?}, expected ({{classes}}, {hidden})"
            )))
        }
    };
    let defaults = Config::default();
    let pool = options.pool.unwrap_or(defaults.pool);
    let maps = channels
        .checked_mul(dendrites)
        .filter(|&m| m > 0 && window > 0)
        .ok_or_else(|| {
            Error::Shape(format!(
                "model.0.params.w holds {channels} channel(s) x {dendrites} dendrites of {window}x{window} synapses"
            ))
        })?;
    let side = ((features / maps) as f64).sqrt().round() as usize;
    if side == 0 || side.checked_mul(side).and_then(|s| s.checked_mul(maps)) != Some(features) {
        return Err(Error::Shape(format!(
            "model.2.fc.weight takes {features} inputs, which is not {channels} channel(s) x {dendrites} dendrites x a square pooled map"
        )));
    }
    let image_size = match options.image_size {
        Some(size) => size,
        None => side
            .checked_mul(pool)
            .and_then(|s| s.checked_add(window - 1))
            .ok_or_else(|| Error::Config(format!("pool {pool} is too large")))?,
    };
    let config = Config {
        channels,
        image_size,
        dendrites,
        window,
        k: options.k.unwrap_or(defaults.k),
        c: options.c.unwrap_or(defaults.c),
        pool,
        hidden,
        classes,
        mean: options.mean.unwrap_or(0.5),
        std: options.std.unwrap_or(0.5),
        ..defaults
    };
    if config.pooled_side() != side {
        return Err(Error::Shape(format!(
            "image size {image_size} gives a {0}x{0} pooled map, but model.2.fc.weight expects {side}x{side}",
            config.pooled_side()
        )));
    }
    Ok(config)
}
