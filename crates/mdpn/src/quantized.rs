//! The int8 model, in integers from pixel to score: the soma and axon weights as int8 with one
//! scale per output row, their inputs as uint8 with one scale and zero point per tensor
//! calibrated on training images, and the synapses and dendrites in fixed point
//! ([`crate::integer`]). What it computes is defined by [`mdpn_micro`], the `no_std` crate that
//! runs on microcontrollers; here the same integers come from vectorised table look-ups
//! ([`crate::kernels::int16`]) and products ([`crate::matmul_i8`]), bit for bit.
//!
//! The activations' scales and zero points are ONNX's `QuantizeLinear` (`x / scale`, ties to
//! even, plus the zero point, saturated), so that the model can also be written as an ONNX graph.

use mdpn_micro as micro;

use crate::config::{Config, Task};
use crate::error::{Error, Result};
use crate::evaluation::Classifier;
use crate::integer::{FixedScale, IntegerSynapses};
use crate::kernels::int16::IntTables;
use crate::layers::axon;
use crate::layers::linear::Linear;
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

/// How many bits a quantized layer's weights have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightBits {
    /// −7..=7: half the bytes of int8, for the hidden layers (the output layer keeps 8).
    Four,
    /// −127..=127.
    Eight,
}

impl WeightBits {
    /// The largest weight code: the range is symmetric.
    pub fn largest(self) -> i8 {
        match self {
            WeightBits::Four => 7,
            WeightBits::Eight => 127,
        }
    }

    /// 4 or 8, or an error naming what is allowed.
    pub fn from_count(bits: u32) -> Result<WeightBits> {
        match bits {
            4 => Ok(WeightBits::Four),
            8 => Ok(WeightBits::Eight),
            _ => Err(Error::Config(format!(
                "weights can be quantized to 8 or 4 bits, not {bits}"
            ))),
        }
    }

    pub fn count(self) -> u32 {
        match self {
            WeightBits::Four => 4,
            WeightBits::Eight => 8,
        }
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
    pub(crate) prepared: PreparedWeights,
}

impl QuantizedLinear {
    /// `layer` with symmetric int8 weights per output row (−127..=127, so that the range is
    /// symmetric), its input quantized as `input`.
    pub fn new(layer: &Linear, input: ActivationQuant) -> QuantizedLinear {
        QuantizedLinear::with_bits(layer, input, WeightBits::Eight)
    }

    /// `layer` with symmetric weights of `bits` per output row (int4: −7..=7, computed as int8
    /// and stored two to a byte), its input quantized as `input`.
    pub fn with_bits(layer: &Linear, input: ActivationQuant, bits: WeightBits) -> QuantizedLinear {
        let top = bits.largest() as f32;
        let mut weight = Vec::with_capacity(layer.weight.len());
        let mut weight_scale = Vec::with_capacity(layer.outputs);
        for row in layer.weight.chunks_exact(layer.inputs) {
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / top } else { 1.0 };
            weight.extend(
                row.iter()
                    .map(|v| (v / scale).round_ties_even().clamp(-top, top) as i8),
            );
            weight_scale.push(scale);
        }
        QuantizedLinear::from_parts(weight, weight_scale, layer.bias.clone(), input)
    }

    /// Whether every weight lies in int4's −7..=7, so that files store them two to a byte.
    pub fn fits_int4(&self) -> bool {
        let top = WeightBits::Four.largest();
        self.weight.iter().all(|&w| (-top..=top).contains(&w))
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

    /// The scale of each output's integer sum: input scale times weight scale.
    pub(crate) fn sum_scales(&self) -> Vec<f64> {
        let s = self.input.scale as f64;
        self.weight_scale.iter().map(|&w| s * w as f64).collect()
    }

    /// What [`mdpn_micro::Layer::offset`] holds: the bias in units of each output's sum, less
    /// the input's zero point times the row's weights, or an error if it does not fit `i32`.
    pub fn integer_offsets(&self) -> Result<Vec<i32>> {
        let zero = self.input.zero_point as i64;
        let scales = self.sum_scales();
        self.bias
            .iter()
            .zip(&scales)
            .zip(&self.prepared.row_sums)
            .map(|((&b, &s), &sum)| {
                // Saturating: a file's bias may be any float, its steps past i64.
                let v = ((b as f64 / s).round() as i64).saturating_sub(zero * sum as i64);
                i32::try_from(v)
                    .ok()
                    .filter(|v| v.unsigned_abs() < 1 << 30)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "a bias of {b} is {v} steps of its layer's sums, too many for 31 bits"
                        ))
                    })
            })
            .collect()
    }
}

