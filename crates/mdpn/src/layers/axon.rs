//! Axon layer: `Linear(hidden → classes)`, read out as softmax probabilities (or one sigmoid per
//! label for a multi-label model).

use crate::config::{Config, Task};
use crate::layers::linear::Linear;

/// Logits `(B, classes)` of the soma output `h` `(B, hidden)`.
pub fn forward(layer: &Linear, h: &[f32]) -> Vec<f32> {
    layer.forward(h)
}

/// Adds the axon's parameter gradients into `grad` and returns the gradient of the soma output.
pub fn backward(layer: &Linear, h: &[f32], dlogits: &[f32], grad: &mut Linear) -> Vec<f32> {
    layer
        .backward(h, dlogits, grad, true)
        .expect("input gradient was asked for")
}

/// Turns logits `(B, classes)` of a model of `config` into probabilities in place: softmax, or
/// one sigmoid per label for a multi-label model.
pub fn activate(config: &Config, logits: &mut [f32]) {
    match config.task {
        Task::MultiClass => softmax(logits, config.classes),
        Task::MultiLabel => sigmoid(logits),
    }
}

/// Softmax of each row of `logits` `(B, classes)`, in place.
pub fn softmax(logits: &mut [f32], classes: usize) {
    for row in logits.chunks_exact_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// Index of the largest value; the first one on ties.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Logistic sigmoid of every value, in place: the per-label probabilities of a multi-label model.
pub fn sigmoid(logits: &mut [f32]) {
    for v in logits.iter_mut() {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}
