//! The int8 model's integer path: its f32 quantities (synapses, scales, biases) turned into the
//! fixed-point numbers that [`mdpn_micro`] computes with, once, when a model is quantized.
//!
//! - **Synapses.** `z = k·(x·w − q)` with `x = (v/255 − mean)/std` is affine in the pixel value
//!   `v`: `z + Z_LIMIT = slope·v + offset`, both rounded to `2^−z_frac` with `z_frac` as large
//!   as keeps every `|slope|·255 + |offset|` below `2^30` (16 bits of fraction for the paper's
//!   models). The `Z_LIMIT` in the offset starts the table's range at 0.
//! - **The table** of `g(Y(z) + c)` (`ln` for the log-product) over `z` in `±Z_LIMIT` at steps of
//!   `2^−TABLE_FRAC`, in units of `2^−ln_frac`, `ln_frac` as large as lets a window's
//!   `window²` entries sum inside `i16` (11 bits for the paper's 5×5 windows). Rounding `z` to
//!   the grid moves a synapse by at most half a step, `g'(z) ≤ k'/π/(1/2 + c)`, about 0.0045;
//!   past `±Z_LIMIT` the arctangent is within 0.006 of its limit.
//! - **Scales** between layers become an `i32` multiplier and a shift
//!   ([`mdpn_micro::Requant`]) with 31 significant bits; biases are rounded to the units of
//!   their layer's sums and the input's zero point folded in.

use mdpn_micro as micro;

use crate::config::{Config, Integration, SynapseFn};
use crate::error::{Error, Result};

/// Fractional bits of the table's grid over `z`: steps of 1/32.
pub const TABLE_FRAC: u32 = 5;
/// The table covers `z` in `±Z_LIMIT`; beyond, a synapse takes the value at the limit.
pub const Z_LIMIT: i32 = 32;
/// Most fractional bits of `z`.
const MAX_Z_FRAC: u32 = 16;
/// Most fractional bits of the table's entries.
const MAX_LN_FRAC: u32 = 14;
/// Most shift of a fixed-point scale (and so of [`micro::Requant::shift`]).
const MAX_SHIFT: u32 = 47;

/// The presynaptic and dendrite layers in fixed point, as [`micro::Synapses`] holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerSynapses {
    pub slope: Vec<i32>,
    pub offset: Vec<i32>,
    pub z_frac: u32,
    pub table: Vec<i16>,
    pub table_frac: u32,
    pub z_limit: i32,
    /// Fractional bits of the table entries and so of the dendrite sums.
    pub ln_frac: u32,
}

impl IntegerSynapses {
    /// The synapses of weights `w` and thresholds `q` (layout (C, M, window, window)) of a model
    /// of `config`, or an error for settings the integer path does not compute.
    pub fn new(config: &Config, w: &[f32], q: &[f32]) -> Result<IntegerSynapses> {
        supported(config)?;
        let (k, mean, std) = (config.k as f64, config.mean as f64, config.std as f64);
        // z = v·k·w/(255·std) − k·(mean·w/std + q)
        let real: Vec<(f64, f64)> = w
            .iter()
            .zip(q)
            .map(|(&w, &q)| {
                let (w, q) = (w as f64, q as f64);
                (k * w / (255.0 * std), -k * (mean * w / std + q))
            })
            .collect();
        let reach = real
            .iter()
            .fold(0.0f64, |m, &(a, b)| m.max(a.abs() * 255.0 + b.abs()));
        let z_frac = (TABLE_FRAC..=MAX_Z_FRAC)
            .rev()
            .find(|&f| (reach + Z_LIMIT as f64) * 2f64.powi(f as i32) + 256.0 < (1u64 << 30) as f64)
            .ok_or_else(|| {
                Error::Config(format!(
                    "a synapse reaches |k·(x·w − q)| = {reach:.0}, too far for the integer path \
                     (at most {}): keep the f32 model",
                    1u64 << (30 - TABLE_FRAC)
                ))
            })?;
        let fixed = |v: f64| (v * 2f64.powi(z_frac as i32)).round() as i32;
        let g = |z: f64| table_function(config, z);
        let len = micro::Synapses::table_len(Z_LIMIT, TABLE_FRAC);
        let grid: Vec<f64> = (0..len)
            .map(|i| g((i as f64 - (len / 2) as f64) / 2f64.powi(TABLE_FRAC as i32)))
            .collect();
        let largest = grid.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let terms = (config.window * config.window) as f64;
        let ln_frac = (0..=MAX_LN_FRAC)
            .rev()
            .find(|&f| terms * (largest * 2f64.powi(f as i32)).round() <= i16::MAX as f64)
            .ok_or_else(|| {
                Error::Config(format!(
                    "{terms} synapses of up to {largest:.2} each do not sum inside 16 bits: \
                     the integer path takes windows of up to 181x181 synapses of c ≥ 0.01"
                ))
            })?;
        Ok(IntegerSynapses {
            slope: real.iter().map(|&(a, _)| fixed(a)).collect(),
            offset: real
                .iter()
                .map(|&(_, b)| fixed(b) + (Z_LIMIT << z_frac))
                .collect(),
            z_frac,
            table: grid
                .iter()
                .map(|v| (v * 2f64.powi(ln_frac as i32)).round() as i16)
                .collect(),
            table_frac: TABLE_FRAC,
            z_limit: Z_LIMIT,
            ln_frac,
        })
    }

