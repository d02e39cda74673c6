//! Training, for any [`Network`]: one epoch (shuffled batches → gradients → Adam), and [`fit`],
//! the run's loop of epochs (train → validate → test → end-of-epoch hook → stop check).

use std::ops::ControlFlow;

use rand::seq::SliceRandom;

use crate::adam::Adam;
use crate::checkpoint::{Best, Checkpoint};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::evaluation::{evaluate, Evaluation};
use crate::input::{Images, KernelChoice};
use crate::model::Mdpn;
use crate::parallel;
use crate::prune::fixed_synapses;
use crate::recipe::Recipe;
use crate::splits::{rng, Source, Splits, Subset};
use crate::trainable::{Network, ParamSet};

/// Random stream of the shuffle of epoch `e` is `EPOCH_STREAM + e`, so an epoch's order depends
/// only on the seed and the epoch number.
const EPOCH_STREAM: u64 = 1 << 32;

/// Random stream of the augmentation of epoch `e` is `AUGMENT_STREAM + e`.
const AUGMENT_STREAM: u64 = 2 << 32;

/// What one training batch gave, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct BatchReport {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// Batches done in this epoch, and in all.
    pub batch: usize,
    pub batches: usize,
    /// Images in this batch.
    pub images: usize,
    /// Running mean loss and accuracy over the epoch so far.
    pub loss: f64,
    pub accuracy: f64,
}

/// Mean loss and accuracy over one training epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    pub loss: f64,
    pub accuracy: f64,
}

/// A model (MDPN or a baseline), its optimiser, and the settings of its training run.
///
/// ```
/// use mdpn::training::Trainer;
/// use mdpn::{Config, Dataset, Mdpn};
///
/// // 64 12×12 images: class 0 bright on the left half, class 1 on the right.
/// let (n, side) = (64, 12);
/// let labels: Vec<u32> = (0..n).map(|i| i % 2).collect();
/// let images: Vec<u8> = (0..n as usize * side * side)
///     .map(|i| {
///         let (image, col) = (i / (side * side), i % side);
///         let lit = (col < side / 2) == (labels[image] == 0);
///         if lit { 200 + (i % 50) as u8 } else { (i % 30) as u8 }
///     })
///     .collect();
/// let data = Dataset::new(images, labels, 1, side, vec!["left".into(), "right".into()])?;
/// let config = Config {
///     image_size: 12,
///     dendrites: 4,
///     hidden: 8,
///     classes: 2,
///     ..Config::default()
/// };
/// // Adam at learning rate 1e-2, batches of 16, shuffled with seed 0.
/// let mut trainer = Trainer::new(Mdpn::new(config, 0)?, 1e-2, 16, 0)?;
/// let all: Vec<usize> = (0..data.len()).collect();
/// let first = trainer.train_epoch(&data, &all, 0, |_| {})?;
/// let mut last = first;
/// for epoch in 1..5 {
///     last = trainer.train_epoch(&data, &all, epoch, |report| assert!(report.loss.is_finite()))?;
/// }
/// assert!(last.loss < first.loss, "{last:?} after {first:?}");
/// # Ok::<(), mdpn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<N: Network = Mdpn> {
    pub model: N,
    pub adam: Adam,
    pub batch_size: usize,
    pub seed: u64,
    pub kernel: KernelChoice,
    /// Base learning rate, which the recipe's schedule scales.
    pub lr: f32,
    /// How to train beyond plain Adam; the paper's by default.
    pub recipe: Recipe,
    /// Epochs of the whole run, which the schedule spans.
    pub epochs: usize,
    /// Parameters that do not train: one mask per tensor, in `ParamSet::tensors` order (tensors
    /// past the last mask train whole). Their gradients are zeroed before Adam (see
    /// [`Trainer::freeze`]).
    pub frozen: Vec<Vec<bool>>,
}

