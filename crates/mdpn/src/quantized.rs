//! The int8 model: the soma and axon weights as int8 with one scale per output row, their
//! inputs as uint8 with one scale and zero point per tensor calibrated on training images, and
//! the products in integers ([`crate::matmul_i8`]). The dendrites' `w` and `q` (`C·M·window²`
//! pairs, 4% of the parameters) stay f32, so the presynaptic, dendrite and membrane layers run
//! on the same kernels as the f32 model.
//!
//! The rounding is ONNX's `QuantizeLinear` (`x / scale`, ties to even, plus the zero point,
//! saturated), so that the model can be written as a standard ONNX graph.

use crate::config::{Config, Task};
use crate::error::{Error, Result};
use crate::evaluation::Classifier;
use crate::kernels::lut::Tables;
use crate::layers::linear::Linear;
use crate::layers::{axon, dendrites};
use crate::matmul_i8::{matmul_u8_i8, PreparedWeights};
use crate::model::{Images, KernelChoice, Mdpn};
use crate::parallel;

/// How an f32 tensor maps to uint8: `u = saturate(round(x / scale) + zero_point)`,
/// `x ≈ scale · (u − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationQuant {
    pub scale: f32,
    pub zero_point: u8,
}

impl ActivationQuant {
    /// The scale and zero point that cover `[min, max]` (widened to hold 0, so that 0 is exact).
    pub fn covering(min: f32, max: f32) -> ActivationQuant {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let scale = if max > min { (max - min) / 255.0 } else { 1.0 };
        let zero_point = (-min / scale).round_ties_even().clamp(0.0, 255.0) as u8;
        ActivationQuant { scale, zero_point }
    }

    /// `x` as uint8.
    pub fn quantize(&self, x: f32) -> u8 {
        ((x / self.scale).round_ties_even() + self.zero_point as f32).clamp(0.0, 255.0) as u8
    }
}

/// A `Linear` layer with int8 weights, one scale per output row, and uint8 inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLinear {
    pub inputs: usize,
    pub outputs: usize,
    /// `(outputs, inputs)`, row-major as [`Linear`]: `W[o, i] ≈ weight_scale[o] · weight[o, i]`.
    pub weight: Vec<i8>,
    pub weight_scale: Vec<f32>,
    pub bias: Vec<f32>,
    /// How this layer's input is quantized.
    pub input: ActivationQuant,
    /// `weight` as the integer product takes it, made once.
    prepared: PreparedWeights,
}

/// Images per task of [`QuantizedLinear::forward`]: enough work to be worth a thread.
const ROWS_PER_TASK: usize = 16;

impl QuantizedLinear {
    /// `layer` with symmetric int8 weights per output row (−127..=127, so that the range is
    /// symmetric), its input quantized as `input`.
    pub fn new(layer: &Linear, input: ActivationQuant) -> QuantizedLinear {
        let mut weight = Vec::with_capacity(layer.weight.len());
        let mut weight_scale = Vec::with_capacity(layer.outputs);
        for row in layer.weight.chunks_exact(layer.inputs) {
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            weight.extend(
                row.iter()
                    .map(|v| (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8),
            );
            weight_scale.push(scale);
        }
        QuantizedLinear::from_parts(weight, weight_scale, layer.bias.clone(), input)
    }

    /// The layer of `(outputs, inputs)` int8 weights with their scales (`weight_scale` has one
    /// per output), the bias and the input's quantization, as an int8 model file holds them.
    pub fn from_parts(
        weight: Vec<i8>,
        weight_scale: Vec<f32>,
        bias: Vec<f32>,
        input: ActivationQuant,
    ) -> QuantizedLinear {
        let outputs = weight_scale.len();
        let inputs = weight.len() / outputs.max(1);
        QuantizedLinear {
            inputs,
            outputs,
            prepared: PreparedWeights::new(&weight, inputs),
            weight,
            weight_scale,
            bias,
            input,
        }
    }

    /// `(B, inputs)` → `(B, outputs)`: the input quantized, the integer product, then each sum
    /// scaled back to f32 and the bias added; all three per task, the tasks in parallel.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let (inputs, outputs) = (self.inputs, self.outputs);
        let batch = x.len() / inputs.max(1);
        let mut out = vec![0.0f32; batch * outputs];
        if outputs == 0 {
            return out;
        }
        // Σ (a − z)·w = Σ a·w − z·Σ w, with Σ w per row made once.
        let zero = self.input.zero_point as i32;
        let row_sums = &self.prepared.row_sums;
        parallel::for_each_chunk(&mut out, ROWS_PER_TASK * outputs, |task, rows| {
            let first = task * ROWS_PER_TASK;
            let n = rows.len() / outputs;
            let a: Vec<u8> = x[first * inputs..(first + n) * inputs]
                .iter()
                .map(|&v| self.input.quantize(v))
                .collect();
            let mut sums = vec![0i32; n * outputs];
            matmul_u8_i8(&a, &self.prepared, &mut sums);
            for (row, sums) in rows
                .chunks_exact_mut(outputs)
                .zip(sums.chunks_exact(outputs))
            {
                for (o, (y, &s)) in row.iter_mut().zip(sums).enumerate() {
                    *y = (s - zero * row_sums[o]) as f32
                        * (self.input.scale * self.weight_scale[o])
                        + self.bias[o];
                }
            }
        });
        out
    }
}