/// An MDPN classifier in integers: int8 soma and axon, fixed-point synapses and dendrites.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedMdpn {
    pub config: Config,
    /// The f32 synapse weights and thresholds it was made from, as in [`crate::Params`]: what
    /// `inspect` reads the synapses' states from and what the ONNX export writes.
    pub w: Vec<f32>,
    pub q: Vec<f32>,
    pub soma: QuantizedLinear,
    pub axon: QuantizedLinear,
    /// The fixed-point numbers of the integer path.
    pub integer: IntegerParts,
    /// The host's tables of [`IntegerParts::synapses`], made once.
    tables: IntTables,
    /// The membrane's requantisation of every `i16` dendrite sum (index: its bits as `u16`),
    /// made once: one look-up per value instead of a 64-bit product.
    membrane_u8: Vec<u8>,
}

/// Everything the integer path computes with besides the int8 weights: what an int8 file of
/// format 2 stores and `mdpn export --format c` writes.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerParts {
    pub synapses: IntegerSynapses,
    /// The folded biases of the soma and axon ([`QuantizedLinear::integer_offsets`]).
    pub soma_offset: Vec<i32>,
    pub axon_offset: Vec<i32>,
    /// Dendrite sums to the soma's `u8` input (one multiplier).
    pub membrane: FixedScale,
    /// The soma's sums to the axon's `u8` input.
    pub soma: FixedScale,
    /// The axon's sums to scores, the logits times `2^SCORE_FRAC`.
    pub axon: FixedScale,
}

impl IntegerParts {
    /// The fixed-point numbers of a model of `config` with these synapses and layers.
    pub fn new(
        config: &Config,
        (w, q): (&[f32], &[f32]),
        soma: &QuantizedLinear,
        axon: &QuantizedLinear,
    ) -> Result<IntegerParts> {
        let synapses = IntegerSynapses::new(config, w, q)?;
        let (membrane, hidden) = (soma.input.scale as f64, axon.input.scale as f64);
        let unit = 2f64.powi(-(synapses.ln_frac as i32));
        let scores = 2f64.powi(micro::SCORE_FRAC as i32);
        Ok(IntegerParts {
            membrane: FixedScale::new(&[unit / membrane], "membrane")?,
            soma: FixedScale::new(
                &soma
                    .sum_scales()
                    .iter()
                    .map(|s| s / hidden)
                    .collect::<Vec<_>>(),
                "soma",
            )?,
            axon: FixedScale::new(
                &axon
                    .sum_scales()
                    .iter()
                    .map(|s| s * scores)
                    .collect::<Vec<_>>(),
                "axon",
            )?,
            soma_offset: soma.integer_offsets()?,
            axon_offset: axon.integer_offsets()?,
            synapses,
        })
    }
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

/// One int8 layer as [`mdpn_micro`] takes it, with its offsets, output scale and zero point.
pub(crate) fn micro_layer<'a>(
    layer: &'a QuantizedLinear,
    offset: &'a [i32],
    scale: &'a FixedScale,
    zero_point: u8,
) -> micro::Layer<'a> {
    micro::Layer {
        weight: &layer.weight,
        offset,
        multiplier: &scale.multiplier,
        shift: scale.shift,
        zero_point: zero_point as i32,
    }
}

/// A hidden int8 layer (`weights`, computed as `layer`) on uint8 inputs `(n, inputs)`: its uint8
/// outputs after ReLU (the output's zero point, the code of 0, is their floor). Inlined: called
/// apart, int8 inference measured 2–3% slower.
#[inline]
pub(crate) fn hidden_u8(weights: &QuantizedLinear, layer: &micro::Layer, u: &[u8]) -> Vec<u8> {
    let outputs = weights.outputs;
    let mut sums = vec![0i32; u.len() / weights.inputs.max(1) * outputs];
    matmul_u8_i8(u, &weights.prepared, &mut sums);
    let relu = layer.zero_point as u8;
    sums.iter()
        .enumerate()
        .map(|(at, &s)| {
            let o = at % outputs;
            layer.requant(o).to_u8(s + layer.offset[o], relu)
        })
        .collect()
}