impl<N: Network> Trainer<N> {
    /// Adam over `model`'s parameters.
    pub fn new(model: N, lr: f32, batch_size: usize, seed: u64) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be positive, got {lr}"
            )));
        }
        let adam = Adam::new(model.params(), lr);
        Ok(Trainer {
            model,
            adam,
            batch_size,
            seed,
            kernel: KernelChoice::Fast,
            lr,
            recipe: Recipe::paper(),
            epochs: 1,
            frozen: Vec::new(),
        })
    }

    /// Freezes the parameters where `masks` (one per tensor, in `ParamSet::tensors` order) is
    /// true: their gradients are zeroed after every step and their Adam moments start at 0, so
    /// Adam never moves them, and weight decay only scales them, which leaves a 0 exactly 0.
    pub fn freeze(mut self, masks: Vec<Vec<bool>>) -> Result<Self> {
        let tensors = self.model.params().tensors();
        let sizes: Vec<usize> = tensors.iter().map(|t| t.len()).collect();
        if masks.len() > sizes.len() || masks.iter().zip(&sizes).any(|(m, &n)| m.len() != n) {
            let lens: Vec<usize> = masks.iter().map(Vec::len).collect();
            return Err(Error::Shape(format!(
                "freeze masks of {lens:?} values for tensors of {sizes:?}"
            )));
        }
        for ((m, v), mask) in self.adam.m.iter_mut().zip(&mut self.adam.v).zip(&masks) {
            for ((m, v), _) in m.iter_mut().zip(v).zip(mask).filter(|(_, &f)| f) {
                (*m, *v) = (0.0, 0.0);
            }
        }
        self.frozen = masks;
        Ok(self)
    }

    /// Trains with `recipe` over a run of `epochs` epochs.
    pub fn with_recipe(mut self, recipe: Recipe, epochs: usize) -> Result<Self> {
        recipe.validate()?;
        self.adam.weight_decay = recipe.weight_decay;
        self.recipe = recipe;
        self.epochs = epochs;
        Ok(self)
    }

    /// A run that has not trained yet, for [`fit`]: this trainer's model and Adam, nothing
    /// recorded, and the run's `settings` (JSON) that a resumed run is checked against.
    pub fn fresh_run(&self, settings: String) -> Checkpoint<N> {
        Checkpoint {
            model: self.model.clone(),
            adam: self.adam.clone(),
            epochs_done: 0,
            best: None,
            settings,
            metrics: String::new(),
            extra: String::new(),
        }
    }

    /// Trains one epoch (`epoch` counts from 0) over the images of `data` at `indices`, in an
    /// order shuffled by the seed and epoch. Calls `on_batch` after every batch.
    pub fn train_epoch(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        epoch: usize,
        mut on_batch: impl FnMut(&BatchReport),
    ) -> Result<EpochStats> {
        let stats = self.train_epoch_until(data, indices, epoch, |r| {
            on_batch(r);
            ControlFlow::Continue(())
        })?;
        Ok(stats.expect("an epoch that is never stopped finishes"))
    }

    /// [`Trainer::train_epoch`], stopped after the batch for which `on_batch` says
    /// [`ControlFlow::Break`] (a user's interrupt): then `None`, the model keeping the batches
    /// done.
    pub fn train_epoch_until(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        epoch: usize,
        mut on_batch: impl FnMut(&BatchReport) -> ControlFlow<()>,
    ) -> Result<Option<EpochStats>> {
        // Batches follow one another with little serial work between their parallel steps.
        parallel::busy(|| {
            let mut order = indices.to_vec();
            order.shuffle(&mut rng(self.seed, EPOCH_STREAM + epoch as u64));
            let batches = order.len().div_ceil(self.batch_size);
            let (mut images, mut labels) = (Vec::new(), Vec::new());
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
            let mut augment_rng = rng(self.seed, AUGMENT_STREAM + epoch as u64);
            let mut scratch = Vec::new();
            for (b, chunk) in order.chunks(self.batch_size).enumerate() {
                data.batch(chunk, &mut images, &mut labels);
                let recipe = &self.recipe;
                recipe.augment.apply(
                    &mut images,
                    data.channels,
                    data.size,
                    &mut augment_rng,
                    &mut scratch,
                );
                self.adam.lr = recipe.lr_at(self.lr, epoch, b, batches, self.epochs);
                let smoothing = recipe.label_smoothing;
                let mut step =
                    self.model
                        .step(Images::U8(&images), &labels, self.kernel, smoothing)?;
                for (grad, mask) in step.grads.tensors_mut().into_iter().zip(&self.frozen) {
                    for (g, _) in grad.iter_mut().zip(mask).filter(|(_, &f)| f) {
                        *g = 0.0;
                    }
                }
                if let Some(max) = recipe.clip_grad_norm {
                    clip_norm(&mut step.grads, max);
                }
                if !step.loss.is_finite() || !step.grads.all_finite() {
                    return Err(Error::Diverged(format!(
                        "the loss or its gradient is not finite (loss {}) at epoch {}, batch {} of {batches}",
                        step.loss,
                        epoch + 1,
                        b + 1
                    )));
                }
                self.adam.step(self.model.params_mut(), &step.grads);
                if !self.model.params().all_finite() {
                    return Err(Error::Diverged(format!(
                        "a parameter became non-finite at epoch {}, batch {} of {batches}",
                        epoch + 1,
                        b + 1
                    )));
                }
                loss_sum += step.loss as f64 * chunk.len() as f64;
                correct += step.correct;
                seen += chunk.len();
                let decisions = seen * self.model.decisions_per_image();
                let report = BatchReport {
                    epoch: epoch + 1,
                    batch: b + 1,
                    batches,
                    images: chunk.len(),
                    loss: loss_sum / seen as f64,
                    accuracy: correct as f64 / decisions as f64,
                };
                if on_batch(&report).is_break() {
                    return Ok(None);
                }
            }
            let decisions = seen.max(1) * self.model.decisions_per_image();
            Ok(Some(EpochStats {
                loss: loss_sum / seen.max(1) as f64,
                accuracy: correct as f64 / decisions as f64,
            }))
        })
    }
}

