//! MDPN inference in integers only, for microcontrollers: `#![no_std]`, no allocator, no
//! floating point. The model is borrowed (the tensors of an int8 file, or constants that
//! `mdpn export --format rust` writes, which go to flash) and the caller gives the scratch
//! memory, [`Shape::scratch_len`] bytes.
//!
//! This crate is the definition of the integer path: the host's vectorised kernel
//! (`mdpn::quantized`) and the exported C (`mdpn export --format c`) are tested against it,
//! bit for bit. One image goes through the neuron's five layers so:
//!
//! 1. **presynaptic**: synapse `s` sees pixel value `v` (0..=255) and computes
//!    `slope[s]·v + offset[s]`, its `z = k·(x·w − q)` in fixed point with `z_frac` fractional
//!    bits, plus `z_limit` so that the table's range starts at 0 (the normalisation of `v` is
//!    folded into `slope` and `offset`);
//! 2. **dendrite**: each synapse's `g(Y + c)` (`ln` for the paper's log-product) is one entry of
//!    a shared table over `z`, at steps of `2^−table_frac`, clamped to `±z_limit`; a dendrite
//!    sums the entries of its window exactly in `i32` (they are small enough to fit `i16`);
//! 3. **membrane**: the max over each pool cell, then requantised to `u8` ([`Requant`]);
//! 4. **soma**: `Σ u·w` over int8 weights plus a folded offset, requantised to `u8` with the
//!    ReLU as the lower bound;
//! 5. **axon**: the same product, scaled to a common fixed point: the scores are the logits
//!    times `2^SCORE_FRAC`, and the class is the first largest.
#![no_std]
#![forbid(unsafe_code)]

/// Fractional bits of the scores: `score = logit · 2^SCORE_FRAC`, rounded.
pub const SCORE_FRAC: u32 = 16;

/// The sizes of one model. All buffers are sized by these, so a firmware knows them at
/// compile time: `[u8; SHAPE.scratch_len()]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub channels: usize,
    pub image_size: usize,
    pub dendrites: usize,
    pub window: usize,
    pub pool: usize,
    pub hidden: usize,
    pub classes: usize,
}

impl Shape {
    /// Window positions along one side (stride 1, no padding).
    pub const fn side(&self) -> usize {
        self.image_size + 1 - self.window
    }
    /// Pooled cells along one side.
    pub const fn pooled(&self) -> usize {
        self.side() / self.pool
    }
    /// Pixels of one image, all channels, `(C, H, W)`.
    pub const fn image_len(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }
    /// Synapses of all dendrites: `(C, M, window, window)`.
    pub const fn synapses(&self) -> usize {
        self.channels * self.dendrites * self.window * self.window
    }
    /// The soma's inputs: the membrane's pooled values `(C, P, P, M)`.
    pub const fn features(&self) -> usize {
        self.channels * self.pooled() * self.pooled() * self.dendrites
    }
    /// Bytes of scratch memory [`Model::classify`] needs: the membrane's and the soma's `u8`
    /// outputs.
    pub const fn scratch_len(&self) -> usize {
        self.features() + self.hidden
    }
}

/// `x · multiplier / 2^shift`, rounded half up, plus `zero_point`, saturated to `low..=255`:
/// how an `i32` sum becomes the `u8` input of the next layer (`multiplier / 2^shift` is the
/// ratio of the two scales).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    pub multiplier: i32,
    pub shift: u32,
    pub zero_point: i32,
}

impl Requant {
    /// The `u8` of `x`, at least `low`. Every shift is of a non-negative number, which C
    /// defines too.
    #[inline]
    pub fn to_u8(&self, x: i32, low: u8) -> u8 {
        let t = x as i64 * self.multiplier as i64
            + half(self.shift)
            + ((self.zero_point as i64) << self.shift);
        let u = if t < 0 {
            0
        } else {
            (t >> self.shift).min(255) as u8
        };
        u.max(low)
    }
}

/// Half of `2^shift` (0 for no shift): what rounds a shift to the nearest.
#[inline]
const fn half(shift: u32) -> i64 {
    if shift == 0 {
        0
    } else {
        1 << (shift - 1)
    }
}