/// The output int8 layer on uint8 inputs `(n, inputs)`: its scores `(n, outputs)`, the logits
/// times `2^SCORE_FRAC`.
#[inline]
pub(crate) fn output_scores(
    weights: &QuantizedLinear,
    layer: &micro::Layer,
    u: &[u8],
    scores: &mut [i32],
) {
    let outputs = weights.outputs;
    let mut sums = vec![0i32; scores.len()];
    matmul_u8_i8(u, &weights.prepared, &mut sums);
    for (at, (score, &s)) in scores.iter_mut().zip(&sums).enumerate() {
        let o = at % outputs;
        *score = layer.score(o, s + layer.offset[o]);
    }
}

/// Logits of integer scores (logits times `2^SCORE_FRAC`).
pub(crate) fn logits_of(scores: Vec<i32>) -> Vec<f32> {
    let unit = 2f32.powi(-(micro::SCORE_FRAC as i32));
    scores.into_iter().map(|s| s as f32 * unit).collect()
}

/// Images per task of [`QuantizedMdpn::scores`]: enough work to be worth a thread.
const ROWS_PER_TASK: usize = 16;

impl QuantizedMdpn {
    /// The int8 model of `model`, its activations quantized over the ranges of `calibration`,
    /// or an error for settings the integer path does not compute.
    pub fn new(model: &Mdpn, calibration: &Calibration) -> Result<QuantizedMdpn> {
        QuantizedMdpn::with_bits(model, calibration, WeightBits::Eight)
    }

    /// As [`Self::new`], the soma's weights of `soma_bits` (the axon, the output layer, keeps
    /// 8).
    pub fn with_bits(
        model: &Mdpn,
        calibration: &Calibration,
        soma_bits: WeightBits,
    ) -> Result<QuantizedMdpn> {
        let (lo, hi) = calibration.membrane;
        let soma = QuantizedLinear::with_bits(
            &model.params.soma,
            ActivationQuant::covering(lo, hi),
            soma_bits,
        );
        let (lo, hi) = calibration.hidden;
        let axon = QuantizedLinear::new(&model.params.axon, ActivationQuant::covering(lo, hi));
        let (w, q) = (model.params.w.clone(), model.params.q.clone());
        QuantizedMdpn::from_parts(model.config.clone(), w, q, soma, axon)
    }

    /// The model of these f32 synapses and int8 layers, its fixed-point numbers derived
    /// ([`IntegerParts::new`]): from a quantized f32 model, or an int8 file of format 1.
    pub fn from_parts(
        config: Config,
        w: Vec<f32>,
        q: Vec<f32>,
        soma: QuantizedLinear,
        axon: QuantizedLinear,
    ) -> Result<QuantizedMdpn> {
        let integer = IntegerParts::new(&config, (&w, &q), &soma, &axon)?;
        QuantizedMdpn::with_integer(config, w, q, soma, axon, integer)
    }

    /// The model of all its parts, as an int8 file of format 2 holds them, once they are
    /// checked to be in range for the integer path.
    pub fn with_integer(
        config: Config,
        w: Vec<f32>,
        q: Vec<f32>,
        soma: QuantizedLinear,
        axon: QuantizedLinear,
        integer: IntegerParts,
    ) -> Result<QuantizedMdpn> {
        let mut model = QuantizedMdpn {
            tables: IntTables::default(),
            membrane_u8: Vec::new(),
            config,
            w,
            q,
            soma,
            axon,
            integer,
        };
        model
            .micro()
            .check()
            .map_err(|_| Error::Format(model.out_of_range()))?;
        if !model.integer.synapses.fits_i16(&model.config) {
            return Err(Error::Format(
                "the integer table's entries are too large for a window to sum in 16 bits".into(),
            ));
        }
        model.tables = IntTables::new(&model.config, &model.integer.synapses.view());
        let membrane = model.micro().membrane;
        model.membrane_u8 = (0..=u16::MAX)
            .map(|bits| membrane.to_u8(bits as i16 as i32, 0))
            .collect();
        Ok(model)
    }