impl Trainer<Mdpn> {
    /// Keeps the model's fixed synapses ([`fixed_synapses`]: weight exactly 0, as pruning
    /// leaves them) fixed: their weights are frozen, so a pruned model trains on as one.
    pub fn keeping_fixed_synapses(self) -> Result<Self> {
        let mask = fixed_synapses(&self.model);
        self.freeze(vec![mask])
    }
}

/// `model` (a pruned one) trained `epochs` epochs more on `data`, as `mdpn train --init` trains
/// it (Adam at `lr`, the paper's recipe otherwise, fixed synapses kept fixed). Returns the
/// model of the best validation epoch and that epoch; `on_epoch` sees the end of every epoch.
pub fn fine_tune(
    model: &Mdpn,
    data: FitData,
    lr: f32,
    batch_size: usize,
    seed: u64,
    epochs: usize,
    mut on_epoch: impl FnMut(&EpochEnd),
) -> Result<(Mdpn, usize)> {
    let mut trainer = Trainer::new(model.clone(), lr, batch_size, seed)?
        .with_recipe(Recipe::paper(), epochs)?
        .keeping_fixed_synapses()?;
    let mut run = trainer.fresh_run(String::new());
    let mut best = (model.clone(), 0);
    let keep = |end: &EpochEnd, run: &mut Checkpoint<Mdpn>| -> Result<()> {
        on_epoch(end);
        if end.best {
            best = (run.model.clone(), end.epoch);
        }
        Ok(())
    };
    fit(
        &mut trainer,
        &mut run,
        data,
        epochs,
        |_| ControlFlow::Continue(()),
        keep,
        || false,
    )?;
    Ok(best)
}

/// The images a run trains, validates and tests on: the data set's two sources and its splits.
#[derive(Clone, Copy, Debug)]
pub struct FitData<'a> {
    pub train: &'a Dataset,
    pub test: &'a Dataset,
    pub splits: &'a Splits,
}

impl FitData<'_> {
    fn source(&self, subset: &Subset) -> &Dataset {
        match subset.source {
            Source::Train => self.train,
            Source::Test => self.test,
        }
    }
}