/// `t / 2^shift` rounded half up, for `t` of either sign.
#[inline]
pub fn shift_round(t: i64, shift: u32) -> i64 {
    let t = t + half(shift);
    if t >= 0 {
        t >> shift
    } else {
        -((-t - 1) >> shift) - 1
    }
}

/// The presynaptic and dendrite layers: every synapse's affine map of the pixel value onto
/// `z`, and the shared table of `g(Y(z) + c)` over `z`.
#[derive(Clone, Copy, Debug)]
pub struct Synapses<'a> {
    /// `(C, M, window, window)`: `z + z_limit = slope·v + offset` in units of `2^−z_frac`.
    pub slope: &'a [i32],
    pub offset: &'a [i32],
    pub z_frac: u32,
    /// `g(Y + c)` in units of `2^−ln_frac` (the scale of the dendrite sums) at
    /// `z = (i − z_limit·2^table_frac) · 2^−table_frac`, for `i` in `0..=2·z_limit·2^table_frac`
    /// (the last entry is reached only through rounding).
    pub table: &'a [i16],
    pub table_frac: u32,
    pub z_limit: i32,
}

impl Synapses<'_> {
    /// The table entry of synapse `s` at pixel value `v`: `z + z_limit` saturated to
    /// `0..2·z_limit` (in fixed point: for the usual settings `0..2^22`, one `usat` instruction on
    /// a Cortex-M4), then rounded to the table's grid.
    #[inline]
    pub fn entry(&self, s: usize, v: u8) -> i16 {
        let z = self.slope[s] * v as i32 + self.offset[s];
        let top = (self.z_limit << self.z_frac) * 2 - 1;
        let shift = self.z_frac - self.table_frac;
        let at = z.clamp(0, top) as u32 + half(shift) as u32;
        self.table[(at >> shift) as usize]
    }

    /// The table length these settings index: `2·z_limit·2^table_frac + 1`.
    pub fn table_len(z_limit: i32, table_frac: u32) -> usize {
        2 * (z_limit as usize) * (1 << table_frac) + 1
    }
}

/// An int8 `Linear` layer: `acc[o] = offset[o] + Σ_i u[i]·weight[o, i]` (the bias and the
/// input's zero point folded into `offset`), then scaled by `multiplier[o] / 2^shift`.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// `(outputs, inputs)`, row-major.
    pub weight: &'a [i8],
    pub offset: &'a [i32],
    pub multiplier: &'a [i32],
    pub shift: u32,
    /// The zero point of the `u8` output (the soma's; the axon's scores have none).
    pub zero_point: i32,
}

impl Layer<'_> {
    /// The sum of output `o` over the `u8` inputs `u`.
    #[inline]
    pub fn accumulate(&self, o: usize, u: &[u8]) -> i32 {
        let row = &self.weight[o * u.len()..][..u.len()];
        row.iter()
            .zip(u)
            .fold(self.offset[o], |acc, (&w, &u)| acc + w as i32 * u as i32)
    }

    /// Output `o`'s requantisation to `u8`.
    #[inline]
    pub fn requant(&self, o: usize) -> Requant {
        Requant {
            multiplier: self.multiplier[o],
            shift: self.shift,
            zero_point: self.zero_point,
        }
    }

    /// Output `o`'s score: the sum scaled to the common fixed point.
    #[inline]
    pub fn score(&self, o: usize, acc: i32) -> i32 {
        shift_round(acc as i64 * self.multiplier[o] as i64, self.shift) as i32
    }
}

/// An integer MDPN model, borrowed from wherever its tensors are.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    pub shape: Shape,
    pub synapses: Synapses<'a>,
    /// From the dendrite sums (units of `2^−ln_frac`) to the soma's `u8` input.
    pub membrane: Requant,
    pub soma: Layer<'a>,
    pub axon: Layer<'a>,
}

/// Why [`Model::classify`] refused to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The model's tensors do not have the sizes its shape needs.
    Model,
    /// `pixels` is not one `(C, H, W)` image of the model's size.
    Image,
    /// `scores` does not hold one score per class.
    Scores,
    /// `scratch` is shorter than [`Shape::scratch_len`].
    Scratch,
}

