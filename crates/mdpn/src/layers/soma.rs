//! Soma layer: the flattened membrane output through `Linear(→ hidden)` and ReLU.

use crate::layers::linear::Linear;

/// `h = ReLU(W x + b)` for a batch `(B, features)` → `(B, hidden)`.
pub fn forward(layer: &Linear, membrane: &[f32]) -> Vec<f32> {
    let mut h = layer.forward(membrane);
    for v in &mut h {
        *v = v.max(0.0);
    }
    h
}

/// Adds the soma's parameter gradients into `grad` and returns the gradient of the membrane
/// output. `dh` is the gradient of the soma's output `h`.
pub fn backward(
    layer: &Linear,
    membrane: &[f32],
    h: &[f32],
    mut dh: Vec<f32>,
    grad: &mut Linear,
) -> Vec<f32> {
    for (g, &v) in dh.iter_mut().zip(h) {
        if v <= 0.0 {
            *g = 0.0;
        }
    }
    layer
        .backward(membrane, &dh, grad, true)
        .expect("input gradient was asked for")
}
