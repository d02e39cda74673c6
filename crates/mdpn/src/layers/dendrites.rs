//! Dendrite layer: `D = Σ_rows ln(Π_cols (Y + c))` over each window position, for every dendrite,
//! computed fused with the presynaptic synapses before it and the membrane's max pool after it
//! by one of the [`crate::kernels`]. This file picks the kernel and runs it over the batch.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::kernels::lut::{Lut, Tables};
use crate::kernels::plain::Plain;
use crate::kernels::DendriteKernel;
use crate::parallel;

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
