//! Baselines that a study trains next to MDPN, the same way on the same data, so that the
//! comparison is fair: a multilayer perceptron ([`Mlp`]) and a small LeNet-style CNN ([`Cnn`]).
//! Both are built from [`Linear`](crate::layers::linear::Linear) layers on the same sgemm as MDPN's soma
//! and axon; a convolution is a linear layer over image patches (im2col).

pub mod baseline_file;
mod cnn;
mod mlp;
pub mod quantized;

pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};

use crate::error::{Error, Result};
use crate::evaluation::Classifier;
use crate::input::Images;
use crate::layers::linear::Linear;
use crate::trainable::Network;

/// The shape of a baseline of either kind, as its files record it (`network` and `config`).
#[derive(Clone, Debug, PartialEq)]
pub enum Architecture {
    Mlp(MlpConfig),
    Cnn(CnnConfig),
}

impl Architecture {
    /// `mlp` or `cnn`, as [`Network::kind`] names them.
    pub fn kind(&self) -> &'static str {
        match self {
            Architecture::Mlp(_) => "mlp",
            Architecture::Cnn(_) => "cnn",
        }
    }

    /// The architecture of `kind` from its configuration's JSON, or an error naming the kind.
    pub fn from_json(kind: &str, config: &str) -> Result<Architecture> {
        let bad = |e: serde_json::Error| {
            Error::Format(format!("the {kind} configuration is invalid: {e}"))
        };
        match kind {
            "mlp" => Ok(Architecture::Mlp(
                serde_json::from_str(config).map_err(bad)?,
            )),
            "cnn" => Ok(Architecture::Cnn(
                serde_json::from_str(config).map_err(bad)?,
            )),
            other => Err(Error::Format(format!(
                "the network is `{other}`, expected a baseline: mlp or cnn"
            ))),
        }
    }

    /// Weights and biases of the network, counted before any is allocated.
    pub fn parameter_count(&self) -> usize {
        parameters_of(&self.layer_shapes())
    }

    /// Values of one input image (channels × side × side).
    pub fn image_len(&self) -> usize {
        match self {
            Architecture::Mlp(c) => c.inputs,
            Architecture::Cnn(c) => c.channels.saturating_mul(c.image_size.saturating_pow(2)),
        }
    }

    /// The input normalisation `(mean, std)`: `x = (u8/255 - mean) / std`.
    pub fn normalisation(&self) -> (f32, f32) {
        match self {
            Architecture::Mlp(c) => (c.mean, c.std),
            Architecture::Cnn(c) => (c.mean, c.std),
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            Architecture::Mlp(c) => c.classes,
            Architecture::Cnn(c) => c.classes,
        }
    }

    /// `(inputs, outputs)` of every layer, in order (a CNN's convolutions first).
    pub fn layer_shapes(&self) -> Vec<(usize, usize)> {
        match self {
            Architecture::Mlp(c) => c.widths().windows(2).map(|w| (w[0], w[1])).collect(),
            Architecture::Cnn(c) => c.layer_shapes(),
        }
    }

    /// A network of this shape with `layers` (checked against it) as its parameters.
    pub fn with_layers(&self, layers: Vec<Linear>) -> Result<Baseline> {
        let have: Vec<_> = layers.iter().map(|l| (l.inputs, l.outputs)).collect();
        if have != self.layer_shapes() {
            return Err(Error::Shape(format!(
                "layers of (inputs, outputs) {have:?} do not fit the {}'s {:?}",
                self.kind(),
                self.layer_shapes()
            )));
        }
        Ok(match self {
            Architecture::Mlp(c) => Baseline::Mlp(Mlp {
                layers,
                ..Mlp::new(c.clone(), 0)?
            }),
            Architecture::Cnn(c) => Baseline::Cnn(Cnn {
                layers,
                ..Cnn::new(c.clone(), 0)?
            }),
        })
    }
}

/// A baseline network of either kind: what a baseline model file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Baseline {
    Mlp(Mlp),
    Cnn(Cnn),
}

impl Baseline {
    pub fn architecture(&self) -> Architecture {
        match self {
            Baseline::Mlp(m) => Architecture::Mlp(m.config.clone()),
            Baseline::Cnn(m) => Architecture::Cnn(m.config.clone()),
        }
    }

    /// Its layers in order (a CNN's convolutions first): [`Network::params`], whose tensors
    /// the files store.
    pub fn layers(&self) -> &Vec<Linear> {
        match self {
            Baseline::Mlp(m) => &m.layers,
            Baseline::Cnn(m) => &m.layers,
        }
    }

    /// The network, to evaluate.
    pub fn classifier(&self) -> &dyn Classifier {
        match self {
            Baseline::Mlp(m) => m,
            Baseline::Cnn(m) => m,
        }
    }

    pub fn parameter_count(&self) -> usize {
        match self {
            Baseline::Mlp(m) => m.parameter_count(),
            Baseline::Cnn(m) => m.parameter_count(),
        }
    }
}

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

/// Weights and biases of layers of these `(inputs, outputs)`, saturating: a configuration read
/// from a file may claim any widths.
fn parameters_of(shapes: &[(usize, usize)]) -> usize {
    shapes
        .iter()
        .map(|&(inputs, outputs)| outputs.saturating_mul(inputs.saturating_add(1)))
        .fold(0, usize::saturating_add)
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
