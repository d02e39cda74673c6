//! The reference kernel: every synapse evaluated with `atan` and `ln`, as the paper writes it.
//! It also computes the ablation settings (sigmoid synapses, sum or product integration) that
//! the table kernel does not.

use super::DendriteKernel;
use crate::config::{Config, Integration};
use crate::layers::dendrites::integrate_row;
use crate::layers::membrane::{self, for_each_winning_synapse};
use crate::layers::synapse::synapse;

/// Dendrite layer output of one normalised image `(C, H, W)`: `(C, S, S, M)` with
/// `D = Σ_rows g(Y + c)` and `g` the row integration of the configuration (the paper's
/// `ln Π_cols`).
pub fn dendrites(config: &Config, w: &[f32], q: &[f32], image: &[f32]) -> Vec<f32> {
    let (h, s, m, win) = (
        config.image_size,
        config.dendrite_side(),
        config.dendrites,
        config.window,
    );
    let syn = config.synapses();
    let mut out = vec![0.0; config.channels * s * s * m];
    for ch in 0..config.channels {
        let plane = &image[ch * h * h..][..h * h];
        for r in 0..s {
            for c in 0..s {
                for d in 0..m {
                    let base = (ch * m + d) * syn;
                    let mut sum = 0.0;
                    for i in 0..win {
                        let row = (0..win).map(|j| {
                            let x = plane[(r + i) * h + c + j];
                            let at = base + i * win + j;
                            synapse(config.synapse, x, w[at], q[at], config.k).0 + config.c
                        });
                        sum += integrate_row(config.integration, row);
                    }
                    out[((ch * s + r) * s + c) * m + d] = sum;
                }
            }
        }
    }
    out
}

/// The reference kernel over a batch of normalised float images `(B, C, H, W)`.
pub struct Plain<'a> {
    pub config: &'a Config,
    pub w: &'a [f32],
    pub q: &'a [f32],
    pub images: &'a [f32],
}

impl Plain<'_> {
    fn image(&self, index: usize) -> &[f32] {
        let len = self.config.image_len();
        &self.images[index * len..][..len]
    }

    /// Calls `f(g, at, pixel, dD/dz)` for every synapse that the gradient `grad` of the pooled
    /// values reaches through one dendrite's winning windows, with `z = x·w − q` of that
    /// synapse at that pixel.
    fn for_each_synapse_slope(
        &self,
        dendrite: usize,
        winners: &[u32],
        grad: &[f32],
        mut f: impl FnMut(f32, usize, usize, f32),
    ) {
        let cfg = self.config;
        let (base, win) = (dendrite * cfg.synapses(), cfg.window);
        let output = |pixel: usize, at: usize| {
            synapse(
                cfg.synapse,
                self.images[pixel],
                self.w[base + at],
                self.q[base + at],
                cfg.k,
            )
        };
        for_each_winning_synapse(cfg, dendrite, winners, grad, |g, at, pixel| {
            let (y, dy) = output(pixel, at);
            // dD/dz of this synapse, z = x·w − q.
            let dz = match cfg.integration {
                Integration::LogProduct => dy / (y + cfg.c),
                Integration::Sum => dy,
                Integration::Product => {
                    // The product of the other synapses of the same row of the window.
                    let j = at % win;
                    let others: f32 = (0..win)
                        .filter(|&jj| jj != j)
                        .map(|jj| output(pixel - j + jj, at - j + jj).0 + cfg.c)
                        .product();
                    dy * others
                }
            };
            f(g, at, pixel, dz);
        });
    }

    /// The gradient with respect to every input value `(B, C, H, W)` of the loss whose gradient
    /// with respect to the pooled values is `grad` `(B, features)`: the saliency of the pixels.
    /// Dendrites are summed in order, so the result does not depend on threads.
    pub fn input_gradient(&self, winners: &[u32], grad: &[f32]) -> Vec<f32> {
        let cfg = self.config;
        let mut dx = vec![0.0; self.images.len()];
        for dendrite in 0..cfg.channels * cfg.dendrites {
            let base = dendrite * cfg.synapses();
            self.for_each_synapse_slope(dendrite, winners, grad, |g, at, pixel, dz| {
                dx[pixel] += g * dz * self.w[base + at];
            });
        }
        dx
    }
}

impl DendriteKernel for Plain<'_> {
    fn forward(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        let d = dendrites(self.config, self.w, self.q, self.image(image));
        membrane::max_pool(self.config, &d, pooled, winners);
    }

    fn backward(
        &self,
        dendrite: usize,
        winners: &[u32],
        grad: &[f32],
        dw: &mut [f32],
        dq: &mut [f32],
    ) {
        self.for_each_synapse_slope(dendrite, winners, grad, |g, at, pixel, dz| {
            dw[at] += g * dz * self.images[pixel];
            dq[at] -= g * dz;
        });
    }
}
