//! Losses on the axon's logits, each with its gradient: cross-entropy over the softmax for
//! multi-class sets, binary cross-entropy over one sigmoid per label for multi-label sets.

use crate::layers::axon::{argmax, softmax};

/// Mean cross-entropy of `logits` `(B, classes)` against `labels`, with its gradient with respect
/// to the logits and the number of rows whose arg-max is the label. With label smoothing
/// `smoothing` = ε the target is `1 − ε` on the label plus `ε / classes` on every class, as
/// PyTorch's `CrossEntropyLoss(label_smoothing=ε)`; 0 is the plain loss, computed as before.
pub fn cross_entropy(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
    smoothing: f32,
) -> (f32, Vec<f32>, usize) {
    let batch = labels.len();
    let mut grad = logits.to_vec();
    softmax(&mut grad, classes);
    let mut loss = 0.0f64;
    let mut correct = 0;
    for ((row, probs), &label) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(labels)
    {
        let label = label as usize;
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
        if smoothing == 0.0 {
            loss += (lse - row[label]) as f64;
            probs[label] -= 1.0;
        } else {
            let spread = smoothing / classes as f32;
            let mean_nll = row.iter().map(|&v| (lse - v) as f64).sum::<f64>() / classes as f64;
            loss +=
                (1.0 - smoothing) as f64 * (lse - row[label]) as f64 + smoothing as f64 * mean_nll;
            probs[label] -= 1.0 - smoothing;
            for p in probs.iter_mut() {
                *p -= spread;
            }
        }
        if argmax(row) == label {
            correct += 1;
        }
        for p in probs.iter_mut() {
            *p /= batch as f32;
        }
    }
    ((loss / batch as f64) as f32, grad, correct)
}

/// Mean binary cross-entropy of `logits` `(B, labels)` against bit-mask `labels` (bit `l` set when
/// label `l` is present), averaged over every image and label as PyTorch's `BCEWithLogitsLoss`
/// does; with its gradient with respect to the logits and the number of label decisions (at
/// probability 0.5) that are right. Label smoothing ε moves each target `y` to
/// `y·(1 − ε) + ε/2`.
pub fn sigmoid_bce(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
    smoothing: f32,
) -> (f32, Vec<f32>, usize) {
    let n = (labels.len() * classes).max(1) as f32;
    let mut grad = vec![0.0; logits.len()];
    let mut loss = 0.0f64;
    let mut correct = 0;
    for ((row, g), &mask) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(labels)
    {
        for (l, (&z, g)) in row.iter().zip(g.iter_mut()).enumerate() {
            let y = (mask >> l) & 1;
            let t = y as f32 * (1.0 - smoothing) + smoothing / 2.0;
            // log(1 + e^-|z|) + max(z, 0) - z*t, stable for any z.
            loss += (z.max(0.0) - z * t + (-z.abs()).exp().ln_1p()) as f64;
            let p = 1.0 / (1.0 + (-z).exp());
            *g = (p - t) / n;
            if (z > 0.0) == (y == 1) {
                correct += 1;
            }
        }
    }
    ((loss / n as f64) as f32, grad, correct)
}
