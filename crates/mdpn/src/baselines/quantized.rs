//! The baselines in int8, quantized as MDPN's soma and axon are ([`crate::quantized`]), so that
//! accuracy per byte compares like with like: every layer's weights int8 with one scale per
//! output row, its input uint8 with one scale and zero point covering the range it takes on
//! calibration images, its integer sums requantised in fixed point to the next layer's input
//! ([`mdpn_micro::Layer`]). Integers from pixel to score: a convolution is an integer product of
//! uint8 patches (padded with the input's zero point, the code of 0) and its 2×2 max pool is
//! taken on the uint8 codes, which requantisation keeps in order.

use mdpn_micro as micro;

use super::cnn::{im2col, max_pool};
use super::{inputs, Architecture, Baseline};
use crate::config::Task;
use crate::error::{Error, Result};
use crate::evaluation::Classifier;
use crate::input::{Images, KernelChoice};
use crate::integer::FixedScale;
use crate::layers::linear::Linear;
use crate::parallel;
use crate::quantized::{
    hidden_u8, int8_predictor, logits_of, micro_layer, output_scores, ActivationQuant,
    QuantizedLinear, WeightBits,
};

/// An int8 MLP or LeNet-style CNN.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedBaseline {
    pub architecture: Architecture,
    /// Its layers in the order of [`Baseline::layers`].
    pub layers: Vec<QuantizedLinear>,
    /// Per layer: the bias and the input's zero point folded into the sums
    /// ([`QuantizedLinear::integer_offsets`]), and the scale from the sums to the next layer's
    /// uint8 input (for the last layer: to scores, the logits times `2^SCORE_FRAC`).
    offsets: Vec<Vec<i32>>,
    scales: Vec<FixedScale>,
    /// The first layer's uint8 input of each pixel value.
    pixels: Vec<u8>,
}

/// Images per calibration batch.
const CALIBRATION_BATCH: usize = 256;
/// Images per task of [`QuantizedBaseline::scores`].
const ROWS_PER_TASK: usize = 16;

