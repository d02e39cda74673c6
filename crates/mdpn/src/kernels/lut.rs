//! The 8-bit kernel: tables of `ln(Y + c)` over the 256 pixel values replace every `atan` and `ln`.
//!
//! A dendrite value is a sum of 25 table entries. Tables hold [`LANES`] dendrites side by side,
//! so one look-up adds a whole vector of dendrites at once; a group of `LANES` dendrites' tables
//! (25 × 256 × 8 floats, 200 KiB) stays in the core's cache while every window of the image is
//! summed. The max pool is fused into the loop, so the full dendrite output is never stored.

use super::DendriteKernel;
use crate::config::Config;
use crate::layers::membrane::for_each_winning_window;
use crate::parallel;
use std::sync::{Arc, Mutex};

/// Dendrites in a full group: one 256-bit vector of f32.
pub const LANES: usize = 8;

/// Entries between the tables of neighbouring synapses: 256 values plus two unused entries
/// (64 bytes at 8 lanes), so that the 25 tables of a window do not start 8 KiB apart, which
/// would map a pixel value's 25 entries onto the same cache set and evict them from each other.
const STRIDE: usize = 258;

/// Storage of tables and window sums: every group's start on a full entry, so that an entry
/// of 4 or 8 lanes never straddles two cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Line([f32; LANES]);

/// Which compilation of the kernel's loops runs: AVX2 where the CPU has it, else portable code
/// (NEON on aarch64, where it is baseline). Every sum keeps its order in both, so they give the
/// same bits; the tests run each one the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The best one this CPU runs. [`Isa::Avx2`] is only ever made here (and in the tests'
    /// `Isa::available`), after the check.
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// A group of dendrites looked up together: `lanes` dendrites from `first`, in entries of
/// `width` lanes. Full groups are [`LANES`] wide; the last one is the narrowest of 4 or 8 lanes
/// that holds what is left (M = 50: six groups of 8 and one of 4), so that its look-ups move
/// half the bytes (one 128-bit add, not 256). Not 2 or 1: the compiler makes those two or one
/// scalar adds per look-up, more instructions than one vector add.
#[derive(Clone, Copy, Debug)]
struct Group {
    first: usize,
    lanes: usize,
    width: usize,
}

/// The narrowest group: one 128-bit vector of f32.
const TAIL: usize = 4;

/// The groups of `m` dendrites.
fn groups(m: usize) -> Vec<Group> {
    (0..m)
        .step_by(LANES)
        .map(|first| {
            let lanes = LANES.min(m - first);
            Group {
                first,
                lanes,
                width: lanes.next_power_of_two().max(TAIL),
            }
        })
        .collect()
}

/// Per-pixel-value tables of one model's parameters. They borrow the configuration and
/// parameters they tabulate, so those cannot change while the tables live (a compile error),
/// and [`Tables::tabulates`] tells whether they belong to a given model.
pub struct Tables<'a> {
    config: &'a Config,
    /// The parameters tabulated, for the derivatives of the backward pass.
    w: &'a [f32],
    q: &'a [f32],
    /// What they hold, shared with the [`TableCache`] that kept them, if one did.
    data: Arc<Tabulated>,
}

/// The contents of [`Tables`].
struct Tabulated {
    isa: Isa,
    /// The groups of one channel's dendrites (every channel has the same).
    groups: Vec<Group>,
    /// `ln(Y + c) − ln(Y₀ + c)`, where `Y₀` is the synapse's output at pixel value 0. Block
    /// `channel·groups + group` holds one table per synapse of `STRIDE` entries of the group's
    /// width, from line `block · block_lines`. Entry 0 is zero, so the background of an image
    /// adds nothing and can be skipped.
    ln: Vec<Line>,
    block_lines: usize,
    /// `Σ ln(Y₀ + c)` over the synapses of each group of dendrites, per block: the value of a
    /// window on a blank background, where every dendrite sum starts.
    base: Vec<[f32; LANES]>,
    /// The normalised value of each pixel value.
    xval: [f32; 256],
}

