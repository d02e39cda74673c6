//! The 8-bit kernel: tables of `ln(Y + c)` over the 256 pixel values replace every `atan` and `ln`.
//!
//! A dendrite value is a sum of 25 table entries. Tables hold [`LANES`] dendrites side by side,
//! so one look-up adds a whole vector of dendrites at once; a group of `LANES` dendrites' tables
//! (25 × 256 × 8 floats, 200 KiB) stays in the core's cache while every window of the image is
//! summed. The max pool is fused into the loop, so the full dendrite output is never stored.

use super::{synapse, DendriteKernel};
use crate::config::Config;
use crate::parallel;

/// Dendrites processed together: one 256-bit vector of f32.
pub const LANES: usize = 8;

/// Per-pixel-value tables for the current parameters.
pub struct Tables {
    config: Config,
    groups: usize,
    /// `ln(Y + c)`, indexed `[((channel·groups + group)·synapses + synapse)·256 + pixel][lane]`.
    ln: Vec<[f32; LANES]>,
    /// `d ln(Y + c) / d(x·w − q)` with the same layout; empty when built for inference only.
    dln: Vec<[f32; LANES]>,
    /// The normalised value of each pixel value.
    xval: [f32; 256],
}

impl Tables {
    /// Tabulates the synapses of weights `w` and thresholds `q` (layout (C, M, window, window)),
    /// with derivative tables when `with_grad`.
    pub fn new(config: &Config, w: &[f32], q: &[f32], with_grad: bool) -> Tables {
        let groups = config.dendrites.div_ceil(LANES);
        let syn = config.synapses();
        let len = config.channels * groups * syn * 256;
        let mut xval = [0.0; 256];
        for (v, x) in xval.iter_mut().enumerate() {
            *x = config.normalise(v as u8);
        }
        let mut ln = vec![[0.0; LANES]; len];
        let mut dln = vec![[0.0; LANES]; if with_grad { len } else { 0 }];
        let fill = |block: usize, ln: &mut [[f32; LANES]], dln: &mut [[f32; LANES]]| {
            // One block: one channel, one group of dendrites, one synapse position.
            let at = block % syn;
            let group = block / syn % groups;
            let ch = block / syn / groups;
            for lane in 0..LANES {
                let d = group * LANES + lane;
                if d >= config.dendrites {
                    break;
                }
                let p = (ch * config.dendrites + d) * syn + at;
                for (v, &x) in xval.iter().enumerate() {
                    let (y, dz) = synapse(x, w[p], q[p], config.k, config.c);
                    ln[v][lane] = (y + config.c).ln();
                    if let Some(row) = dln.get_mut(v) {
                        row[lane] = dz;
                    }
                }
            }
        };
        if with_grad {
            parallel::for_each_chunk2(&mut ln, 256, &mut dln, 256, fill);
        } else {
            parallel::for_each_chunk(&mut ln, 256, |block, ln| fill(block, ln, &mut []));
        }
        Tables {
            config: config.clone(),
            groups,
            ln,
            dln,
            xval,
        }
    }
}

/// The 8-bit kernel over a batch of raw images `(B, C, H, W)`.
pub struct Lut<'a> {
    pub tables: &'a Tables,
    pub images: &'a [u8],
}

impl Lut<'_> {
    fn image(&self, index: usize) -> &[u8] {
        let len = self.tables.config.image_len();
        &self.images[index * len..][..len]
    }

    /// The forward pass, compiled for whatever vector width the caller enables.
    #[inline(always)]
    fn forward_impl(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        let t = self.tables;
        let cfg = &t.config;
        let (h, s, p, m, k, win) = (
            cfg.image_size,
            cfg.dendrite_side(),
            cfg.pooled_side(),
            cfg.dendrites,
            cfg.pool,
            cfg.window,
        );
        let syn = cfg.synapses();
        let img = self.image(image);
        for ch in 0..cfg.channels {
            let plane = &img[ch * h * h..][..h * h];
            for group in 0..t.groups {
                let table = &t.ln[(ch * t.groups + group) * syn * 256..][..syn * 256];
                let lanes = LANES.min(m - group * LANES);
                for pr in 0..p {
                    for pc in 0..p {
                        let mut best = [f32::NEG_INFINITY; LANES];
                        let mut winner = [0u32; LANES];
                        for r in pr * k..(pr + 1) * k {
                            for c in pc * k..(pc + 1) * k {
                                let mut acc = [0.0f32; LANES];
                                for i in 0..win {
                                    let row = &plane[(r + i) * h + c..][..win];
                                    let tab = &table[i * win * 256..][..win * 256];
                                    for (j, &v) in row.iter().enumerate() {
                                        let e = &tab[j * 256 + v as usize];
                                        for l in 0..LANES {
                                            acc[l] += e[l];
                                        }
                                    }
                                }
                                let here = (r * s + c) as u32;
                                for l in 0..LANES {
                                    if acc[l] > best[l] {
                                        best[l] = acc[l];
                                        winner[l] = here;
                                    }
                                }
                            }
                        }
                        let out = ((ch * p + pr) * p + pc) * m + group * LANES;
                        pooled[out..out + lanes].copy_from_slice(&best[..lanes]);
                        winners[out..out + lanes].copy_from_slice(&winner[..lanes]);
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        self.forward_impl(image, pooled, winners)
    }
}

impl DendriteKernel for Lut<'_> {
    fn forward(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.forward_avx2(image, pooled, winners) };
        }
        self.forward_impl(image, pooled, winners)
    }

    fn backward(
        &self,
        image: usize,
        winners: &[u32],
        grad: &[f32],
        dw: &mut [f32],
        dq: &mut [f32],
    ) {
        let t = self.tables;
        assert!(!t.dln.is_empty(), "tables built without derivatives");
        let cfg = &t.config;
        let (h, s, p, m, win) = (
            cfg.image_size,
            cfg.dendrite_side(),
            cfg.pooled_side(),
            cfg.dendrites,
            cfg.window,
        );
        let syn = cfg.synapses();
        let img = self.image(image);
        for (cell, (&g, &winner)) in grad.iter().zip(winners).enumerate() {
            if g == 0.0 {
                continue;
            }
            let ch = cell / (p * p * m);
            let d = cell % m;
            let (group, lane) = (d / LANES, d % LANES);
            let table = &t.dln[(ch * t.groups + group) * syn * 256..][..syn * 256];
            let (r, c) = (winner as usize / s, winner as usize % s);
            let base = (ch * m + d) * syn;
            for i in 0..win {
                for j in 0..win {
                    let v = img[(ch * h + r + i) * h + c + j] as usize;
                    let at = i * win + j;
                    let dz = g * table[at * 256 + v][lane];
                    dw[base + at] += dz * t.xval[v];
                    dq[base + at] -= dz;
                }
            }
        }
    }
}
