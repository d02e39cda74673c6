//! Membrane layer: max pool over `pool × pool` cells of window positions, stride `pool`, floor.
//! Forward keeps the winning window of every cell; backward sends each cell's gradient to that
//! window alone. The kernels ([`crate::kernels`]) fuse both with the dendrites.

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

/// Membrane backward, for one dendrite: the windows that its gradient reaches. For every
/// image and pooled cell with a non-zero gradient `g`, calls `f(g, start)` with `start` the
/// index, in the whole batch, of the winning window's first (top left) input.
#[inline(always)]
pub(crate) fn for_each_winning_window(
    config: &Config,
    dendrite: usize,
    winners: &[u32],
    grad: &[f32],
    mut f: impl FnMut(f32, usize),
) {
    let (h, s, p, m) = (
        config.image_size,
        config.dendrite_side(),
        config.pooled_side(),
        config.dendrites,
    );
    let (ch, d) = (dendrite / m, dendrite % m);
    let features = config.features();
    // Where each window starts in its image plane, without dividing by the side every time.
    let starts: Vec<usize> = (0..s)
        .flat_map(|r| (0..s).map(move |c| r * h + c))
        .collect();
    for image in 0..winners.len() / features {
        let plane = (image * config.channels + ch) * h * h;
        for cell in 0..p * p {
            let out = image * features + (ch * p * p + cell) * m + d;
            let g = grad[out];
            if g != 0.0 {
                f(g, plane + starts[winners[out] as usize]);
            }
        }
    }
}

/// [`for_each_winning_window`], synapse by synapse: calls `f(g, synapse, pixel)` for each
/// synapse of each winning window, with `pixel` the index of its input in the whole batch.
pub(crate) fn for_each_winning_synapse(
    config: &Config,
    dendrite: usize,
    winners: &[u32],
    grad: &[f32],
    mut f: impl FnMut(f32, usize, usize),
) {
    let (h, win) = (config.image_size, config.window);
    for_each_winning_window(config, dendrite, winners, grad, |g, start| {
        for i in 0..win {
            for j in 0..win {
                f(g, i * win + j, start + i * h + j);
            }
        }
    });
}