/// Lines seen as arrays `A` of f32 (`[f32; L]` entries, or tables of them), as many as fit.
fn view<A: Floats>(lines: &[Line]) -> &[A] {
    let len = std::mem::size_of_val(lines) / std::mem::size_of::<A>();
    // SAFETY: the lines are contiguous f32s, and `A` is an array of f32s (`Floats`), aligned
    // as f32, of which `len` fit in them.
    unsafe { std::slice::from_raw_parts(lines.as_ptr().cast(), len) }
}

/// [`view`], to write.
fn view_mut<A: Floats>(lines: &mut [Line]) -> &mut [A] {
    let len = std::mem::size_of_val(lines) / std::mem::size_of::<A>();
    // SAFETY: as in `view`, borrowed mutably once.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast(), len) }
}

/// Arrays of f32 only, which [`view`] may make of [`Line`]s.
trait Floats {}
impl<const L: usize> Floats for [f32; L] {}
impl<const L: usize> Floats for [[f32; L]; STRIDE] {}

impl<'a> Tables<'a> {
    /// Tabulates the synapses of weights `w` and thresholds `q` (layout (C, M, window, window)).
    pub(crate) fn new(config: &'a Config, w: &'a [f32], q: &'a [f32]) -> Tables<'a> {
        Tables::for_isa(config, w, q, Isa::detect())
    }

    /// [`Tables::new`] whose kernel runs the loops compiled for `isa`.
    fn for_isa(config: &'a Config, w: &'a [f32], q: &'a [f32], isa: Isa) -> Tables<'a> {
        let data = Arc::new(Tabulated::new(config, w, q, isa));
        Tables { config, w, q, data }
    }

    /// The tables of block `channel·groups + group`, `L` lanes wide.
    fn block<const L: usize>(&self, block: usize) -> &[[[f32; L]; STRIDE]] {
        let (d, syn) = (&*self.data, self.config.synapses());
        &view(&d.ln[block * d.block_lines..][..d.block_lines])[..syn]
    }

    /// Whether these are the tables of exactly this configuration and these parameters: the
    /// same memory, which the borrow keeps unchanged, so a check of three addresses suffices.
    pub(crate) fn tabulates(&self, config: &Config, w: &[f32], q: &[f32]) -> bool {
        std::ptr::eq(self.config, config) && std::ptr::eq(self.w, w) && std::ptr::eq(self.q, q)
    }
}

impl Tabulated {
    fn new(config: &Config, w: &[f32], q: &[f32], isa: Isa) -> Tabulated {
        let groups = groups(config.dendrites);
        let syn = config.synapses();
        let mut xval = [0.0; 256];
        for (v, x) in xval.iter_mut().enumerate() {
            *x = config.normalise(v as u8);
        }
        // Every block as large as a full group's, so that they split evenly between threads.
        let block_lines = syn * STRIDE;
        let blocks = config.channels * groups.len();
        let mut ln = vec![Line::default(); blocks * block_lines];
        let mut base = vec![[0.0; LANES]; blocks];
        let tabulate = |block: usize, lines: &mut [Line], base: &mut [f32; LANES]| {
            let group = groups[block % groups.len()];
            let first = (block / groups.len()) * config.dendrites + group.first;
            let params = |lane: usize, at: usize| {
                let p = (first + lane) * syn + at;
                (w[p], q[p])
            };
            match group.width {
                8 => tabulate_block::<8>(isa, config, &xval, group, lines, base, params),
                _ => tabulate_block::<TAIL>(isa, config, &xval, group, lines, base, params),
            }
        };
        parallel::for_each_chunk2(&mut ln, block_lines, &mut base, 1, |block, lines, base| {
            tabulate(block, lines, &mut base[0])
        });
        Tabulated {
            isa,
            groups,
            ln,
            block_lines,
            base,
            xval,
        }
    }
}

/// The tables of the parameters last tabulated, kept while they are unchanged, so that a
/// model's calls one after the other (`predict`, `eval`, Python, the page) build them once. The
/// configuration and parameters are compared by value on every call (2 · M · window² floats,
/// against 256 entries per synapse to tabulate), so a model whose parameters change (a
/// training step, pruning) gets new tables.
#[derive(Clone, Default)]
pub struct TableCache(Arc<Mutex<Option<Kept>>>);

/// What a [`TableCache`] keeps: the values tabulated and their tables.
struct Kept {
    config: Config,
    w: Vec<f32>,
    q: Vec<f32>,
    data: Arc<Tabulated>,
}

impl TableCache {
    /// The tables of `config`, `w` and `q`: the kept ones if they are of the same values,
    /// else new ones, which are kept.
    pub fn tables<'a>(&self, config: &'a Config, w: &'a [f32], q: &'a [f32]) -> Tables<'a> {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = kept
            .as_ref()
            .is_some_and(|k| k.config == *config && bits(&k.w) == bits(w) && bits(&k.q) == bits(q));
        if !same {
            *kept = Some(Kept {
                config: config.clone(),
                w: w.to_vec(),
                q: q.to_vec(),
                data: Arc::new(Tabulated::new(config, w, q, Isa::detect())),
            });
        }
        let data = kept.as_ref().map(|k| k.data.clone()).expect("kept above");
        Tables { config, w, q, data }
    }
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("TableCache")
    }
}

