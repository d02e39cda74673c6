//! One training epoch: shuffled batches → gradients → Adam, for any [`Network`].

use std::ops::ControlFlow;

use rand::seq::SliceRandom;

use crate::adam::Adam;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Images, KernelChoice, Mdpn};
use crate::splits::rng;
use crate::trainable::{Network, ParamSet};

/// Random stream of the shuffle of epoch `e` is `EPOCH_STREAM + e`, so an epoch's order depends
/// only on the seed and the epoch number.
const EPOCH_STREAM: u64 = 1 << 32;

/// What one training batch gave, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct BatchReport {
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
#[derive(Clone, Debug)]
pub struct Trainer<N: Network = Mdpn> {
    pub model: N,
    pub adam: Adam,
    pub batch_size: usize,
    pub seed: u64,
    pub kernel: KernelChoice,
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
        })
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
        let mut order = indices.to_vec();
        order.shuffle(&mut rng(self.seed, EPOCH_STREAM + epoch as u64));
        let batches = order.len().div_ceil(self.batch_size);
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (b, chunk) in order.chunks(self.batch_size).enumerate() {
            data.batch(chunk, &mut images, &mut labels);
            let step = self.model.step(Images::U8(&images), &labels, self.kernel)?;
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
    }
}
