//! A small LeNet-style convolutional network: (convolution + ReLU + 2×2 max pool)* →
//! (Linear + ReLU)* → Linear → softmax. The first convolution pads to keep the image size
//! (LeNet-5 on 28×28 digits), the others do not pad. Activations are kept channel-last
//! `(B, H, W, C)`, so that a convolution is one matrix product of the image patches (im2col)
//! with the filters, and its backward pass one product the other way and a scatter (col2im).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{check_normalisation, inputs, parameters_of, relu, relu_backward};
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::layers::linear::Linear;
use crate::layers::loss;
use crate::model::Step;
use crate::parallel;
use crate::trainable::Network;

/// The shape of a LeNet-style network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CnnConfig {
    pub channels: usize,
    pub image_size: usize,
    /// Output channels of each convolution.
    pub conv: Vec<usize>,
    /// Side of the square convolution kernels.
    pub kernel: usize,
    /// Widths of the hidden fully connected layers.
    pub fc: Vec<usize>,
    pub classes: usize,
    /// Input normalisation: `x = (u8/255 - mean) / std`.
    pub mean: f32,
    pub std: f32,
}

impl CnnConfig {
    /// LeNet-5's widths: convolutions of 6 and 16 filters of 5×5, layers of 120 and 84.
    pub fn lenet(
        channels: usize,
        image_size: usize,
        classes: usize,
        mean: f32,
        std: f32,
    ) -> CnnConfig {
        CnnConfig {
            channels,
            image_size,
            conv: vec![6, 16],
            kernel: 5,
            fc: vec![120, 84],
            classes,
            mean,
            std,
        }
    }

    /// LeNet-5 with every width scaled by one factor, chosen so that the parameter count is as
    /// close as it gets to `parameters`: the convolutional baseline at a given model size.
    pub fn sized(
        channels: usize,
        image_size: usize,
        classes: usize,
        parameters: usize,
        mean: f32,
        std: f32,
    ) -> CnnConfig {
        let lenet = CnnConfig::lenet(channels, image_size, classes, mean, std);
        let scaled = |factor: f64| {
            let scale = |w: &Vec<usize>| -> Vec<usize> {
                w.iter()
                    .map(|&n| ((n as f64 * factor).round() as usize).max(1))
                    .collect()
            };
            CnnConfig {
                conv: scale(&lenet.conv),
                fc: scale(&lenet.fc),
                ..lenet.clone()
            }
        };
        // The count grows with the factor: bisect for the largest factor not above the target,
        // then keep whichever of it and the next width is closer.
        let (mut lo, mut hi) = (0.0f64, 64.0f64);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if scaled(mid).parameter_count() <= parameters {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let (below, above) = (scaled(lo), scaled(hi));
        let distance = |c: &CnnConfig| c.parameter_count().abs_diff(parameters);
        if distance(&above) < distance(&below) {
            above
        } else {
            below
        }
    }

    /// Weights and biases of the network this config describes (saturating: a configuration
    /// read from a file may claim any widths).
    pub fn parameter_count(&self) -> usize {
        parameters_of(&self.layer_shapes())
    }

    /// `(B, C, H, W)` → `(B, H, W, C)`.
    pub(super) fn channels_last<T: Copy + Default>(&self, x: Vec<T>) -> Vec<T> {
        let (c, s) = (self.channels, self.image_size);
        if c == 1 {
            return x;
        }
        let mut out = vec![T::default(); x.len()];
        for (img, o) in x
            .chunks_exact(c * s * s)
            .zip(out.chunks_exact_mut(c * s * s))
        {
            for ch in 0..c {
                for p in 0..s * s {
                    o[p * c + ch] = img[ch * s * s + p];
                }
            }
        }
        out
    }

    /// `(inputs, outputs)` of every layer: the convolutions (over `k·k·cin` patch values), then
    /// the fully connected layers.
    pub(super) fn layer_shapes(&self) -> Vec<(usize, usize)> {
        let k2 = self.kernel.saturating_mul(self.kernel);
        let mut shapes: Vec<_> = self
            .convs()
            .iter()
            .map(|s| (k2.saturating_mul(s.cin), s.cout))
            .collect();
        let mut widths = vec![self.flat()];
        widths.extend(&self.fc);
        widths.push(self.classes);
        shapes.extend(widths.windows(2).map(|w| (w[0], w[1])));
        shapes
    }

    /// Shape of every convolution: (input side, padding, output side before the pool,
    /// input channels, output channels).
    pub(super) fn convs(&self) -> Vec<ConvShape> {
        let mut side = self.image_size;
        let mut cin = self.channels;
        let mut out = Vec::new();
        for (i, &cout) in self.conv.iter().enumerate() {
            let pad = if i == 0 { self.kernel / 2 } else { 0 };
            let conv_side = side.saturating_add(2 * pad + 1).saturating_sub(self.kernel);
            out.push(ConvShape {
                side,
                pad,
                conv_side,
                cin,
                cout,
            });
            side = conv_side / 2;
            cin = cout;
        }
        out
    }

    /// Width of the flattened output of the last pool.
    fn flat(&self) -> usize {
        match self.convs().last() {
            Some(s) => (s.conv_side / 2)
                .saturating_mul(s.conv_side / 2)
                .saturating_mul(s.cout),
            None => self
                .channels
                .saturating_mul(self.image_size.saturating_pow(2)),
        }
    }
}

/// One convolution's sizes.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConvShape {
    pub side: usize,
    pub pad: usize,
    pub conv_side: usize,
    pub cin: usize,
    pub cout: usize,
}