/// Kept tables are no part of a model's value: any two caches compare equal.
impl PartialEq for TableCache {
    fn eq(&self, _: &TableCache) -> bool {
        true
    }
}

/// Fills one block's tables and base sum: for each lane (dendrite) of `group` and each synapse
/// `at`, whose parameters `params(lane, at)` gives, `ln(Y + c)` over the 256 pixel values less
/// its value at 0, which goes into the base sum, added in synapse order.
fn tabulate_block<const L: usize>(
    isa: Isa,
    config: &Config,
    xval: &[f32; 256],
    group: Group,
    lines: &mut [Line],
    base: &mut [f32; LANES],
    params: impl Fn(usize, usize) -> (f32, f32),
) {
    let tables = view_mut::<[[f32; L]; STRIDE]>(lines);
    // Synapse by synapse, so that its table (8 KiB at 8 lanes) stays in L1 while every lane
    // is written; each lane's base still adds its synapses in order.
    for (at, table) in tables[..config.synapses()].iter_mut().enumerate() {
        for lane in 0..group.lanes {
            let (w, q) = params(lane, at);
            let mut row = [0.0f32; 256];
            rows(isa, config, xval, w, q, Some(&mut row), None);
            base[lane] += row[0];
            table[0][lane] = 0.0;
            for (e, v) in table[1..].iter_mut().zip(&row[1..]) {
                e[lane] = v - row[0];
            }
        }
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

    /// The forward pass, written once and compiled for each instruction set it is called from:
    /// for each channel, the spans of each image row that hold non-zero pixels, then each group
    /// of dendrites at its width.
    #[inline(always)]
    fn forward_impl<const WIN: usize>(
        &self,
        image: usize,
        pooled: &mut [f32],
        winners: &mut [u32],
    ) {
        let t = self.tables;
        let cfg = t.config;
        let h = cfg.image_size;
        // A window side known at compile time lets the compiler unroll the five look-ups.
        let win = if WIN == 0 { cfg.window } else { WIN };
        let used = cfg.pooled_side() * cfg.pool; // window positions per side that reach the pool
        let img = self.image(image);
        let mut out = Pooled {
            pooled,
            winners,
            channel: 0,
        };
        // The running sums of every window, at the widest group's width.
        let mut sums = vec![Line::default(); used * used];
        for ch in 0..cfg.channels {
            let plane = &img[ch * h * h..][..h * h];
            let spans = spans(plane, h, win, used);
            out.channel = ch;
            let groups = &t.data.groups;
            let (wide, narrow) = (Entry::<8>::plane(plane), Entry::<TAIL>::plane(plane));
            for (g, &group) in groups.iter().enumerate() {
                let block = ch * groups.len() + g;
                match group.width {
                    8 => self.group::<WIN, 8>((&wide, &spans, block, group), &mut sums, &mut out),
                    _ => self.group::<WIN, TAIL>(
                        (&narrow, &spans, block, group),
                        &mut sums,
                        &mut out,
                    ),
                }
            }
        }
    }

    /// One group of dendrites of one channel, `L` lanes: the window sums swept one window row
    /// at a time, each adding its tables' entries to the running sums of every window. One
    /// row's tables (40 KiB at 8 lanes, of which only the pixel values present are touched) and
    /// the sums of all windows (18 KiB at 28×28) then stay in the L1 cache, where looking up all
    /// 25 tables per window would keep missing it. Each sum still adds its 25 terms in
    /// row-major synapse order, so every width and instruction set gives the same bits. Then
    /// the max pool.
    #[inline(always)]
    fn group<const WIN: usize, const L: usize>(
        &self,
        (plane, spans, block, group): (&[Entry<L>], &[(usize, usize)], usize, Group),
        sums: &mut [Line],
        out: &mut Pooled,
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
        let win = if WIN == 0 { cfg.window } else { WIN };
        let used = p * k;
        let base: [f32; L] = std::array::from_fn(|l| t.data.base[block][l]);
        let sums = &mut view_mut::<[f32; L]>(sums)[..used * used];
        sums.fill(base);
        for (i, tabs) in t.block::<L>(block).chunks_exact(win).enumerate() {
            let rows = (&spans[i..i + used], &plane[i * h..]);
            match <&[[[f32; L]; STRIDE]; WIN]>::try_from(tabs) {
                Ok(tabs) if WIN > 0 => sweep(sums, tabs, rows, h),
                _ => sweep(sums, tabs, rows, h),
            }
        }
        for pr in 0..p {
            for pc in 0..p {
                let mut best = [f32::NEG_INFINITY; L];
                let mut winner = [0u32; L];
                for r in pr * k..(pr + 1) * k {
                    for c in pc * k..(pc + 1) * k {
                        let sum = &sums[r * used + c];
                        let here = (r * s + c) as u32;
                        for l in 0..L {
                            // Strictly greater: ties keep the first window.
                            if sum[l] > best[l] {
                                best[l] = sum[l];
                                winner[l] = here;
                            }
                        }
                    }
                }
                let at = ((out.channel * p + pr) * p + pc) * m + group.first;
                out.pooled[at..at + group.lanes].copy_from_slice(&best[..group.lanes]);
                out.winners[at..at + group.lanes].copy_from_slice(&winner[..group.lanes]);
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

/// For each row of an image plane (side `h`), the windows (of `win` pixels, `used` of them per
/// row) that see a non-zero pixel in it: the others add only zero differences.
pub(super) fn spans(plane: &[u8], h: usize, win: usize, used: usize) -> Vec<(usize, usize)> {
    plane
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
        .collect()
}

/// The table look-ups (each of one group of up to [`LANES`] dendrites) that the forward pass
/// of the 8-bit kernel makes on raw `images` `(B, C, H, W)`: blank spans skipped, as it runs.
pub fn lookups(config: &Config, images: &[u8]) -> u64 {
    let (h, win) = (config.image_size, config.window);
    let used = config.pooled_side() * config.pool;
    let per_group: usize = images
        .chunks_exact(h * h)
        .map(|plane| {
            let spans = spans(plane, h, win, used);
            (0..win)
                .flat_map(|i| {
                    spans[i..i + used]
                        .iter()
                        .map(|(lo, hi)| hi.saturating_sub(*lo))
                })
                .sum::<usize>()
                * win
        })
        .sum();
    (per_group * groups(config.dendrites).len()) as u64
}

/// A pixel value as the offset of its entry in a table of `L`-lane entries, in f32s
/// (`value · L`). A look-up then addresses its entry with the offset scaled by 4, which x86
/// does in the load itself; from the byte, each look-up took a shift more (entries are 16 or 32
/// bytes, and an address scales an index by 8 at most).
#[derive(Clone, Copy)]
struct Entry<const L: usize>(u16);

impl<const L: usize> Entry<L> {
    /// The entries of an image plane's pixels.
    fn plane(pixels: &[u8]) -> Vec<Entry<L>> {
        const { assert!(256 * L <= u16::MAX as usize + 1 && STRIDE >= 256) };
        pixels
            .iter()
            .map(|&v| Entry(u16::from(v) * L as u16))
            .collect()
    }

    /// This pixel value's entry in `table`.
    #[inline(always)]
    fn in_table(self, table: &[[f32; L]; STRIDE]) -> &[f32; L] {
        // SAFETY: the offset is `value · L` with `value < 256 <= STRIDE` (`plane` makes every
        // entry so, and checks the bound), so its `L` floats lie inside the table.
        unsafe { &*table.as_ptr().cast::<f32>().add(self.0 as usize).cast() }
    }
}

/// Where one image's pooled values and winners go, and the channel being computed.
struct Pooled<'a> {
    pooled: &'a mut [f32],
    winners: &'a mut [u32],
    channel: usize,
}

/// Adds one row of every window's synapses to the window sums `(used, used)`: `tabs` holds the
/// row's tables; `plane` the entries of an image plane's pixels (side `h`); `spans[r]` the
/// windows that see a non-zero pixel in its row `r`. Inlined where the number of tables is a
/// constant, the inner loop unrolls.
#[inline(always)]
fn sweep<const L: usize>(
    sums: &mut [[f32; L]],
    tabs: &[[[f32; L]; STRIDE]],
    (spans, plane): (&[(usize, usize)], &[Entry<L>]),
    h: usize,
) {
    let used = spans.len();
    for ((r, &(lo, hi)), row_sums) in spans.iter().enumerate().zip(sums.chunks_exact_mut(used)) {
        let pixels = &plane[r * h..][..used + tabs.len() - 1];
        for (sum, px) in row_sums[lo..hi.max(lo)]
            .iter_mut()
            .zip(pixels[lo..].windows(tabs.len()))
        {
            let mut acc = *sum;
            for (tab, &v) in tabs.iter().zip(px) {
                let e = v.in_table(tab);
                acc = std::array::from_fn(|l| acc[l] + e[l]);
            }
            *sum = acc;
        }
    }
}

impl DendriteKernel for Lut<'_> {
    fn forward(&self, image: usize, pooled: &mut [f32], winners: &mut [u32]) {
        match self.tables.data.isa {
            // SAFETY: `Isa::Avx2` is only made after checking that the CPU supports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.forward_avx2(image, pooled, winners) },
            Isa::Portable => self.forward_sized(image, pooled, winners),
        }
    }

    /// The derivative of a synapse depends only on the pixel value it sees, so it is tabulated
    /// too: per synapse and pixel value, `(d·x, d)` with `d = d ln(Y + c) / d(x·w − q)`. Then
    /// each winning window of the batch adds its gradient times the entries its pixels pick,
    /// one window row at a time, into sums held in registers: loads and multiply-adds, no
    /// stores, where summing per pixel value first made a read, add and write of memory per
    /// synapse and window.
    fn backward(
        &self,
        dendrite: usize,
        winners: &[u32],
        grad: &[f32],
        dw: &mut [f32],
        dq: &mut [f32],
    ) {
        let t = self.tables;
        let (cfg, d) = (t.config, &*t.data);
        let (h, win, syn) = (cfg.image_size, cfg.window, cfg.synapses());
        let mut slopes = vec![[[0.0f32; 2]; 256]; syn];
        for (at, slope) in slopes.iter_mut().enumerate() {
            let p = dendrite * syn + at;
            let mut dln = [0.0f32; 256];
            rows(d.isa, cfg, &d.xval, t.w[p], t.q[p], None, Some(&mut dln));
            for ((e, &dln), &x) in slope.iter_mut().zip(&dln).zip(&d.xval) {
                *e = [dln * x, dln];
            }
        }
        let mut windows =
            Vec::with_capacity(winners.len() / cfg.features() * cfg.pooled_side().pow(2));
        for_each_winning_window(cfg, dendrite, winners, grad, |g, start| {
            windows.push((g, start))
        });
        let mut add = |at: usize, sums: &[[f32; 2]]| {
            for (k, s) in sums.iter().enumerate() {
                dw[at + k] += s[0];
                dq[at + k] -= s[1];
            }
        };
        // The paper's 5×5 window two rows at a time (ten sums in registers), so that each
        // window's gradient is loaded and its pixels found three times, not five; other
        // windows one synapse at a time.
        if win != 5 {
            for (at, tab) in slopes.iter().enumerate() {
                let offset = [(at / win) * h + at % win];
                let [sums] = slope_sums(self.images, &windows, offset, [std::array::from_ref(tab)]);
                add(at, &sums);
            }
            return;
        }
        let row = |i: usize| -> &[_; 5] { slopes[i * 5..][..5].try_into().expect("5 synapses") };
        let [a, b] = slope_sums(self.images, &windows, [0, h], [row(0), row(1)]);
        let [c, d] = slope_sums(self.images, &windows, [2 * h, 3 * h], [row(2), row(3)]);
        let [e] = slope_sums(self.images, &windows, [4 * h], [row(4)]);
        for (i, sums) in [a, b, c, d, e].iter().enumerate() {
            add(i * 5, sums);
        }
    }
}

/// `Σ g · tabs[r][j][pixel]` over the winning `windows` `(g, start)`, for the `R × W` synapses
/// of `R` rows that see the `W` pixels from `start + offsets[r]` of `images`, in window order.
#[inline(always)]
fn slope_sums<const R: usize, const W: usize>(
    images: &[u8],
    windows: &[(f32, usize)],
    offsets: [usize; R],
    tabs: [&[[[f32; 2]; 256]; W]; R],
) -> [[[f32; 2]; W]; R] {
    let mut sums = [[[0.0f32; 2]; W]; R];
    for &(g, start) in windows {
        for ((sums, tabs), offset) in sums.iter_mut().zip(tabs).zip(offsets) {
            let pixels: &[u8; W] = images[start + offset..][..W].try_into().expect("W pixels");
            for ((sum, tab), &v) in sums.iter_mut().zip(tabs).zip(pixels) {
                let e = tab[v as usize];
                *sum = [sum[0] + g * e[0], sum[1] + g * e[1]];
            }
        }
    }
    sums
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

    impl Isa {
        /// Every instruction set this CPU runs.
        fn available() -> Vec<Isa> {
            #[allow(unused_mut)]
            let mut all = vec![Isa::Portable];
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                all.push(Isa::Avx2);
            }
            all
        }
    }

    #[test]
    fn groups_are_full_but_for_a_narrow_last_one() {
        let widths =
            |m| -> Vec<(usize, usize)> { groups(m).iter().map(|g| (g.lanes, g.width)).collect() };
        assert_eq!(widths(50), [[(8, 8); 6].as_slice(), &[(2, 4)]].concat());
        assert_eq!(widths(13), [(8, 8), (5, 8)]);
        assert_eq!(widths(11), [(8, 8), (3, 4)]);
        assert_eq!(widths(3), [(3, 4)]);
        assert_eq!(widths(9), [(8, 8), (1, 4)]);
        assert_eq!(widths(4), [(4, 4)]);
        assert_eq!(widths(24), [(8, 8); 3]);
    }

    /// Only the best instruction set runs unless asked: here every one this CPU has runs,
    /// against the portable loops, for the paper's window (unrolled) and another (not), gray and
    /// RGB, and last groups of both widths, full or not (M = 11 is 8 + 3 of 4, 18 is 8 + 8 + 2
    /// of 4, 17 is 8 + 8 + 1 of 4, 5 is 5 of 8).
    #[test]
    fn every_instruction_set_gives_the_bits_of_the_portable_code() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert_ne!(Isa::detect(), Isa::Portable);
        }
        let gray = |dendrites| Config {
            dendrites,
            hidden: 8,
            ..Config::default()
        };
        let configs = [
            gray(11),
            gray(18),
            gray(17),
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
            let portable = run(&model, &images, Isa::Portable);
            assert!(portable.0.iter().any(|&v| v != 0), "config {n}: no output");
            assert!(
                portable.2.iter().any(|&v| v != 0),
                "config {n}: no gradient"
            );
            for isa in Isa::available() {
                let other = run(&model, &images, isa);
                assert_eq!(portable.0, other.0, "config {n}, {isa:?}: pooled values");
                assert_eq!(portable.1, other.1, "config {n}, {isa:?}: winners");
                assert_eq!(portable.2, other.2, "config {n}, {isa:?}: weight gradients");
                assert_eq!(
                    portable.3, other.3,
                    "config {n}, {isa:?}: threshold gradients"
                );
            }
        }
    }

    /// The kernel's bits on a fixed model and images, as one FNV-1a hash: the same on x86-64
    /// (AVX2 or not) and on aarch64 (NEON), where `scripts/test-aarch64.sh` runs it. The
    /// parameters come from integers, not from the random normal draws (whose `ln` and `cos`
    /// are the platform's libm).
    #[test]
    fn the_kernel_gives_the_same_bits_on_every_architecture() {
        let mut model = Mdpn::new(
            Config {
                dendrites: 13,
                hidden: 8,
                ..Config::default()
            },
            0,
        )
        .unwrap();
        let value = |i: usize, scale: f32| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * scale;
        for (i, (w, q)) in model
            .params
            .w
            .iter_mut()
            .zip(&mut model.params.q)
            .enumerate()
        {
            (*w, *q) = (value(i, 2.0), value(i + 500, 1.5));
        }
        let mut r = crate::splits::rng(7, 1);
        let images: Vec<u8> = (0..6 * model.config.image_len())
            .map(|i| if i % 3 == 0 { 0 } else { r.random() })
            .collect();
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let (pooled, winners, dw, dq) = run(&model, &images, Isa::detect());
        for v in pooled.into_iter().chain(winners).chain(dw).chain(dq) {
            for b in v.to_le_bytes() {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(hash, 0x85fb_8c0f_6ce3_3a5e, "{hash:#x}");
    }

    #[test]
    fn lookups_count_every_group_synapse_and_window_but_blank_ones() {
        let config = Config::default();
        let full = vec![1u8; 2 * 784];
        assert_eq!(lookups(&config, &full), 2 * 7 * 25 * 24 * 24);
        assert_eq!(lookups(&config, &[0; 784]), 0);
        // One pixel at (10, 10): the 25 windows around it each look up the 5 synapses of their
        // row that holds it (a row's span is swept whole).
        let mut one = vec![0u8; 784];
        one[10 * 28 + 10] = 9;
        assert_eq!(lookups(&config, &one), 7 * 25 * 5);
    }

    #[test]
    fn kept_tables_serve_until_the_configuration_or_parameters_change() {
        let config = Config {
            dendrites: 11,
            hidden: 8,
            ..Config::default()
        };
        let model = Mdpn::new(config.clone(), 1).unwrap();
        let (mut w, q) = (model.params.w.clone(), model.params.q.clone());
        let cache = TableCache::default();
        let first = cache.tables(&config, &w, &q).data;
        assert!(Arc::ptr_eq(&first, &cache.tables(&config, &w, &q).data));
        let lines = |d: &Tabulated| -> Vec<u32> {
            d.ln.iter().flat_map(|l| l.0).map(f32::to_bits).collect()
        };
        w[7] += 0.5;
        let changed = cache.tables(&config, &w, &q).data;
        assert!(!Arc::ptr_eq(&first, &changed));
        assert_ne!(lines(&first), lines(&changed));
        assert_eq!(lines(&changed), lines(&Tables::new(&config, &w, &q).data));
        let other = Config { c: 0.5, ..config };
        let other_tables = cache.tables(&other, &w, &q).data;
        assert!(!Arc::ptr_eq(&changed, &other_tables));
        assert_eq!(
            lines(&other_tables),
            lines(&Tables::new(&other, &w, &q).data)
        );
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
