//! The reference kernel: every synapse evaluated with `atan` and `ln`, as the paper writes it.

use super::{for_each_winning_synapse, synapse, DendriteKernel};
use crate::config::Config;
use crate::membrane;

/// Dendrite layer output of one normalised image `(C, H, W)`: `(C, S, S, M)` with
/// `D = Σ_rows ln(Π_cols (Y + c))`.
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
                        let mut product = 1.0;
                        for j in 0..win {
                            let x = plane[(r + i) * h + c + j];
                            let (y, _) = synapse(
                                x,
                                w[base + i * win + j],
                                q[base + i * win + j],
                                config.k,
                                config.c,
                            );
                            product *= y + config.c;
                        }
                        sum += f32::ln(product);
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
        let cfg = self.config;
        let base = dendrite * cfg.synapses();
        for_each_winning_synapse::<0>(cfg, dendrite, winners, grad, |g, at, pixel| {
            let xv = self.images[pixel];
            let (_, dz) = synapse(xv, self.w[base + at], self.q[base + at], cfg.k, cfg.c);
            dw[at] += g * dz * xv;
            dq[at] -= g * dz;
        });
    }
}
