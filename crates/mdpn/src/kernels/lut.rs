//! The 8-bit kernel: tables of `ln(Y + c)` over the 256 pixel values replace every `atan` and `ln`.
//!
//! A dendrite value is a sum of 25 table entries. Tables hold [`LANES`] dendrites side by side,
//! so one look-up adds a whole vector of dendrites at once; a group of `LANES` dendrites' tables
//! (25 × 256 × 8 floats, 200 KiB) stays in the core's cache while every window of the image is
//! summed. The max pool is fused into the loop, so the full dendrite output is never stored.

use super::DendriteKernel;
use crate::config::Config;
use crate::layers::membrane::for_each_winning_synapse;
use crate::parallel;

/// Dendrites processed together: one 256-bit vector of f32.
pub const LANES: usize = 8;

/// Entries between the tables of neighbouring synapses: 256 values plus two unused entries
/// (64 bytes), so that the 25 tables of a window do not start 8 KiB apart, which would map a
/// pixel value's 25 entries onto the same cache set and evict them from each other.
const STRIDE: usize = 258;

/// One table entry: the values of [`LANES`] dendrites, aligned so that a vector load never
/// straddles two cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
pub struct Entry(pub [f32; LANES]);

/// Which compilation of the kernel's loops runs: AVX2 where the CPU has it, else portable code.
/// Every sum keeps its order in both, so they give the same bits; the tests run both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The best one this CPU runs. [`Isa::Avx2`] is only ever made here, after the check.
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// Per-pixel-value tables of one model's parameters. They borrow the configuration and
/// parameters they tabulate, so those cannot change while the tables live (a compile error),
/// and [`Tables::tabulates`] tells whether they belong to a given model.
pub struct Tables<'a> {
    config: &'a Config,
    /// The parameters tabulated, for the derivatives of the backward pass.
    w: &'a [f32],
    q: &'a [f32],
    isa: Isa,
    groups: usize,
    /// `ln(Y + c) − ln(Y₀ + c)`, where `Y₀` is the synapse's output at pixel value 0, one table
    /// per synapse, indexed `[(channel·groups + group)·synapses + synapse][pixel][lane]`. Entry 0
    /// is zero, so the background of an image adds nothing and can be skipped.
    ln: Vec<[Entry; STRIDE]>,
    /// `Σ ln(Y₀ + c)` over the synapses of each group of dendrites, `[channel·groups + group]`:
    /// the value of a window on a blank background, where every dendrite sum starts.
    base: Vec<Entry>,
    /// The normalised value of each pixel value.
    xval: [f32; 256],
}

