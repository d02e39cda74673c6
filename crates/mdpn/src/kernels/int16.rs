//! The integer table kernel of the int8 model ([`crate::quantized`]): the presynaptic, dendrite
//! and membrane layers of [`mdpn_micro`] as `i16` table look-ups, sixteen dendrites per 256-bit
//! vector.
//!
//! As in the 8-bit float kernel ([`super::lut`]), a synapse sees at most 256 pixel values, so
//! each gets a table of its [`mdpn_micro::Synapses::entry`] for all of them, made once when the
//! model is built; tables hold differences from the value at pixel 0 and a base sum holds the
//! blank window, so black margins are skipped. The sums are exact integers (every partial sum is
//! a sum of `window²` entries, which fit `i16` by construction), so the order of additions does
//! not matter: this kernel gives the bits of the plain one whatever the instruction set.

use mdpn_micro as micro;

use crate::config::Config;

/// Dendrites processed together: one 256-bit vector of `i16`.
pub const LANES: usize = 16;

/// Entries between the tables of neighbouring synapses: 256 values plus two unused ones (64
/// bytes), so that the tables of a window do not start 8 KiB apart on the same cache sets.
const STRIDE: usize = 258;

/// One table entry: the values of [`LANES`] dendrites, aligned to a cache line half.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(32))]
pub struct Entry(pub [i16; LANES]);

impl Entry {
    #[inline(always)]
    fn add(self, other: &Entry) -> Entry {
        Entry(std::array::from_fn(|l| self.0[l].wrapping_add(other.0[l])))
    }
}

/// Per-pixel-value tables of one integer model's synapses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntTables {
    groups: usize,
    /// `entry(v) − entry(0)`, `[(channel·groups + group)·synapses + synapse][v][lane]`.
    ln: Vec<[Entry; STRIDE]>,
    /// `Σ entry(0)` over the synapses of each group, `[channel·groups + group]`.
    base: Vec<Entry>,
}

impl IntTables {
    /// The tables of `synapses` of a model of `config`, which must have passed
    /// [`micro::Model::check`] and whose sums fit `i16`.
    pub fn new(config: &Config, synapses: &micro::Synapses) -> IntTables {
        let (m, syn) = (config.dendrites, config.synapses());
        let groups = m.div_ceil(LANES);
        let mut ln = vec![[Entry::default(); STRIDE]; config.channels * groups * syn];
        let mut base = vec![Entry::default(); config.channels * groups];
        for (block, tables) in ln.chunks_exact_mut(syn).enumerate() {
            let (ch, group) = (block / groups, block % groups);
            for lane in 0..LANES.min(m - group * LANES) {
                for (at, table) in tables.iter_mut().enumerate() {
                    let s = (ch * m + group * LANES + lane) * syn + at;
                    let zero = synapses.entry(s, 0);
                    base[block].0[lane] = base[block].0[lane].wrapping_add(zero);
                    for (v, e) in table.iter_mut().enumerate().take(256) {
                        e.0[lane] = synapses.entry(s, v as u8).wrapping_sub(zero);
                    }
                }
            }
        }
        IntTables { groups, ln, base }
    }

    /// The max-pooled dendrite sums of one image `(C, H, W)`, in (channel, row, column, dendrite)
    /// order as [`micro::Model`] takes them: `pooled` has [`Config::features`] values.
    pub fn membrane(&self, config: &Config, image: &[u8], pooled: &mut [i16]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.membrane_avx2(config, image, pooled) };
        }
        self.membrane_sized(config, image, pooled)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn membrane_avx2(&self, config: &Config, image: &[u8], pooled: &mut [i16]) {
        self.membrane_sized(config, image, pooled)
    }

    /// [`Self::membrane_impl`] for the paper's 5×5 window, unrolled, or for any window.
    #[inline(always)]
    fn membrane_sized(&self, config: &Config, image: &[u8], pooled: &mut [i16]) {
        if config.window == 5 {
            self.membrane_impl::<5>(config, image, pooled)
        } else {
            self.membrane_impl::<0>(config, image, pooled)
        }
    }

    /// For one group of dendrites, sweeps the window rows one at a time, each adding its
    /// `window` table entries to the sums of every window position, then pools.
    #[inline(always)]
    fn membrane_impl<const WIN: usize>(&self, config: &Config, image: &[u8], pooled: &mut [i16]) {
        let (h, p, m, k) = (
            config.image_size,
            config.pooled_side(),
            config.dendrites,
            config.pool,
        );
        let win = if WIN == 0 { config.window } else { WIN };
        let used = p * k; // window positions per side that reach the pool
        let syn = config.synapses();
        let mut sums = vec![Entry::default(); used * used];
        for ch in 0..config.channels {
            let plane = &image[ch * h * h..][..h * h];
            // For each image row, the window positions that see a non-zero pixel in it.
            let spans = super::lut::spans(plane, h, win, used);
            for group in 0..self.groups {
                let block = ch * self.groups + group;
                sums.fill(self.base[block]);
                let tables = &self.ln[block * syn..][..syn];
                for (i, row_tables) in tables.chunks_exact(win).enumerate() {
                    let rows = (&spans[i..i + used], &plane[i * h..]);
                    // A window known at compile time unrolls the look-ups of one row.
                    match <&[[Entry; STRIDE]; WIN]>::try_from(row_tables) {
                        Ok(row_tables) if WIN > 0 => sweep(&mut sums, row_tables, rows, h),
                        _ => sweep(&mut sums, row_tables, rows, h),
                    }
                }
                let lanes = LANES.min(m - group * LANES);
                for pr in 0..p {
                    for pc in 0..p {
                        let mut best = [i16::MIN; LANES];
                        for r in pr * k..(pr + 1) * k {
                            for sum in &sums[r * used + pc * k..][..k] {
                                best = std::array::from_fn(|l| best[l].max(sum.0[l]));
                            }
                        }
                        let out = ((ch * p + pr) * p + pc) * m + group * LANES;
                        pooled[out..out + lanes].copy_from_slice(&best[..lanes]);
                    }
                }
            }
        }
    }
}

/// Adds one row of every window's synapses to the window sums `(used, used)`: `tables` holds
/// the row's tables, `spans[r]` the window positions that see a non-zero pixel in row `r` of
/// `plane` (side `h`).
#[inline(always)]
fn sweep(
    sums: &mut [Entry],
    tables: &[[Entry; STRIDE]],
    (spans, plane): (&[(usize, usize)], &[u8]),
    h: usize,
) {
    let (used, win) = (spans.len(), tables.len());
    for ((r, &(lo, hi)), row_sums) in spans.iter().enumerate().zip(sums.chunks_exact_mut(used)) {
        let pixels = &plane[r * h..][..used + win - 1];
        for (sum, px) in row_sums[lo..hi.max(lo)]
            .iter_mut()
            .zip(pixels[lo..].windows(win))
        {
            let mut acc = *sum;
            for (table, &v) in tables.iter().zip(px) {
                acc = acc.add(&table[v as usize]);
            }
            *sum = acc;
        }
    }
}