    /// Why [`mdpn_micro::Model::check`] refused this model, in words.
    fn out_of_range(&self) -> String {
        let s = self.integer.synapses.view();
        format!(
            "the integer model's tensors do not fit its configuration or its fixed-point settings \
             are out of range ({} synapse slopes and offsets for {} synapses, a table of {} entries \
             for z within ±{} at 2^-{}, z in 2^-{}, shifts {}/{}/{})",
            s.slope.len().min(s.offset.len()),
            self.config.channels * self.config.dendrites * self.config.synapses(),
            s.table.len(),
            s.z_limit,
            s.table_frac,
            s.z_frac,
            self.integer.membrane.shift,
            self.integer.soma.shift,
            self.integer.axon.shift
        )
    }

    /// The model as [`mdpn_micro`] computes it, borrowing this one's tensors.
    pub fn micro(&self) -> micro::Model<'_> {
        let c = &self.config;
        let i = &self.integer;
        micro::Model {
            shape: micro::Shape {
                channels: c.channels,
                image_size: c.image_size,
                dendrites: c.dendrites,
                window: c.window,
                pool: c.pool,
                hidden: c.hidden,
                classes: c.classes,
            },
            synapses: i.synapses.view(),
            membrane: micro::Requant {
                multiplier: i.membrane.multiplier.first().copied().unwrap_or(0),
                shift: i.membrane.shift,
                zero_point: self.soma.input.zero_point as i32,
            },
            soma: micro_layer(
                &self.soma,
                &i.soma_offset,
                &i.soma,
                self.axon.input.zero_point,
            ),
            axon: micro_layer(&self.axon, &i.axon_offset, &i.axon, 0),
        }
    }

    /// Scores `(B, classes)` of a batch of 8-bit images `(B, C, H, W)`: the logits times
    /// `2^SCORE_FRAC`, exactly as [`mdpn_micro::Model::classify`] computes them, in tasks of
    /// [`ROWS_PER_TASK`] images run in parallel.
    pub fn scores(&self, images: &[u8]) -> Result<Vec<i32>> {
        let cfg = &self.config;
        let batch = cfg.batch_len(Images::U8(images))?;
        let (len, features, classes) = (cfg.image_len(), cfg.features(), cfg.classes);
        let model = self.micro();
        let mut scores = vec![0i32; batch * classes];
        parallel::for_each_chunk(&mut scores, ROWS_PER_TASK * classes, |task, scores| {
            let first = task * ROWS_PER_TASK;
            let n = scores.len() / classes;
            let mut membrane = vec![0u8; n * features];
            let mut pooled = vec![0i16; features];
            for (i, out) in membrane.chunks_exact_mut(features).enumerate() {
                let image = &images[(first + i) * len..][..len];
                self.tables.membrane(cfg, image, &mut pooled);
                for (u, &d) in out.iter_mut().zip(&pooled) {
                    *u = self.membrane_u8[d as u16 as usize];
                }
            }
            let h = hidden_u8(&self.soma, &model.soma, &membrane);
            output_scores(&self.axon, &model.axon, &h, scores);
        });
        Ok(scores)
    }

    /// Logits `(B, classes)` of a batch of 8-bit images: the [`Self::scores`] as floats.
    pub fn logits(&self, images: &[u8]) -> Result<Vec<f32>> {
        Ok(logits_of(self.scores(images)?))
    }

    /// Class probabilities `(B, classes)` of a batch of 8-bit images, as
    /// [`Mdpn::probabilities`].
    pub fn probabilities(&self, images: &[u8]) -> Result<Vec<f32>> {
        let mut p = self.logits(images)?;
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
    /// The integer path, whatever kernel is asked for: it is the only one an int8 model has.
    fn predictor(
        &self,
        _kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        int8_predictor(move |images| self.logits(images))
    }
}

/// The predictor of an int8 model whose integer path gives `logits` of 8-bit images: float
/// images, which it cannot take, are refused.
#[allow(clippy::type_complexity)]
pub(crate) fn int8_predictor<'a>(
    logits: impl Fn(&[u8]) -> Result<Vec<f32>> + Sync + 'a,
) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + 'a> {
    Box::new(move |images| match images {
        Images::U8(images) => logits(images),
        Images::F32(_) => Err(Error::Shape(INT8_TAKES_PIXELS.into())),
    })
}

/// The error for float images given to an int8 model.
pub const INT8_TAKES_PIXELS: &str =
    "an int8 model computes in integers from 8-bit pixels (uint8, 0 to 255), not from normalised floats";
