//! Presynaptic layer: each synapse maps its pixel to `Y`, the paper's `1/2 + atan(k·(x·w − q))/π`
//! or, as an ablation, the sigmoid of earlier dendritic neuron models. The kernels
//! ([`crate::kernels`]) evaluate it fused with the dendrite and membrane layers.

use crate::config::SynapseFn;

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
