//! Membrane layer: max pool over `pool × pool` cells of window positions, stride `pool`, floor.

use crate::config::Config;

/// Pools one image's dendrite output `(C, S, S, M)` into `(C, P, P, M)`.
///
/// Writes into `winners` the window (`row * S + col`) that won each cell. Ties go to the first
/// window in row-major order, which also receives the whole gradient, as in PyTorch.
pub fn max_pool(config: &Config, dendrites: &[f32], pooled: &mut [f32], winners: &mut [u32]) {
    let (s, p, m, k) = (
        config.dendrite_side(),
        config.pooled_side(),
        config.dendrites,
        config.pool,
    );
    for ch in 0..config.channels {
        let plane = &dendrites[ch * s * s * m..][..s * s * m];
        for pr in 0..p {
            for pc in 0..p {
                let out = ((ch * p + pr) * p + pc) * m;
                for d in 0..m {
                    let mut best = f32::NEG_INFINITY;
                    let mut winner = (pr * k * s + pc * k) as u32;
                    for r in pr * k..(pr + 1) * k {
                        for c in pc * k..(pc + 1) * k {
                            let v = plane[(r * s + c) * m + d];
                            if v > best {
                                best = v;
                                winner = (r * s + c) as u32;
                            }
                        }
                    }
                    pooled[out + d] = best;
                    winners[out + d] = winner;
                }
            }
        }
    }
}
