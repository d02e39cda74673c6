//! Pruning: what a trained neuron does not use is removed, and the result is an ordinary model.
//!
//! - A constant synapse ([`crate::synapse_states`]) is fixed to its output at the middle of the
//!   input range: its weight becomes 0 and its threshold the one that gives that output, so it
//!   ignores its pixel exactly, in both kernels, in any reader of the model file.
//! - A dendrite removed (in every colour channel at once) leaves the model, and the mean of its
//!   membrane output over the data goes into the soma's bias, so the model's output moves only
//!   by how far that output strayed from its mean.

use crate::config::SynapseFn;
use crate::dataset::Dataset;
use crate::dendrite_importance::{feature_means, features_of, importance, membranes};
use crate::error::{Error, Result};
use crate::evaluation::evaluate;
use crate::input::KernelChoice;
use crate::layers::linear::Linear;
use crate::model::{Mdpn, Params};
use crate::synapse_states::{classify, input_range};

/// Labelled images chosen by index: `(data set, indices)`.
pub type Images<'a> = (&'a Dataset, &'a [usize]);

/// What [`prune`] made and how.
#[derive(Clone, Debug)]
pub struct Pruned {
    pub model: Mdpn,
    /// Constant synapses fixed.
    pub synapses_fixed: usize,
    /// Dendrites removed because their output was constant on the sample.
    pub constant_dendrites: usize,
    /// Every dendrite removed (the constant ones first, then within the accuracy budget), as
    /// indices of the model pruned.
    pub removed: Vec<usize>,
}

/// Prunes `model`: fixes its constant synapses at `tolerance`, removes the dendrites whose
/// membrane output stays within `tolerance` of its mean on `sample` (the means folded into the
/// soma bias), and with `max_drop` also the least important dendrites, as [`within_drop`]
/// chooses them on one half of `validation` and confirms them on the other.
pub fn prune(
    model: &Mdpn,
    sample: Images,
    validation: Images,
    tolerance: f32,
    max_drop: Option<f64>,
) -> Result<Pruned> {
    if !(tolerance > 0.0 && tolerance < 1.0) {
        return Err(Error::Config(format!(
            "the tolerance must be between 0 and 1, got {tolerance}"
        )));
    }
    if max_drop.is_some_and(|p| !(p >= 0.0 && p.is_finite())) {
        return Err(Error::Config(
            "the accuracy budget must be a non-negative number of percentage points".into(),
        ));
    }
    let mut fixed = model.clone();
    let synapses_fixed = fix_constant_synapses(&mut fixed, tolerance);
    let (membrane, _) = membranes(&fixed, sample.0, sample.1)?;
    let means = feature_means(&fixed, &membrane);
    let mut removed = constant_dendrites(&fixed, &membrane, &means, tolerance);
    let constant_dendrites = removed.len();
    if let Some(drop) = max_drop {
        removed = within_drop(model, &fixed, &means, removed, drop, validation)?;
    }
    if removed.len() >= fixed.config.dendrites {
        return Err(Error::Config(
            "every dendrite is constant on the data: nothing would be left".into(),
        ));
    }
    Ok(Pruned {
        model: remove_dendrites(&fixed, &removed, &means)?,
        synapses_fixed,
        constant_dendrites,
        removed,
    })
}

fn validation_accuracy(model: &Mdpn, (data, indices): Images) -> Result<f64> {
    Ok(evaluate(model, data, indices, KernelChoice::Fast)?.accuracy)
}

/// Adds to `removed` the dendrites of `fixed` (the model with its constant synapses fixed)
/// that matter least, within `drop` points of `model`'s accuracy. Chosen and judged on the same
/// images, the drop would be kept there and exceeded on unseen ones (a dendrite that happens to
/// cost nothing on those images is taken): so the validation images are split in two halves,
/// alternately. The dendrites are ranked and taken one at a time on the choosing half (a
/// dendrite whose removal costs more than `drop` there is kept and the next one tried); each
/// removal is confirmed on the other half, and the first that costs more than `drop` there
/// ends the pruning, itself kept.
fn within_drop(
    model: &Mdpn,
    fixed: &Mdpn,
    means: &[f32],
    mut removed: Vec<usize>,
    drop: f64,
    (data, indices): Images,
) -> Result<Vec<usize>> {
    if indices.len() < 2 {
        return Err(Error::Config(
            "pruning within an accuracy budget needs at least 2 validation images".into(),
        ));
    }
    let choose: Vec<usize> = indices.iter().copied().step_by(2).collect();
    let confirm: Vec<usize> = indices.iter().copied().skip(1).step_by(2).collect();
    let (choose, confirm) = ((data, &choose[..]), (data, &confirm[..]));
    let base = (
        validation_accuracy(model, choose)?,
        validation_accuracy(model, confirm)?,
    );
    let cfg = &fixed.config;
    let without = importance(fixed, choose.0, choose.1)?.without;
    // A dendrite's importance: the accuracy without it, summed over its channels.
    let left = |d: usize| -> f64 {
        (0..cfg.channels)
            .map(|ch| without[ch * cfg.dendrites + d])
            .sum()
    };
    let mut order: Vec<usize> = (0..cfg.dendrites)
        .filter(|d| !removed.contains(d))
        .collect();
    order.sort_by(|&a, &b| left(b).total_cmp(&left(a)).then(a.cmp(&b)));
    let costs = |base: f64, trial: &Mdpn, images| -> Result<bool> {
        Ok(100.0 * (base - validation_accuracy(trial, images)?) > drop)
    };
    for d in order {
        if removed.len() + 1 >= cfg.dendrites {
            break;
        }
        removed.push(d);
        let trial = remove_dendrites(fixed, &removed, means)?;
        if costs(base.0, &trial, choose)? {
            removed.pop();
        } else if costs(base.1, &trial, confirm)? {
            removed.pop();
            break;
        }
    }
    Ok(removed)
}