impl<'a> Tables<'a> {
    /// Tabulates the synapses of weights `w` and thresholds `q` (layout (C, M, window, window)).
    pub(crate) fn new(config: &'a Config, w: &'a [f32], q: &'a [f32]) -> Tables<'a> {
        Tables::for_isa(config, w, q, Isa::detect())
    }

    /// [`Tables::new`] whose kernel runs the loops compiled for `isa`.
    fn for_isa(config: &'a Config, w: &'a [f32], q: &'a [f32], isa: Isa) -> Tables<'a> {
        let groups = config.dendrites.div_ceil(LANES);
        let syn = config.synapses();
        let mut xval = [0.0; 256];
        for (v, x) in xval.iter_mut().enumerate() {
            *x = config.normalise(v as u8);
        }
        let mut ln = vec![[Entry::default(); STRIDE]; config.channels * groups * syn];
        // One block of tables: one channel, one group of dendrites.
        parallel::for_each_chunk(&mut ln, syn, |block, ln| {
            let (ch, group) = (block / groups, block % groups);
            for lane in 0..LANES.min(config.dendrites - group * LANES) {
                for (at, table) in ln.iter_mut().enumerate() {
                    let p = (ch * config.dendrites + group * LANES + lane) * syn + at;
                    let mut row = [0.0f32; 256];
                    rows(isa, config, &xval, w[p], q[p], Some(&mut row), None);
                    // Entry 0 keeps the value at 0 itself until the base sums are taken.
                    table[0].0[lane] = row[0];
                    for (e, v) in table[1..].iter_mut().zip(&row[1..]) {
                        e.0[lane] = v - row[0];
                    }
                }
            }
        });
        // The base sums, in synapse order, then entry 0 becomes the zero difference.
        let base = ln
            .chunks_exact_mut(syn)
            .map(|block| {
                let mut sum = Entry::default();
                for table in block {
                    sum = Entry(std::array::from_fn(|l| sum.0[l] + table[0].0[l]));
                    table[0] = Entry::default();
                }
                sum
            })
            .collect();
        Tables {
            config,
            w,
            q,
            isa,
            groups,
            ln,
            base,
            xval,
        }
    }

    /// Whether these are the tables of exactly this configuration and these parameters: the
    /// same memory, which the borrow keeps unchanged, so a check of three addresses suffices.
    pub(crate) fn tabulates(&self, config: &Config, w: &[f32], q: &[f32]) -> bool {
        std::ptr::eq(self.config, config) && std::ptr::eq(self.w, w) && std::ptr::eq(self.q, q)
    }
}

/// One synapse's `ln(Y + c)` and its derivative `d ln(Y + c) / d(x·w − q)` for all 256 pixel
/// values, each when asked for.
fn rows(
    isa: Isa,
    config: &Config,
    xval: &[f32; 256],
    w: f32,
    q: f32,
    ln: Option<&mut [f32; 256]>,
    dln: Option<&mut [f32; 256]>,
) {
    match isa {
        // SAFETY: `Isa::Avx2` is only made after checking that the CPU supports AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { rows_avx2(config, xval, w, q, ln, dln) },
        Isa::Portable => rows_impl(config, xval, w, q, ln, dln),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_avx2(
    config: &Config,
    xval: &[f32; 256],
    w: f32,
    q: f32,
    ln: Option<&mut [f32; 256]>,
    dln: Option<&mut [f32; 256]>,
) {
    rows_impl(config, xval, w, q, ln, dln)
}

/// The synapse of [`synapse`](super::synapse), with branch-free `atan` and `ln` that the
/// compiler vectorises across pixel values. Tests hold it to the reference within 1e-6.
#[inline(always)]
fn rows_impl(
    config: &Config,
    xval: &[f32; 256],
    w: f32,
    q: f32,
    ln: Option<&mut [f32; 256]>,
    dln: Option<&mut [f32; 256]>,
) {
    let (k, c) = (config.k, config.c);
    let z = xval.map(|x| k * (x * w - q));
    let yc = z.map(|z| 0.5 + atan(z) * std::f32::consts::FRAC_1_PI + c);
    if let Some(ln) = ln {
        for (l, &yc) in ln.iter_mut().zip(&yc) {
            *l = ln_positive(yc);
        }
    }
    if let Some(dln) = dln {
        for ((d, &z), &yc) in dln.iter_mut().zip(&z).zip(&yc) {
            *d = k * std::f32::consts::FRAC_1_PI / ((1.0 + z * z) * yc);
        }
    }
}

/// Arctangent, branch-free (Cephes `atanf`: relative error about 1e-7).
#[inline(always)]
fn atan(x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, FRAC_PI_4};
    let a = x.abs();
    let big = a > 2.414_213_6; // tan(3π/8)
    let mid = a > 0.414_213_57; // tan(π/8)
    let t = if big {
        -1.0 / a
    } else if mid {
        (a - 1.0) / (a + 1.0)
    } else {
        a
    };
    let base = if big {
        FRAC_PI_2
    } else if mid {
        FRAC_PI_4
    } else {
        0.0
    };
    let z = t * t;
    let p =
        (((8.053_744_5e-2 * z - 1.387_768_6e-1) * z + 1.997_771_1e-1) * z - 3.333_295e-1) * z * t
            + t;
    (base + p).copysign(x)
}

/// Natural logarithm of a positive normal number, branch-free: `y = 2^e·m` with `m` in
/// [√½, √2), then `ln m = 2·atanh((m − 1)/(m + 1))` by its series (error below 1e-10).
#[inline(always)]
fn ln_positive(y: f32) -> f32 {
    let bits = y.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series =
        1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 / 11.0))));
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * series
}

/// The 8-bit kernel over a batch of raw images `(B, C, H, W)`.
pub struct Lut<'a> {
    pub tables: &'a Tables<'a>,
    pub images: &'a [u8],
}