/// What an epoch gave, for the end-of-epoch hook of [`fit`].
#[derive(Clone, Debug)]
pub struct EpochEnd {
    /// The epoch, counting from 1, and the run's number of epochs.
    pub epoch: usize,
    pub epochs: usize,
    pub train: EpochStats,
    pub validation: Evaluation,
    pub test: Evaluation,
    /// Whether this epoch's model is the run's best so far, the one to keep: the highest
    /// validation accuracy (the first epoch that reached it), or, without validation images,
    /// the last epoch.
    pub best: bool,
}

/// How [`fit`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fitted {
    /// Every epoch is done.
    Finished,
    /// The stop check asked to stop after the epoch `run.epochs_done`, before the last, or the
    /// batch hook stopped the epoch after it (unfinished, it left `run` as it was).
    Stopped,
}

/// Trains `run` up to `epochs` epochs: the loop of a training run, shared by every front end.
///
/// The run continues from `run` (a fresh checkpoint, or one read back to resume): its model,
/// Adam's state, the epochs done and the best epoch so far; `trainer` gives the batch size, seed
/// and kernel. After each epoch the model is validated and tested, `run` is brought up to date
/// (model, Adam, epochs done, best) and handed with the epoch's results to `on_epoch`, which
/// records it (metrics, model files, and last the checkpoint: a run that dies before loses only
/// that epoch). Then `stop` is asked whether to end the run early. `on_batch` sees every training
/// batch and may break off the epoch (an interrupt that cannot wait for the epoch's end). The
/// hooks do the I/O. A diverged epoch ends the run with `run` at the last finished
/// epoch; an error of a hook ends it with that error.
pub fn fit<N: Network, E: From<Error>>(
    trainer: &mut Trainer<N>,
    run: &mut Checkpoint<N>,
    data: FitData,
    epochs: usize,
    mut on_batch: impl FnMut(&BatchReport) -> ControlFlow<()>,
    mut on_epoch: impl FnMut(&EpochEnd, &mut Checkpoint<N>) -> std::result::Result<(), E>,
    mut stop: impl FnMut() -> bool,
) -> std::result::Result<Fitted, E> {
    trainer.model = run.model.clone();
    trainer.adam = run.adam.clone();
    let splits = data.splits;
    for epoch in run.epochs_done..epochs {
        let Some(train) = trainer.train_epoch_until(
            data.source(&splits.train),
            &splits.train.indices,
            epoch,
            &mut on_batch,
        )?
        else {
            return Ok(Fitted::Stopped);
        };
        let on = |subset: &Subset| {
            evaluate(
                &trainer.model,
                data.source(subset),
                &subset.indices,
                trainer.kernel,
            )
        };
        let (validation, test) = (on(&splits.validation)?, on(&splits.test)?);
        let best = splits.validation.indices.is_empty()
            || run
                .best
                .is_none_or(|b| validation.accuracy > b.val_accuracy);
        if best {
            run.best = Some(Best {
                epoch: epoch + 1,
                val_accuracy: validation.accuracy,
            });
        }
        run.epochs_done = epoch + 1;
        run.model = trainer.model.clone();
        run.adam = trainer.adam.clone();
        let end = EpochEnd {
            epoch: epoch + 1,
            epochs,
            train,
            validation,
            test,
            best,
        };
        on_epoch(&end, run)?;
        if epoch + 1 < epochs && stop() {
            return Ok(Fitted::Stopped);
        }
    }
    Ok(Fitted::Finished)
}

/// Scales `grads` down so that their global L2 norm is at most `max`, as PyTorch's
/// `clip_grad_norm_`. The norm is summed in tensor order, so it is the same on any thread count.
fn clip_norm<P: ParamSet>(grads: &mut P, max: f32) {
    let norm = grads
        .tensors()
        .iter()
        .flat_map(|t| t.iter())
        .map(|&g| g as f64 * g as f64)
        .sum::<f64>()
        .sqrt();
    if norm > max as f64 {
        let scale = (max as f64 / (norm + 1e-6)) as f32;
        for t in grads.tensors_mut() {
            t.iter_mut().for_each(|g| *g *= scale);
        }
    }
}