/// Fixes every synapse whose state is constant at `tolerance` to its output at the middle of
/// the input range, and returns how many it fixed (synapses fixed before count again).
pub fn fix_constant_synapses(model: &mut Mdpn, tolerance: f32) -> usize {
    let cfg = model.config.clone();
    let (lo, hi) = input_range(&cfg);
    let mut fixed = 0;
    for (w, q) in model.params.w.iter_mut().zip(model.params.q.iter_mut()) {
        let (state, ..) = classify(&cfg, *w, *q, (lo, hi), tolerance);
        if state.is_constant() {
            let y = crate::layers::synapse::synapse(cfg.synapse, (lo + hi) / 2.0, *w, *q, cfg.k).0;
            *q = threshold_for(cfg.synapse, y, cfg.k);
            *w = 0.0;
            fixed += 1;
        }
    }
    fixed
}

/// The threshold `q` that makes a synapse of weight 0 output `y`: `f(−k·q) = y`.
fn threshold_for(f: SynapseFn, y: f32, k: f32) -> f32 {
    let z = match f {
        SynapseFn::Atan => ((y as f64 - 0.5) * std::f64::consts::PI).tan(),
        SynapseFn::Sigmoid => (y as f64 / (1.0 - y as f64)).ln(),
    };
    (-z / k as f64) as f32
}

/// Which synapses are fixed (weight exactly 0), in the layout of `w`: fine-tuning a pruned
/// model keeps these weights at 0.
pub fn fixed_synapses(model: &Mdpn) -> Vec<bool> {
    model.params.w.iter().map(|&w| w == 0.0).collect()
}

/// The dendrites (indices below M) whose membrane output, in every channel, stays within
/// `tolerance` of its mean over the images of `membrane` `(N, features)`, whose feature means
/// are `means`.
pub fn constant_dendrites(
    model: &Mdpn,
    membrane: &[f32],
    means: &[f32],
    tolerance: f32,
) -> Vec<usize> {
    let cfg = &model.config;
    let f = cfg.features();
    (0..cfg.dendrites)
        .filter(|&d| {
            (0..cfg.channels).all(|ch| {
                features_of(model, ch * cfg.dendrites + d).all(|j| {
                    membrane
                        .chunks_exact(f)
                        .all(|row| (row[j] - means[j]).abs() <= tolerance)
                })
            })
        })
        .collect()
}

/// `model` without the dendrites `remove` (indices below M, taken out of every channel), their
/// mean membrane outputs `means` (one per feature of the full model) folded into the soma bias.
pub fn remove_dendrites(model: &Mdpn, remove: &[usize], means: &[f32]) -> Result<Mdpn> {
    let cfg = &model.config;
    if let Some(&d) = remove.iter().find(|&&d| d >= cfg.dendrites) {
        return Err(Error::Config(format!(
            "dendrite {d} does not exist: the model has {}",
            cfg.dendrites
        )));
    }
    let keep: Vec<usize> = (0..cfg.dendrites).filter(|d| !remove.contains(d)).collect();
    if keep.is_empty() {
        return Err(Error::Config("pruning would remove every dendrite".into()));
    }
    if means.len() != cfg.features() {
        return Err(Error::Shape(format!(
            "{} feature means for a model of {} features",
            means.len(),
            cfg.features()
        )));
    }
    let mut config = cfg.clone();
    config.dendrites = keep.len();
    let syn = cfg.synapses();
    let (mut w, mut q) = (Vec::new(), Vec::new());
    for ch in 0..cfg.channels {
        for &d in &keep {
            let at = (ch * cfg.dendrites + d) * syn;
            w.extend_from_slice(&model.params.w[at..at + syn]);
            q.extend_from_slice(&model.params.q[at..at + syn]);
        }
    }
    // Features are (channel, cell, dendrite), dendrite fastest: keep the columns of kept
    // dendrites in that order, and fold the others' means into the bias.
    let (old_f, new_f, hidden) = (cfg.features(), config.features(), cfg.hidden);
    let soma = &model.params.soma;
    let mut weight = Vec::with_capacity(hidden * new_f);
    let mut bias = soma.bias.clone();
    for (h, b) in bias.iter_mut().enumerate() {
        let row = &soma.weight[h * old_f..][..old_f];
        let mut folded = 0.0f64;
        for (j, &v) in row.iter().enumerate() {
            if keep.contains(&(j % cfg.dendrites)) {
                weight.push(v);
            } else {
                folded += v as f64 * means[j] as f64;
            }
        }
        *b = (*b as f64 + folded) as f32;
    }
    let params = Params {
        w,
        q,
        soma: Linear {
            inputs: new_f,
            outputs: hidden,
            weight,
            bias,
        },
        axon: model.params.axon.clone(),
    };
    Mdpn::from_params(config, params)
}