/// The smallest and largest input of every layer of `model` over `images` (8-bit, one after
/// another); for a convolution, over its patches.
pub fn calibrate(model: &Baseline, images: &[u8]) -> Result<Vec<(f32, f32)>> {
    let arch = model.architecture();
    let len = arch.image_len();
    if images.is_empty() || !images.len().is_multiple_of(len) {
        return Err(Error::Shape(format!(
            "calibration needs at least one image of {len} pixels; got {} values",
            images.len()
        )));
    }
    let mut ranges = vec![(f32::INFINITY, f32::NEG_INFINITY); model.layers().len()];
    let widen = |(lo, hi): &mut (f32, f32), values: &[f32]| {
        for &v in values {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    };
    for batch in images.chunks(CALIBRATION_BATCH * len) {
        let x = inputs(
            Images::U8(batch),
            len,
            None,
            arch.classes(),
            arch.normalisation(),
        )?;
        let layer_inputs = match model {
            Baseline::Mlp(m) => m.forward(x),
            Baseline::Cnn(m) => {
                let mut trace = m.forward(x);
                trace.patches.append(&mut trace.acts);
                trace.patches
            }
        };
        for (range, values) in ranges.iter_mut().zip(&layer_inputs) {
            widen(range, values);
        }
    }
    Ok(ranges)
}

impl QuantizedBaseline {
    /// The int8 model of `model`, every layer's input quantized over its range on `images`
    /// (8-bit training images, one after another), the weights of every layer but the last (the
    /// classifier, which keeps 8) of `hidden_bits`.
    pub fn new(
        model: &Baseline,
        images: &[u8],
        hidden_bits: WeightBits,
    ) -> Result<QuantizedBaseline> {
        let ranges = calibrate(model, images)?;
        let last = model.layers().len() - 1;
        let layers = model
            .layers()
            .iter()
            .zip(ranges)
            .enumerate()
            .map(|(i, (layer, (lo, hi)))| {
                let bits = if i < last {
                    hidden_bits
                } else {
                    WeightBits::Eight
                };
                QuantizedLinear::with_bits(layer, ActivationQuant::covering(lo, hi), bits)
            })
            .collect();
        QuantizedBaseline::from_parts(model.architecture(), layers)
    }

    /// The model of these int8 layers, its fixed-point numbers derived from their scales: from
    /// a quantized f32 network, or as an int8 baseline file holds it.
    pub fn from_parts(
        architecture: Architecture,
        layers: Vec<QuantizedLinear>,
    ) -> Result<QuantizedBaseline> {
        // The f32 network of these shapes checks them against the architecture.
        let shapes = layers
            .iter()
            .map(|l| Linear::zeros(l.inputs, l.outputs))
            .collect();
        architecture.with_layers(shapes)?;
        let scores = 2f64.powi(micro::SCORE_FRAC as i32);
        let mut scales = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let to = match layers.get(i + 1) {
                Some(next) => 1.0 / next.input.scale as f64,
                None => scores,
            };
            let real: Vec<f64> = layer.sum_scales().iter().map(|s| s * to).collect();
            scales.push(FixedScale::new(&real, &format!("layer {i}"))?);
        }
        let offsets = layers
            .iter()
            .map(QuantizedLinear::integer_offsets)
            .collect::<Result<_>>()?;
        let (mean, std) = architecture.normalisation();
        // Every architecture has a layer, and `with_layers` checked these against it.
        let first = layers[0].input;
        let pixels = (0..=255u8)
            .map(|v| first.quantize((v as f32 / 255.0 - mean) / std))
            .collect();
        Ok(QuantizedBaseline {
            architecture,
            layers,
            offsets,
            scales,
            pixels,
        })
    }

    /// Layer `i` as [`mdpn_micro`] computes it: its output's zero point is the next layer's
    /// input's (none for the last).
    pub fn micro_layer(&self, i: usize) -> micro::Layer<'_> {
        let zero_point = self.layers.get(i + 1).map_or(0, |l| l.input.zero_point);
        micro_layer(
            &self.layers[i],
            &self.offsets[i],
            &self.scales[i],
            zero_point,
        )
    }

    /// The first layer's uint8 input of pixel value `v`.
    pub fn pixel(&self, v: u8) -> u8 {
        self.pixels[v as usize]
    }

    /// Hidden layer `i` on uint8 inputs `(n, inputs)`: its uint8 outputs after ReLU.
    fn hidden(&self, i: usize, u: &[u8]) -> Vec<u8> {
        hidden_u8(&self.layers[i], &self.micro_layer(i), u)
    }

    /// Scores `(B, classes)` of a batch of 8-bit images `(B, C, H, W)`: the logits times
    /// `2^SCORE_FRAC`, in integers, in tasks of [`ROWS_PER_TASK`] images run in parallel.
    pub fn scores(&self, images: &[u8]) -> Result<Vec<i32>> {
        let len = self.architecture.image_len();
        let classes = self.architecture.classes();
        if !images.len().is_multiple_of(len) {
            return Err(Error::Shape(format!(
                "{} pixels are not a whole number of images of {len}",
                images.len()
            )));
        }
        let last = self.layers.len() - 1;
        let mut scores = vec![0i32; images.len() / len * classes];
        parallel::for_each_chunk(&mut scores, ROWS_PER_TASK * classes, |task, scores| {
            let n = scores.len() / classes;
            let batch = &images[task * ROWS_PER_TASK * len..][..n * len];
            let mut u: Vec<u8> = batch.iter().map(|&v| self.pixel(v)).collect();
            let mut fc = 0;
            if let Architecture::Cnn(config) = &self.architecture {
                u = config.channels_last(u);
                for (i, s) in config.convs().iter().enumerate() {
                    let zero = self.layers[i].input.zero_point;
                    let y = self.hidden(i, &im2col(&u, s, config.kernel, zero));
                    u = max_pool(&y, s.conv_side, s.cout).0;
                }
                fc = config.convs().len();
            }
            for i in fc..last {
                u = self.hidden(i, &u);
            }
            output_scores(&self.layers[last], &self.micro_layer(last), &u, scores);
        });
        Ok(scores)
    }

    /// Logits `(B, classes)` of a batch of 8-bit images: the [`Self::scores`] as floats.
    pub fn logits(&self, images: &[u8]) -> Result<Vec<f32>> {
        Ok(logits_of(self.scores(images)?))
    }
}

impl Classifier for QuantizedBaseline {
    fn classes(&self) -> usize {
        self.architecture.classes()
    }
    fn task(&self) -> Task {
        Task::MultiClass
    }
    /// The integer path, whatever kernel is asked for.
    fn predictor(
        &self,
        _kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        int8_predictor(move |images| self.logits(images))
    }
}