/// An MDPN classifier with int8 soma and axon layers.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedMdpn {
    pub config: Config,
    /// Synapse weights and thresholds, f32, as in [`crate::Params`].
    pub w: Vec<f32>,
    pub q: Vec<f32>,
    pub soma: QuantizedLinear,
    pub axon: QuantizedLinear,
}

/// Range of the values that reach the soma and the axon, over some calibration images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    pub membrane: (f32, f32),
    pub hidden: (f32, f32),
    pub images: usize,
}

/// Images per calibration batch.
const CALIBRATION_BATCH: usize = 256;

/// The smallest and largest value of the membrane and soma outputs of `model` over `images`
/// (8-bit, `(B, C, H, W)`).
pub fn calibrate(model: &Mdpn, images: &[u8]) -> Result<Calibration> {
    let len = model.config.image_len();
    let tables = model.tables();
    let mut cal = Calibration {
        membrane: (f32::INFINITY, f32::NEG_INFINITY),
        hidden: (f32::INFINITY, f32::NEG_INFINITY),
        images: images.len() / len,
    };
    if cal.images == 0 {
        return Err(Error::Shape("calibration needs at least one image".into()));
    }
    let widen = |(lo, hi): (f32, f32), values: &[f32]| {
        values
            .iter()
            .fold((lo, hi), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    };
    for batch in images.chunks(CALIBRATION_BATCH * len) {
        let fwd = model.forward(Images::U8(batch), KernelChoice::Fast, Some(&tables))?;
        cal.membrane = widen(cal.membrane, &fwd.membrane);
        cal.hidden = widen(cal.hidden, &fwd.soma);
    }
    Ok(cal)
}

impl QuantizedMdpn {
    /// The int8 model of `model`, its activations quantized over the ranges of `calibration`.
    pub fn new(model: &Mdpn, calibration: &Calibration) -> QuantizedMdpn {
        let (lo, hi) = calibration.membrane;
        let soma = QuantizedLinear::new(&model.params.soma, ActivationQuant::covering(lo, hi));
        let (lo, hi) = calibration.hidden;
        let axon = QuantizedLinear::new(&model.params.axon, ActivationQuant::covering(lo, hi));
        QuantizedMdpn {
            config: model.config.clone(),
            w: model.params.w.clone(),
            q: model.params.q.clone(),
            soma,
            axon,
        }
    }

    /// Tables for the 8-bit dendrite kernel; build them once for many batches.
    pub fn tables(&self) -> Tables<'_> {
        Tables::new(&self.config, &self.w, &self.q)
    }

    /// Logits `(B, classes)` of a batch. `tables` must be given for the 8-bit kernel to run on
    /// 8-bit images.
    pub fn logits(
        &self,
        images: Images,
        choice: KernelChoice,
        tables: Option<&Tables>,
    ) -> Result<Vec<f32>> {
        let batch = self.config.batch_len(images)?;
        let synapses = (&self.w[..], &self.q[..]);
        let (membrane, _) =
            dendrites::forward(&self.config, synapses, images, batch, choice, tables)?;
        let mut hidden = self.soma.forward(&membrane);
        for v in &mut hidden {
            *v = v.max(0.0);
        }
        Ok(self.axon.forward(&hidden))
    }

    /// Class probabilities `(B, classes)`, as [`Mdpn::probabilities`].
    pub fn probabilities(&self, images: Images, choice: KernelChoice) -> Result<Vec<f32>> {
        let tables = matches!(images, Images::U8(_)).then(|| self.tables());
        let mut p = self.logits(images, choice, tables.as_ref())?;
        match self.config.task {
            Task::MultiClass => axon::softmax(&mut p, self.config.classes),
            Task::MultiLabel => axon::sigmoid(&mut p),
        }
        Ok(p)
    }
}

impl Classifier for QuantizedMdpn {
    fn classes(&self) -> usize {
        self.config.classes
    }
    fn task(&self) -> Task {
        self.config.task
    }
    fn predictor(
        &self,
        kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        let tables = self.tables();
        Box::new(move |images| self.logits(images, kernel, Some(&tables)))
    }
}
