//! The presynaptic → dendrite → membrane computation, the model's hot spot, behind one small
//! interface with two implementations:
//!
//! - [`plain`]: the paper's formulas evaluated synapse by synapse, for any float input; the
//!   reference that every fast path is tested against.
//! - [`lut`]: for 8-bit images. A synapse sees at most 256 distinct pixel values, so per
//!   parameter update the kernel tabulates `ln(Y + c)` and its derivative for all 256 values and
//!   the dendrites become table look-ups, fused with the max pool.
//!
//! Both run forward one image at a time, and write the membrane output in (channel, row, column,
//! dendrite) order, dendrite fastest, with the index of the winning window (`row * side + col`
//! inside its channel) of every pooled value, so that the backward pass sends the gradient to
//! that window alone.

pub mod lut;
pub mod plain;

use crate::config::SynapseFn;

/// One dendrite kernel: forward and backward of presynaptic + dendrite + membrane layers for
/// one image of the batch.
pub trait DendriteKernel: Sync {
    /// Writes the pooled membrane values of `image` and the winning window of each.
    fn forward(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]);

    /// Adds to `dw` and `dq` (layout (row, column) of the window) the gradient of the loss with
    /// respect to the synapse weights and thresholds of one dendrite (`channel · M + dendrite`),
    /// over the whole batch, given the winners and the gradient of the pooled values of every
    /// image `(B, features)`. One dendrite at a time keeps its tables in cache and makes the
    /// sum over the batch run in image order, whatever the number of threads.
    fn backward(
        &self,
        dendrite: usize,
        winners: &[u32],
        grad: &[f32],
        dw: &mut [f32],
        dq: &mut [f32],
    );
}

/// Synapse output `Y = f(k·(x·w − q))` and its derivative `dY/d(x·w − q)`, for the synapse
/// function `f` of the configuration (the paper's `1/2 + atan(z)/π`, or the sigmoid).
#[inline]
pub fn synapse(f: SynapseFn, x: f32, w: f32, q: f32, k: f32) -> (f32, f32) {
    let z = k * (x * w - q);
    match f {
        SynapseFn::Atan => (
            0.5 + z.atan() * std::f32::consts::FRAC_1_PI,
            k * std::f32::consts::FRAC_1_PI / (1.0 + z * z),
        ),
        SynapseFn::Sigmoid => {
            let y = 1.0 / (1.0 + (-z).exp());
            (y, k * y * (1.0 - y))
        }
    }
}

/// Walks the synapses that one dendrite's gradient reaches: for every image and pooled cell
/// with a non-zero gradient `g`, the synapses of the winning window. Calls
/// `f(g, synapse, pixel)` with `pixel` the index of the synapse's input in the whole batch.
/// `WIN` is the window side when known at compile time (so the loops unroll), else 0.
#[inline(always)]
pub(crate) fn for_each_winning_synapse<const WIN: usize>(
    config: &crate::config::Config,
    dendrite: usize,
    winners: &[u32],
    grad: &[f32],
    mut f: impl FnMut(f32, usize, usize),
) {
    let (h, s, p, m) = (
        config.image_size,
        config.dendrite_side(),
        config.pooled_side(),
        config.dendrites,
    );
    let win = if WIN == 0 { config.window } else { WIN };
    let (ch, d) = (dendrite / m, dendrite % m);
    let features = config.features();
    for image in 0..winners.len() / features {
        let plane = (image * config.channels + ch) * h * h;
        for cell in 0..p * p {
            let out = image * features + (ch * p * p + cell) * m + d;
            let g = grad[out];
            if g == 0.0 {
                continue;
            }
            let (r, c) = (winners[out] as usize / s, winners[out] as usize % s);
            for i in 0..win {
                for j in 0..win {
                    f(g, i * win + j, plane + (r + i) * h + c + j);
                }
            }
        }
    }
}