impl Lut<'_> {
    fn image(&self, index: usize) -> &[u8] {
        let len = self.tables.config.image_len();
        &self.images[index * len..][..len]
    }

    /// The forward pass, written once and compiled for each instruction set it is called from.
    ///
    /// For one group of dendrites it sweeps the window rows one at a time: each adds its five
    /// table entries to the running sums of every window. One row's tables (40 KiB, of which
    /// only the pixel values present are touched) and the sums of all windows (18 KiB at
    /// 28×28) then stay in the L1 cache, where looking up all 25 tables per window would keep
    /// missing it. Each sum still adds its 25 terms in row-major synapse order, so every
    /// instruction set gives the same bits.
    #[inline(always)]
    fn forward_impl<const WIN: usize>(
        &self,
        image: usize,
        pooled: &mut [f32],
        winners: &mut [u32],
    ) {
        let t = self.tables;
        let cfg = t.config;
        let (h, s, p, m, k) = (
            cfg.image_size,
            cfg.dendrite_side(),
            cfg.pooled_side(),
            cfg.dendrites,
            cfg.pool,
        );
        // A window side known at compile time lets the compiler unroll the five look-ups.
        let win = if WIN == 0 { cfg.window } else { WIN };
        let used = p * k; // window positions per side that reach the pool; the rest are dropped
        let syn = cfg.synapses();
        let img = self.image(image);
        let mut sums = vec![Entry::default(); used * used];
        for ch in 0..cfg.channels {
            let plane = &img[ch * h * h..][..h * h];
            // For each image row, the windows that see a non-zero pixel in it: the others add
            // only zero differences.
            let spans: Vec<(usize, usize)> = plane
                .chunks_exact(h)
                .map(|row| match row.iter().position(|&v| v != 0) {
                    Some(first) => {
                        let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
                        (
                            first.saturating_sub(win - 1).min(used),
                            (last + 1).min(used),
                        )
                    }
                    None => (0, 0),
                })
                .collect();
            for group in 0..t.groups {
                let block = ch * t.groups + group;
                let table = &t.ln[block * syn..][..syn];
                sums.fill(t.base[block]);
                for (i, tabs) in table.chunks_exact(win).enumerate() {
                    let rows = (&spans[i..i + used], &plane[i * h..]);
                    match <&[[Entry; STRIDE]; WIN]>::try_from(tabs) {
                        Ok(tabs) if WIN > 0 => sweep(&mut sums, tabs, rows, h),
                        _ => sweep(&mut sums, tabs, rows, h),
                    }
                }
                let lanes = LANES.min(m - group * LANES);
                for pr in 0..p {
                    for pc in 0..p {
                        let mut best = [f32::NEG_INFINITY; LANES];
                        let mut winner = [0u32; LANES];
                        for r in pr * k..(pr + 1) * k {
                            for c in pc * k..(pc + 1) * k {
                                let sum = &sums[r * used + c].0;
                                let here = (r * s + c) as u32;
                                for l in 0..LANES {
                                    // Strictly greater: ties keep the first window.
                                    if sum[l] > best[l] {
                                        best[l] = sum[l];
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
        self.forward_sized(image, pooled, winners)
    }

    /// [`Self::forward_impl`] for the paper's 5×5 window, or for any window.
    #[inline(always)]
    fn forward_sized(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        if self.tables.config.window == 5 {
            self.forward_impl::<5>(image, pooled, winners)
        } else {
            self.forward_impl::<0>(image, pooled, winners)
        }
    }
}

/// Adds one row of every window's synapses to the window sums `(used, used)`: `tabs` holds the
/// row's tables; `spans[r]` the windows that see a non-zero pixel in image row `r` of `plane`
/// (side `h`). Inlined where the number of tables is a constant, the inner loop unrolls.
#[inline(always)]
fn sweep(
    sums: &mut [Entry],
    tabs: &[[Entry; STRIDE]],
    (spans, plane): (&[(usize, usize)], &[u8]),
    h: usize,
) {
    let used = spans.len();
    for ((r, &(lo, hi)), row_sums) in spans.iter().enumerate().zip(sums.chunks_exact_mut(used)) {
        let pixels = &plane[r * h..][..used + tabs.len() - 1];
        for (sum, px) in row_sums[lo..hi.max(lo)]
            .iter_mut()
            .zip(pixels[lo..].windows(tabs.len()))
        {
            let mut acc = sum.0;
            for (tab, &v) in tabs.iter().zip(px) {
                let e = &tab[v as usize].0;
                acc = std::array::from_fn(|l| acc[l] + e[l]);
            }
            *sum = Entry(acc);
        }
    }
}

impl DendriteKernel for Lut<'_> {
    fn forward(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        match self.tables.isa {
            // SAFETY: `Isa::Avx2` is only made after checking that the CPU supports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.forward_avx2(image, pooled, winners) },
            Isa::Portable => self.forward_sized(image, pooled, winners),
        }
    }

    /// The derivative of a synapse depends only on the pixel value it sees, so the gradient
    /// reaching each (synapse, pixel value) is summed first, over all the winning windows of the
    /// batch; then one pass over the 256 values per synapse applies the derivatives.
    fn backward(
        &self,
        dendrite: usize,
        winners: &[u32],
        grad: &[f32],
        dw: &mut [f32],
        dq: &mut [f32],
    ) {
        let t = self.tables;
        let (cfg, syn) = (t.config, t.config.synapses());
        let mut reaching = vec![[0.0f32; 256]; syn];
        let mut add = |g: f32, at: usize, pixel: usize| {
            reaching[at][self.images[pixel] as usize] += g;
        };
        if cfg.window == 5 {
            for_each_winning_synapse::<5>(cfg, dendrite, winners, grad, &mut add);
        } else {
            for_each_winning_synapse::<0>(cfg, dendrite, winners, grad, &mut add);
        }
        for (at, reaching) in reaching.iter().enumerate() {
            let p = dendrite * syn + at;
            let mut dln = [0.0f32; 256];
            rows(t.isa, cfg, &t.xval, t.w[p], t.q[p], None, Some(&mut dln));
            let (gw, gq) = dot2(reaching, &dln, &t.xval);
            dw[at] += gw;
            dq[at] -= gq;
        }
    }
}

/// `(Σ r·d·x, Σ r·d)` over 256 values, summed in eight interleaved partial sums (so that it
/// vectorises) and then in lane order.
fn dot2(r: &[f32; 256], d: &[f32; 256], x: &[f32; 256]) -> (f32, f32) {
    let (mut sw, mut sq) = ([0.0f32; LANES], [0.0f32; LANES]);
    for ((r, d), x) in r
        .chunks_exact(LANES)
        .zip(d.chunks_exact(LANES))
        .zip(x.chunks_exact(LANES))
    {
        for l in 0..LANES {
            let rd = r[l] * d[l];
            sw[l] += rd * x[l];
            sq[l] += rd;
        }
    }
    (sw.iter().sum(), sq.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mdpn;
    use rand::Rng;

    /// Pooled values, winners and synapse gradients of a batch, as bits.
    type Run = (Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>);

    /// Forward and backward of the 8-bit kernel over `images` with the loops compiled for `isa`.
    fn run(model: &Mdpn, images: &[u8], isa: Isa) -> Run {
        let cfg = &model.config;
        let (n, f, syn) = (
            images.len() / cfg.image_len(),
            cfg.features(),
            cfg.synapses(),
        );
        let tables = Tables::for_isa(cfg, &model.params.w, &model.params.q, isa);
        let lut = Lut {
            tables: &tables,
            images,
        };
        let (mut pooled, mut winners) = (vec![0.0; n * f], vec![0; n * f]);
        for (i, (p, w)) in pooled.chunks_mut(f).zip(winners.chunks_mut(f)).enumerate() {
            lut.forward(i, p, w);
        }
        let grad: Vec<f32> = (0..n * f).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
        let (mut dw, mut dq) = (
            vec![0.0; model.params.w.len()],
            vec![0.0; model.params.w.len()],
        );
        for (d, (dw, dq)) in dw.chunks_mut(syn).zip(dq.chunks_mut(syn)).enumerate() {
            lut.backward(d, &winners, &grad, dw, dq);
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect();
        (bits(&pooled), winners, bits(&dw), bits(&dq))
    }

    /// The portable loops never run where the CPU has AVX2 unless asked: here they are, against
    /// the dispatched ones, for the paper's window (unrolled) and another (not), gray and RGB.
    #[test]
    fn portable_code_gives_the_bits_of_the_dispatched_code() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert_eq!(Isa::detect(), Isa::Avx2);
        }
        let configs = [
            Config {
                dendrites: 11,
                hidden: 8,
                ..Config::default()
            },
            Config {
                channels: 3,
                image_size: 17,
                window: 3,
                pool: 3,
                dendrites: 5,
                hidden: 8,
                ..Config::default()
            },
        ];
        for (n, config) in configs.into_iter().enumerate() {
            let model = Mdpn::new(config, n as u64).unwrap();
            let mut r = crate::splits::rng(n as u64, 3);
            let images: Vec<u8> = (0..4 * model.config.image_len())
                .map(|i| if i % 4 == 0 { 0 } else { r.random() })
                .collect();
            let (portable, dispatched) = (
                run(&model, &images, Isa::Portable),
                run(&model, &images, Isa::detect()),
            );
            assert!(portable.0.iter().any(|&v| v != 0), "config {n}: no output");
            assert!(
                portable.2.iter().any(|&v| v != 0),
                "config {n}: no gradient"
            );
            assert_eq!(portable.0, dispatched.0, "config {n}: pooled values");
            assert_eq!(portable.1, dispatched.1, "config {n}: winners");
            assert_eq!(portable.2, dispatched.2, "config {n}: weight gradients");
            assert_eq!(portable.3, dispatched.3, "config {n}: threshold gradients");
        }
    }

    #[test]
    fn approximations_match_the_standard_library() {
        let mut worst_atan = 0.0f32;
        let mut worst_ln = 0.0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-3 * (1.0 + (i as f32).abs() * 1e-4);
            worst_atan = worst_atan.max((atan(x) - x.atan()).abs());
        }
        for i in 1..=200_000 {
            let y = i as f32 * 1e-4;
            worst_ln = worst_ln.max((ln_positive(y) - y.ln()).abs() / y.ln().abs().max(1.0));
        }
        assert!(worst_atan < 5e-7, "atan error {worst_atan}");
        assert!(worst_ln < 5e-7, "ln error {worst_ln}");
    }
}
