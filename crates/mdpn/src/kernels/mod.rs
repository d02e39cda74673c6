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
//!
//! [`forward`] and [`backward`] pick the kernel for a batch and run it over the images (forward)
//! or the dendrites (backward) in parallel.

pub mod int16;
pub mod lut;
pub mod plain;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::parallel;
use lut::{Lut, Tables};
use plain::Plain;

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

/// Runs `f` with the kernel that `choice` selects for `images`. `tables` must be given when
/// the 8-bit kernel may run. That kernel computes only the paper's synapse and integration:
/// this is the one place where other settings (ablations) fall back to the plain kernel.
fn with_kernel<T>(
    config: &Config,
    (w, q): (&[f32], &[f32]),
    images: Images,
    choice: KernelChoice,
    tables: Option<&Tables>,
    f: impl FnOnce(&dyn DendriteKernel) -> T,
) -> T {
    let normalised: Vec<f32>;
    let choice = if config.paper_functions() {
        choice
    } else {
        KernelChoice::Plain
    };
    let x = match (images, choice, tables) {
        (Images::U8(x), KernelChoice::Fast, Some(tables)) => return f(&Lut { tables, images: x }),
        (Images::U8(x), _, _) => {
            normalised = x.iter().map(|&v| config.normalise(v)).collect();
            &normalised
        }
        (Images::F32(x), _, _) => x,
    };
    f(&Plain {
        config,
        w,
        q,
        images: x,
    })
}

/// Presynaptic → dendrite → membrane for a batch of `batch` images: the pooled membrane values
/// `(B, features)` and the winning window of each. `tables` must be those of `config` and
/// `synapses`; tables of other parameters are refused with [`Error::ForeignTables`], whichever
/// model (f32 or int8) passes them on.
pub fn forward(
    config: &Config,
    synapses: (&[f32], &[f32]),
    images: Images,
    batch: usize,
    choice: KernelChoice,
    tables: Option<&Tables>,
) -> Result<(Vec<f32>, Vec<u32>)> {
    if tables.is_some_and(|t| !t.tabulates(config, synapses.0, synapses.1)) {
        return Err(Error::ForeignTables);
    }
    let features = config.features();
    let mut membrane = vec![0.0; batch * features];
    let mut winners = vec![0u32; batch * features];
    with_kernel(config, synapses, images, choice, tables, |kernel| {
        parallel::for_each_chunk2(
            &mut membrane,
            features,
            &mut winners,
            features,
            |i, pooled, win| kernel.forward(i, pooled, win),
        )
    });
    Ok((membrane, winners))
}

/// Membrane → dendrite → presynaptic backward: adds to `dw` and `dq` the gradient of the loss
/// given the gradient of the membrane output `dmembrane` and the winners of [`forward`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    config: &Config,
    synapses: (&[f32], &[f32]),
    images: Images,
    choice: KernelChoice,
    tables: Option<&Tables>,
    winners: &[u32],
    dmembrane: &[f32],
    (dw, dq): (&mut [f32], &mut [f32]),
) {
    let syn = config.synapses();
    with_kernel(config, synapses, images, choice, tables, |kernel| {
        parallel::for_each_chunk2(dw, syn, dq, syn, |dendrite, dw, dq| {
            kernel.backward(dendrite, winners, dmembrane, dw, dq)
        })
    });
}
