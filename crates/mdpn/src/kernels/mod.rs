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

pub mod int16;
pub mod lut;
pub mod plain;

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