    /// The synapses as [`mdpn_micro`] takes them.
    pub fn view(&self) -> micro::Synapses<'_> {
        micro::Synapses {
            slope: &self.slope,
            offset: &self.offset,
            z_frac: self.z_frac,
            table: &self.table,
            table_frac: self.table_frac,
            z_limit: self.z_limit,
        }
    }

    /// Whether a window's entries sum inside `i16`, as the host's vectorised kernel needs.
    pub fn fits_i16(&self, config: &Config) -> bool {
        let largest = self.table.iter().map(|v| v.unsigned_abs() as usize).max();
        largest.unwrap_or(0) * config.window * config.window <= i16::MAX as usize
    }
}

/// Refuses the settings the integer path does not compute: the product integration (its rows
/// multiply, not add, table entries).
pub fn supported(config: &Config) -> Result<()> {
    if config.integration == Integration::Product {
        return Err(Error::Config(
            "the integer path sums table entries, so it takes the log-product and sum \
             integrations, not product: keep the f32 model"
                .into(),
        ));
    }
    Ok(())
}

/// `g(Y(z) + c)`: what one synapse adds to its dendrite.
fn table_function(config: &Config, z: f64) -> f64 {
    let y = match config.synapse {
        SynapseFn::Atan => 0.5 + z.atan() / std::f64::consts::PI,
        SynapseFn::Sigmoid => 1.0 / (1.0 + (-z).exp()),
    } + config.c as f64;
    match config.integration {
        Integration::LogProduct => y.ln(),
        Integration::Sum | Integration::Product => y,
    }
}

/// Positive real scales as `multiplier[i] / 2^shift`, one shift for all, the largest that keeps
/// every multiplier inside `i32`.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedScale {
    pub multiplier: Vec<i32>,
    pub shift: u32,
}

impl FixedScale {
    /// `real` in fixed point; `what` names them in the error for scales out of range.
    pub fn new(real: &[f64], what: &str) -> Result<FixedScale> {
        let largest = real.iter().fold(0.0f64, |m, &v| m.max(v));
        let fits = |s: u32| (largest * 2f64.powi(s as i32)).round() < i32::MAX as f64;
        if !real.iter().all(|v| v.is_finite() && *v > 0.0) || !fits(0) {
            return Err(Error::Config(format!(
                "the {what} scales ({largest:e} at most) are not positive numbers below 2^31"
            )));
        }
        let shift = (0..=MAX_SHIFT).rev().find(|&s| fits(s)).unwrap_or(0);
        Ok(FixedScale {
            multiplier: real
                .iter()
                .map(|v| (v * 2f64.powi(shift as i32)).round() as i32)
                .collect(),
            shift,
        })
    }
}
