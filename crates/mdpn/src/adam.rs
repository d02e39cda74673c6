//! Adam, as PyTorch computes it; with decoupled weight decay it is PyTorch's AdamW (the paper
//! trains with plain Adam, decay 0).

use serde::{Deserialize, Serialize};

use crate::parallel;
use crate::trainable::ParamSet;

/// Parameters updated by one task.
const UPDATE_CHUNK: usize = 1 << 14;

/// Adam's settings and its moment estimates for every parameter tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay: each update first shrinks every parameter by `lr · weight_decay`.
    /// Checkpoints written before it existed have none.
    #[serde(default)]
    pub weight_decay: f32,
    /// Updates taken so far.
    pub steps: u64,
    /// First moments, one vector per tensor in `ParamSet::tensors` order.
    pub m: Vec<Vec<f32>>,
    /// Second moments, same layout.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8) and learning rate `lr`.
    pub fn new<P: ParamSet>(params: &P, lr: f32) -> Adam {
        let zeros: Vec<Vec<f32>> = params
            .tensors()
            .iter()
            .map(|t| vec![0.0; t.len()])
            .collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            steps: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    /// One update of `params` along `grads`.
    pub fn step<P: ParamSet>(&mut self, params: &mut P, grads: &P) {
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - self.beta1.powi(t);
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = self.lr / bias1;
        let shrink = 1.0 - self.lr * self.weight_decay;
        let (beta1, beta2, eps, decay) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        // `move`: the settings copied in, not borrowed, so that the loop vectorises (five
        // times the instructions otherwise, under callgrind).
        let update = move |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                if decay != 0.0 {
                    *p *= shrink;
                }
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                let denom = v.sqrt() / bias2_sqrt + eps;
                *p -= step_size * *m / denom;
            }
        };
        for (((p, g), m), v) in params
            .tensors_mut()
            .into_iter()
            .zip(grads.tensors())
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            // Every parameter is updated on its own, so the pieces may run on any thread.
            parallel::for_each_chunk3(p, m, v, UPDATE_CHUNK, |i, p, m, v| {
                update(p, &g[i * UPDATE_CHUNK..][..p.len()], m, v)
            });
        }
    }
}