impl Model<'_> {
    /// Whether every tensor has the size the shape needs and every setting is in range, so that
    /// [`Model::classify`] indexes nothing out of bounds.
    pub fn check(&self) -> Result<(), Error> {
        let (s, syn) = (&self.shape, &self.synapses);
        let ok = s.channels > 0
            && s.window > 0
            && s.pool > 0
            && s.image_size >= s.window
            && s.pooled() > 0
            && s.window * s.window < 1 << 16
            && syn.slope.len() == s.synapses()
            && syn.offset.len() == s.synapses()
            && syn.slope.iter().zip(syn.offset).all(|(&a, &b)| {
                a.unsigned_abs() as u64 * 255 + b.unsigned_abs() as u64 + (1 << 30) < 1 << 31
            })
            && syn.z_frac < 31
            && syn.table_frac <= syn.z_frac
            && syn.z_limit > 0
            && (syn.z_limit as i64) << syn.z_frac < 1 << 29
            && syn.table.len() == Synapses::table_len(syn.z_limit, syn.table_frac)
            && layer_fits(&self.soma, s.features(), s.hidden)
            && layer_fits(&self.axon, s.hidden, s.classes)
            && self.membrane.shift < 48
            && (0..=255).contains(&self.membrane.zero_point)
            && (0..=255).contains(&self.soma.zero_point);
        if ok {
            Ok(())
        } else {
            Err(Error::Model)
        }
    }

    /// Classifies one image of `u8` pixels `(C, H, W)`: writes one score per class (the logit
    /// times `2^SCORE_FRAC`) and returns the class of the first largest score.
    pub fn classify(
        &self,
        pixels: &[u8],
        scores: &mut [i32],
        scratch: &mut [u8],
    ) -> Result<usize, Error> {
        self.check()?;
        let s = &self.shape;
        if pixels.len() != s.image_len() {
            return Err(Error::Image);
        }
        if scores.len() != s.classes {
            return Err(Error::Scores);
        }
        if scratch.len() < s.scratch_len() {
            return Err(Error::Scratch);
        }
        let (membrane, rest) = scratch.split_at_mut(s.features());
        let hidden = &mut rest[..s.hidden];
        self.membrane_u8(pixels, membrane);
        for (o, h) in hidden.iter_mut().enumerate() {
            let acc = self.soma.accumulate(o, membrane);
            let relu = self.soma.zero_point as u8;
            *h = self.soma.requant(o).to_u8(acc, relu);
        }
        for (o, score) in scores.iter_mut().enumerate() {
            *score = self.axon.score(o, self.axon.accumulate(o, hidden));
        }
        Ok(argmax(scores))
    }

    /// The presynaptic, dendrite and membrane layers: `out` gets the `u8` pooled value of every
    /// `(channel, pooled row, pooled column, dendrite)`.
    fn membrane_u8(&self, pixels: &[u8], out: &mut [u8]) {
        let s = &self.shape;
        let (h, p, win, m) = (s.image_size, s.pooled(), s.window, s.dendrites);
        let mut at = 0;
        for ch in 0..s.channels {
            let plane = &pixels[ch * h * h..][..h * h];
            for pr in 0..p {
                for pc in 0..p {
                    for d in 0..m {
                        let first = (ch * m + d) * win * win;
                        let mut best = i32::MIN;
                        for r in pr * s.pool..(pr + 1) * s.pool {
                            for c in pc * s.pool..(pc + 1) * s.pool {
                                let mut sum = 0i32;
                                for i in 0..win {
                                    for j in 0..win {
                                        let v = plane[(r + i) * h + c + j];
                                        sum += self.synapses.entry(first + i * win + j, v) as i32;
                                    }
                                }
                                best = best.max(sum);
                            }
                        }
                        out[at] = self.membrane.to_u8(best, 0);
                        at += 1;
                    }
                }
            }
        }
    }
}

/// Whether `layer` has the tensors of `inputs → outputs` and a shift in range.
/// An input count of at most 2^15 and offsets below 2^30 keep every sum inside `i32`.
fn layer_fits(layer: &Layer, inputs: usize, outputs: usize) -> bool {
    outputs > 0
        && inputs <= 1 << 15
        && layer.weight.len() == inputs * outputs
        && layer.offset.iter().all(|o| o.unsigned_abs() < 1 << 30)
        && layer.offset.len() == outputs
        && layer.multiplier.len() == outputs
        && layer.shift < 48
}

/// The index of the first largest value.
pub fn argmax(values: &[i32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}
