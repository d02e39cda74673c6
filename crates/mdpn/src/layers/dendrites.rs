//! Dendrite layer: `D = Σ_rows ln(Π_cols (Y + c))` over each window position, for every dendrite.
//! The kernels ([`crate::kernels`]) compute it fused with the presynaptic synapses before it and
//! the membrane's max pool after it; this file holds what a row of a window integrates to.

use crate::config::Integration;

/// The value of one row of a window from its synapse outputs `v = Y + c`: the paper's
/// `ln Π_cols`, or the sum or product of the ablations.
pub fn integrate_row(integration: Integration, v: impl Iterator<Item = f32>) -> f32 {
    match integration {
        Integration::LogProduct => f32::ln(v.product()),
        Integration::Sum => v.sum(),
        Integration::Product => v.product(),
    }
}
