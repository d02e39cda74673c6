//! How much each dendrite matters: the accuracy left when its membrane output is replaced by
//! its mean over the images, all else unchanged. A dendrite whose replacement costs nothing
//! carries no information about the class and can be folded into the soma's bias.

use crate::config::Task;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::layers::axon::argmax;
use crate::model::Mdpn;

/// Images per forward pass when membrane outputs are gathered.
const CHUNK: usize = 256;

/// The membrane outputs `(N, features)` of the images of `data` at `indices`, with their
/// labels, through the 8-bit kernel in batches: what importance and pruning measure.
pub fn membranes(model: &Mdpn, data: &Dataset, indices: &[usize]) -> Result<(Vec<f32>, Vec<u32>)> {
    let tables = model.tables();
    let (mut membrane, mut labels) = (Vec::new(), Vec::new());
    let (mut images, mut batch_labels) = (Vec::new(), Vec::new());
    for chunk in indices.chunks(CHUNK) {
        data.batch(chunk, &mut images, &mut batch_labels);
        let fwd = model.forward(Images::U8(&images), KernelChoice::Fast, Some(&tables))?;
        membrane.extend_from_slice(&fwd.membrane);
        labels.extend_from_slice(&batch_labels);
    }
    Ok((membrane, labels))
}

/// Every dendrite's importance on a set of labelled images ([`ablation`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Importance {
    /// The model's accuracy as it is.
    pub accuracy: f64,
    /// The accuracy with each dendrite's output replaced by its mean, in `channel · M +
    /// dendrite` order.
    pub without: Vec<f64>,
}

impl Importance {
    /// The dendrites (`channel · M + dendrite`) from the most important (the lowest accuracy
    /// without it) to the least; ties in index order.
    pub fn ranking(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.without.len()).collect();
        order.sort_by(|&a, &b| self.without[a].total_cmp(&self.without[b]).then(a.cmp(&b)));
        order
    }
}

/// [`ablation`] on the images of `data` at `indices`.
pub fn importance(model: &Mdpn, data: &Dataset, indices: &[usize]) -> Result<Importance> {
    let (membrane, labels) = membranes(model, data, indices)?;
    let (accuracy, without) = ablation(model, &membrane, &labels)?;
    Ok(Importance { accuracy, without })
}

/// The membrane features of dendrite `map` (`channel · M + dendrite`): one per pooled cell.
pub fn features_of(model: &Mdpn, map: usize) -> impl Iterator<Item = usize> {
    let cfg = &model.config;
    let (m, cells) = (cfg.dendrites, cfg.pooled_side() * cfg.pooled_side());
    let (ch, d) = (map / m, map % m);
    (0..cells).map(move |cell| (ch * cells + cell) * m + d)
}

/// The mean of every membrane feature over the images of `membrane` `(N, features)`.
pub fn feature_means(model: &Mdpn, membrane: &[f32]) -> Vec<f32> {
    let f = model.config.features();
    let n = (membrane.len() / f).max(1) as f64;
    let mut sum = vec![0.0f64; f];
    for row in membrane.chunks_exact(f) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    sum.into_iter().map(|s| (s / n) as f32).collect()
}

/// The accuracy of `model` on images whose membrane outputs are `membrane` `(N, features)` and
/// whose labels are `labels`, first as it is, then with each dendrite (`channel · M +
/// dendrite` order) replaced by its mean: `(accuracy, accuracy without each dendrite)`.
pub fn ablation(model: &Mdpn, membrane: &[f32], labels: &[u32]) -> Result<(f64, Vec<f64>)> {
    let cfg = &model.config;
    let f = cfg.features();
    if membrane.len() != labels.len() * f {
        return Err(Error::Shape(format!(
            "{} membrane values are not {} images of {f} features",
            membrane.len(),
            labels.len()
        )));
    }
    let soma = &model.params.soma;
    let pre = soma.forward(membrane);
    let means = feature_means(model, membrane);
    let accuracy = |pre: &[f32]| accuracy(model, pre, labels);
    let maps = cfg.channels * cfg.dendrites;
    let mut without = Vec::with_capacity(maps);
    let mut shifted = pre.clone();
    for map in 0..maps {
        shifted.copy_from_slice(&pre);
        let feats: Vec<usize> = features_of(model, map).collect();
        for (row, x) in shifted
            .chunks_exact_mut(cfg.hidden)
            .zip(membrane.chunks_exact(f))
        {
            for &j in &feats {
                let delta = means[j] - x[j];
                for (h, z) in row.iter_mut().enumerate() {
                    *z += soma.weight[h * f + j] * delta;
                }
            }
        }
        without.push(accuracy(&shifted));
    }
    Ok((accuracy(&pre), without))
}

/// Accuracy of the model's decisions from the soma's pre-activations `(N, hidden)`.
fn accuracy(model: &Mdpn, pre: &[f32], labels: &[u32]) -> f64 {
    let cfg = &model.config;
    let h: Vec<f32> = pre.iter().map(|v| v.max(0.0)).collect();
    let logits = model.params.axon.forward(&h);
    let right: usize = logits
        .chunks_exact(cfg.classes)
        .zip(labels)
        .map(|(row, &label)| match cfg.task {
            Task::MultiClass => usize::from(argmax(row) == label as usize),
            Task::MultiLabel => (0..cfg.classes)
                .filter(|&c| (row[c] > 0.0) == ((label >> c) & 1 == 1))
                .count(),
        })
        .sum();
    let per_image = match cfg.task {
        Task::MultiClass => 1,
        Task::MultiLabel => cfg.classes,
    };
    right as f64 / (labels.len() * per_image).max(1) as f64
}
