//! Baselines that a study trains next to MDPN, the same way on the same data, so that the
//! comparison is fair: a multilayer perceptron ([`Mlp`]) and a small LeNet-style CNN ([`Cnn`]).
//! Both are built from [`Linear`](crate::layers::linear::Linear) layers on the same sgemm as MDPN's soma
//! and axon; a convolution is a linear layer over image patches (im2col).

mod cnn;
mod mlp;

pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};

use crate::error::{Error, Result};
use crate::input::Images;

/// Normalised float images from a batch, checked to be whole images with one valid label each.
fn inputs(
    images: Images,
    image_len: usize,
    labels: Option<&[u32]>,
    classes: usize,
    (mean, std): (f32, f32),
) -> Result<Vec<f32>> {
    let x = match images {
        Images::U8(x) => x.iter().map(|&v| (v as f32 / 255.0 - mean) / std).collect(),
        Images::F32(x) => x.to_vec(),
    };
    if !x.len().is_multiple_of(image_len) {
        return Err(Error::Shape(format!(
            "{} input values are not a whole number of images of {image_len} values",
            x.len()
        )));
    }
    if let Some(labels) = labels {
        if labels.len() * image_len != x.len() {
            return Err(Error::Shape(format!(
                "{} images but {} labels",
                x.len() / image_len,
                labels.len()
            )));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::Shape(format!(
                "label {bad} is out of range for {classes} classes"
            )));
        }
    }
    Ok(x)
}

/// Sets negative values to zero.
fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// Zeroes the gradient `d` where the ReLU output `y` was not positive.
fn relu_backward(d: &mut [f32], y: &[f32]) {
    for (g, &v) in d.iter_mut().zip(y) {
        if v <= 0.0 {
            *g = 0.0;
        }
    }
}

/// Checks the normalisation constants shared by both baselines.
fn check_normalisation(mean: f32, std: f32) -> Result<()> {
    if mean.is_finite() && std.is_finite() && std > 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "normalisation needs a finite mean and a positive std, got mean={mean} std={std}"
        )))
    }
}
