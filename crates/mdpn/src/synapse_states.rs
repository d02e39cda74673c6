//! The four states of a synapse known from dendritic neuron models: over the input range the
//! model sees, a synapse either follows its pixel (*direct*, excitatory), opposes it (*inverse*,
//! inhibitory), or hardly moves (*constant-1* or *constant-0*).
//!
//! The rule, for a synapse with weight `w`, threshold `q` and steepness `k`: `Y(x)` is monotone,
//! rising when `w > 0` and falling when `w < 0`, and is 1/2 at the threshold `x = q/w`. Over the
//! range `[lo, hi]` of normalised inputs (`(0 − mean)/std` to `(1 − mean)/std` for 8-bit data),
//! let `ΔY = Y(hi) − Y(lo)`:
//! - `|ΔY| ≥ tolerance`: **direct** if `ΔY > 0`, **inverse** if `ΔY < 0`;
//! - else the synapse is constant: **constant-1** if `(Y(lo) + Y(hi))/2 ≥ 1/2`, **constant-0**
//!   otherwise.
//!
//! A constant synapse contributes (nearly) the same `ln(Y + c)` to every window, so pruning can
//! fix it to its value at the middle of the range.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::layers::synapse::synapse;
use crate::model::Mdpn;

/// The default tolerance on `|ΔY|`: a synapse whose output moves by less than 5% of its full
/// span over the whole input range counts as constant.
pub const DEFAULT_TOLERANCE: f32 = 0.05;

/// What a synapse does over the input range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Excitatory: `Y` rises with the pixel.
    Direct,
    /// Inhibitory: `Y` falls as the pixel rises.
    Inverse,
    /// `Y` stays near 1 (above 1/2) whatever the pixel.
    ConstantOne,
    /// `Y` stays near 0 (below 1/2) whatever the pixel.
    ConstantZero,
}

impl State {
    /// Every state, in the order reports list them.
    pub const ALL: [State; 4] = [
        State::Direct,
        State::Inverse,
        State::ConstantOne,
        State::ConstantZero,
    ];

    /// The state's name as reports and CSV files write it.
    pub fn name(self) -> &'static str {
        match self {
            State::Direct => "direct",
            State::Inverse => "inverse",
            State::ConstantOne => "constant-1",
            State::ConstantZero => "constant-0",
        }
    }

    /// Whether the synapse can be fixed to a constant.
    pub fn is_constant(self) -> bool {
        matches!(self, State::ConstantOne | State::ConstantZero)
    }
}

/// One synapse: where it sits, its parameters and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Synapse {
    pub channel: usize,
    pub dendrite: usize,
    pub row: usize,
    pub col: usize,
    pub w: f32,
    pub q: f32,
    /// `q / w`, the input at which `Y = 1/2` (infinite when `w = 0`).
    pub threshold: f32,
    pub state: State,
    /// `Y` at the low and the high end of the input range.
    pub y_low: f32,
    pub y_high: f32,
}

/// The normalised inputs an 8-bit pixel can take: `(0 − mean)/std` and `(1 − mean)/std`.
pub fn input_range(config: &Config) -> (f32, f32) {
    (config.normalise(0), config.normalise(255))
}

/// The state of a synapse `(w, q)` of `config` over `range`, with its `Y` at both ends.
pub fn classify(
    config: &Config,
    w: f32,
    q: f32,
    (lo, hi): (f32, f32),
    tolerance: f32,
) -> (State, f32, f32) {
    let y = |x: f32| synapse(config.synapse, x, w, q, config.k).0;
    let (y_low, y_high) = (y(lo), y(hi));
    let delta = y_high - y_low;
    let state = if delta.abs() >= tolerance {
        if delta > 0.0 {
            State::Direct
        } else {
            State::Inverse
        }
    } else if (y_low + y_high) / 2.0 >= 0.5 {
        State::ConstantOne
    } else {
        State::ConstantZero
    };
    (state, y_low, y_high)
}

/// Every synapse of `model`, in `(channel, dendrite, row, column)` order.
pub fn synapses(model: &Mdpn, tolerance: f32) -> Vec<Synapse> {
    let cfg = &model.config;
    let range = input_range(cfg);
    let (win, per) = (cfg.window, cfg.synapses());
    (0..model.params.w.len())
        .map(|i| {
            let (w, q) = (model.params.w[i], model.params.q[i]);
            let (state, y_low, y_high) = classify(cfg, w, q, range, tolerance);
            let map = i / per;
            Synapse {
                channel: map / cfg.dendrites,
                dendrite: map % cfg.dendrites,
                row: (i % per) / win,
                col: i % win,
                w,
                q,
                threshold: q / w,
                state,
                y_low,
                y_high,
            }
        })
        .collect()
}

/// How many synapses are in each state ([`State::ALL`] order).
pub fn counts(synapses: &[Synapse]) -> [usize; 4] {
    let mut n = [0; 4];
    for s in synapses {
        n[State::ALL
            .iter()
            .position(|&t| t == s.state)
            .expect("a state")] += 1;
    }
    n
}

/// The tolerances of the table of counts against the tolerance, from hair-trigger to lax.
pub const TOLERANCES: [f32; 9] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5];

/// The [`counts`] of `model`'s synapses at each of [`TOLERANCES`]: how the states shift as
/// the tolerance grows.
pub fn tolerance_sweep(model: &Mdpn) -> Vec<(f32, [usize; 4])> {
    TOLERANCES
        .iter()
        .map(|&t| (t, counts(&synapses(model, t))))
        .collect()
}