/// A LeNet-style classifier. `layers` holds the convolutions (weights `(out, k·k·in)` in
/// (row, column, channel) order) and then the fully connected layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Cnn {
    pub config: CnnConfig,
    pub layers: Vec<Linear>,
}

/// What the forward pass keeps for the backward pass.
pub(super) struct Trace {
    /// Per convolution: the patches, the ReLU output and the winners of the pool.
    pub patches: Vec<Vec<f32>>,
    conv_out: Vec<Vec<f32>>,
    winners: Vec<Vec<u32>>,
    /// Input of every fully connected layer, then the logits.
    pub acts: Vec<Vec<f32>>,
}

impl Cnn {
    /// Layers initialised as PyTorch does (`Conv2d` and `Linear` draw from the same
    /// U(−1/√fan_in, 1/√fan_in)); the same seed gives the same model.
    pub fn new(config: CnnConfig, seed: u64) -> Result<Cnn> {
        check_normalisation(config.mean, config.std)?;
        let bad = |msg: String| Err(Error::Config(msg));
        if config.channels == 0
            || config.kernel == 0
            || config.classes < 2
            || config.conv.contains(&0)
            || config.fc.contains(&0)
        {
            return bad(format!(
                "a CNN needs channels, kernel and widths of at least 1 and 2 classes, got {config:?}"
            ));
        }
        if let Some(s) = config.convs().iter().find(|s| s.conv_side < 2) {
            return bad(format!(
                "a {0}x{0} input is too small for a {1}x{1} convolution and a 2x2 pool",
                s.side, config.kernel
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = config
            .layer_shapes()
            .into_iter()
            .map(|(inputs, outputs)| Linear::init(inputs, outputs, &mut rng))
            .collect();
        Ok(Cnn { config, layers })
    }

    fn normalisation(&self) -> (f32, f32) {
        (self.config.mean, self.config.std)
    }

    pub(super) fn forward(&self, x: Vec<f32>) -> Trace {
        let k = self.config.kernel;
        let shapes = self.config.convs();
        let mut trace = Trace {
            patches: Vec::new(),
            conv_out: Vec::new(),
            winners: Vec::new(),
            acts: Vec::new(),
        };
        let mut x = self.config.channels_last(x);
        for (s, layer) in shapes.iter().zip(&self.layers) {
            let patches = im2col(&x, s, k, 0.0);
            let mut y = layer.forward(&patches);
            relu(&mut y);
            let (pooled, winners) = max_pool(&y, s.conv_side, s.cout);
            trace.patches.push(patches);
            trace.conv_out.push(y);
            trace.winners.push(winners);
            x = pooled;
        }
        let fc = &self.layers[shapes.len()..];
        trace.acts.push(x);
        for (i, layer) in fc.iter().enumerate() {
            let mut y = layer.forward(trace.acts.last().expect("input"));
            if i + 1 < fc.len() {
                relu(&mut y);
            }
            trace.acts.push(y);
        }
        trace
    }
}

/// Patches of a batch `(B, side, side, cin)` for a `k × k` convolution: `(B·out·out, k·k·cin)`,
/// `zero` outside the image (the int8 model's zero is its input's zero point).
pub(super) fn im2col<T: Copy + Send + Sync>(x: &[T], s: &ConvShape, k: usize, zero: T) -> Vec<T> {
    let (side, o, cin) = (s.side, s.conv_side, s.cin);
    let row = k * k * cin;
    let batch = x.len() / (side * side * cin);
    let mut patches = vec![zero; batch * o * o * row];
    parallel::for_each_chunk(&mut patches, o * o * row, |b, out| {
        let img = &x[b * side * side * cin..][..side * side * cin];
        for oy in 0..o {
            for ox in 0..o {
                let p = &mut out[(oy * o + ox) * row..][..row];
                for ky in 0..k {
                    let y = (oy + ky) as isize - s.pad as isize;
                    if y < 0 || y >= side as isize {
                        continue;
                    }
                    for kx in 0..k {
                        let xx = (ox + kx) as isize - s.pad as isize;
                        if xx < 0 || xx >= side as isize {
                            continue;
                        }
                        let src = (y as usize * side + xx as usize) * cin;
                        p[(ky * k + kx) * cin..][..cin].copy_from_slice(&img[src..src + cin]);
                    }
                }
            }
        }
    });
    patches
}

/// Adds the gradient of the patches back onto the pixels they came from: `(B, side, side, cin)`.
fn col2im(dpatches: &[f32], s: &ConvShape, k: usize, batch: usize) -> Vec<f32> {
    let (side, o, cin) = (s.side, s.conv_side, s.cin);
    let row = k * k * cin;
    let mut dx = vec![0.0; batch * side * side * cin];
    parallel::for_each_chunk(&mut dx, side * side * cin, |b, img| {
        let dp = &dpatches[b * o * o * row..][..o * o * row];
        for oy in 0..o {
            for ox in 0..o {
                let p = &dp[(oy * o + ox) * row..][..row];
                for ky in 0..k {
                    let y = (oy + ky) as isize - s.pad as isize;
                    if y < 0 || y >= side as isize {
                        continue;
                    }
                    for kx in 0..k {
                        let xx = (ox + kx) as isize - s.pad as isize;
                        if xx < 0 || xx >= side as isize {
                            continue;
                        }
                        let dst = (y as usize * side + xx as usize) * cin;
                        for (d, g) in img[dst..dst + cin]
                            .iter_mut()
                            .zip(&p[(ky * k + kx) * cin..])
                        {
                            *d += g;
                        }
                    }
                }
            }
        }
    });
    dx
}

/// 2×2 max pool, stride 2, floor, of `(B, side, side, c)`; ties go to the first in row-major
/// order. Returns the pooled values and the index in `x` of each winner.
pub(super) fn max_pool<T: Copy + Default + PartialOrd>(
    x: &[T],
    side: usize,
    c: usize,
) -> (Vec<T>, Vec<u32>) {
    let p = side / 2;
    let batch = x.len() / (side * side * c);
    let mut pooled = vec![T::default(); batch * p * p * c];
    let mut winners = vec![0u32; pooled.len()];
    for b in 0..batch {
        for py in 0..p {
            for px in 0..p {
                for ch in 0..c {
                    let out = ((b * p + py) * p + px) * c + ch;
                    let mut at = ((b * side + 2 * py) * side + 2 * px) * c + ch;
                    let mut best = x[at];
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                        let i = ((b * side + 2 * py + dy) * side + 2 * px + dx) * c + ch;
                        if x[i] > best {
                            best = x[i];
                            at = i;
                        }
                    }
                    pooled[out] = best;
                    winners[out] = at as u32;
                }
            }
        }
    }
    (pooled, winners)
}

impl Network for Cnn {
    type Params = Vec<Linear>;

    fn kind(&self) -> &'static str {
        "cnn"
    }
    fn classes(&self) -> usize {
        self.config.classes
    }
    fn image_len(&self) -> usize {
        self.config.channels * self.config.image_size * self.config.image_size
    }
    fn params(&self) -> &Vec<Linear> {
        &self.layers
    }
    fn params_mut(&mut self) -> &mut Vec<Linear> {
        &mut self.layers
    }
    fn tensor_layout(&self) -> Vec<(String, Vec<usize>)> {
        crate::trainable::linear_layout(&self.layers)
    }
    fn config_json(&self) -> String {
        crate::tensor_file::json(&self.config)
    }

    fn step(
        &self,
        images: Images,
        labels: &[u32],
        _: KernelChoice,
        smoothing: f32,
    ) -> Result<Step<Vec<Linear>>> {
        let classes = self.config.classes;
        let x = inputs(
            images,
            self.image_len(),
            Some(labels),
            classes,
            self.normalisation(),
        )?;
        let batch = labels.len();
        let trace = self.forward(x);
        let (loss, mut dy, correct) = loss::cross_entropy(
            trace.acts.last().expect("logits"),
            labels,
            classes,
            smoothing,
        );
        let mut grads: Vec<Linear> = self
            .layers
            .iter()
            .map(|l| Linear::zeros(l.inputs, l.outputs))
            .collect();
        let shapes = self.config.convs();
        let nconv = shapes.len();
        for i in (0..self.layers.len() - nconv).rev() {
            let (layer, grad) = (&self.layers[nconv + i], &mut grads[nconv + i]);
            let mut dx = layer
                .backward(&trace.acts[i], &dy, grad, true)
                .expect("input gradient was asked for");
            if i > 0 {
                relu_backward(&mut dx, &trace.acts[i]);
            }
            dy = dx;
        }
        for (i, s) in shapes.iter().enumerate().rev() {
            // `dy` is the gradient of the pool's output: send it to the winners, through ReLU.
            let mut dconv = vec![0.0; trace.conv_out[i].len()];
            for (&w, &g) in trace.winners[i].iter().zip(&dy) {
                dconv[w as usize] += g;
            }
            relu_backward(&mut dconv, &trace.conv_out[i]);
            let dpatches = self.layers[i].backward(&trace.patches[i], &dconv, &mut grads[i], i > 0);
            if let Some(dp) = dpatches {
                dy = col2im(&dp, s, self.config.kernel, batch);
            }
        }
        Ok(Step {
            loss,
            correct,
            grads,
        })
    }

    fn predictor(&self, _: KernelChoice) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        Box::new(move |images| {
            let x = inputs(
                images,
                self.image_len(),
                None,
                self.config.classes,
                self.normalisation(),
            )?;
            Ok(self.forward(x).acts.pop().expect("logits"))
        })
    }
}
