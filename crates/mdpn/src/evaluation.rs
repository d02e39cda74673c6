//! Evaluation of a trained model: loss, MedMNIST's ACC and AUC, and the confusion matrix.

use crate::config::Task;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::layers::{axon, loss};
use crate::metrics;
use crate::parallel;
use crate::trainable::Network;

/// Loss, accuracy and confusion matrix of a model on some images.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    /// MedMNIST's ACC: arg-max accuracy, or for a multi-label model the mean per-label accuracy.
    pub accuracy: f64,
    /// MedMNIST's AUC ([`metrics::auc`]); `None` where no class has both positives and negatives.
    pub auc: Option<f64>,
    pub task: Task,
    pub classes: usize,
    /// Multi-class: `confusion[true * classes + predicted]` counts images. Multi-label:
    /// `confusion[label * 4 + 2 * truth + predicted]`, truth and prediction 0 or 1.
    pub confusion: Vec<u64>,
}

impl Evaluation {
    /// Accuracy of each class: correct predictions over images of that class (0 where none).
    /// For a multi-label model: the accuracy of each label.
    pub fn per_class(&self) -> Vec<f64> {
        per_class(self.task, self.classes, &self.confusion)
    }
}

/// Accuracy of each class (or label) from a confusion matrix laid out as in [`Evaluation`].
pub fn per_class(task: Task, classes: usize, confusion: &[u64]) -> Vec<f64> {
    if task == Task::MultiLabel {
        return confusion
            .chunks_exact(4)
            .map(|c| (c[0] + c[3]) as f64 / c.iter().sum::<u64>().max(1) as f64)
            .collect();
    }
    (0..classes)
        .map(|t| {
            let row = &confusion[t * classes..][..classes];
            let total: u64 = row.iter().sum();
            if total == 0 {
                0.0
            } else {
                row[t] as f64 / total as f64
            }
        })
        .collect()
}

/// What evaluation needs from a model: its outputs and a function from images to logits. Every
/// trainable [`Network`] is one; so is the int8 model ([`crate::quantized::QuantizedMdpn`]).
pub trait Classifier: Sync {
    /// Number of classes (width of the logits).
    fn classes(&self) -> usize;
    /// What the model predicts.
    fn task(&self) -> Task;
    /// A function from a batch of images to logits `(B, classes)`.
    #[allow(clippy::type_complexity)]
    fn predictor(
        &self,
        kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_>;
}

impl<N: Network> Classifier for N {
    fn classes(&self) -> usize {
        Network::classes(self)
    }
    fn task(&self) -> Task {
        Network::task(self)
    }
    fn predictor(
        &self,
        kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        Network::predictor(self, kernel)
    }
}

/// Images per evaluation batch: larger than training batches, as no gradient is kept.
const EVAL_BATCH: usize = 256;

/// Evaluates `model` on the images of `data` at `indices`.
///
/// ```
/// use mdpn::evaluation::evaluate;
/// use mdpn::{Config, Dataset, KernelChoice, Mdpn};
///
/// // Four 12×12 gray images of two classes.
/// let images: Vec<u8> = (0..4 * 144).map(|i| (i * 7 % 256) as u8).collect();
/// let names = vec!["dark".to_string(), "bright".to_string()];
/// let data = Dataset::new(images, vec![0, 1, 0, 1], 1, 12, names)?;
/// let config = Config {
///     image_size: 12,
///     dendrites: 4,
///     hidden: 8,
///     classes: 2,
///     ..Config::default()
/// };
/// let model = Mdpn::new(config, 0)?;
/// let e = evaluate(&model, &data, &[0, 1, 2, 3], KernelChoice::Fast)?;
/// assert_eq!(e.confusion.iter().sum::<u64>(), 4); // [true class][predicted class]
/// assert!((0.0..=1.0).contains(&e.accuracy) && e.loss > 0.0);
/// assert_eq!(e.per_class().len(), 2);
/// # Ok::<(), mdpn::Error>(())
/// ```
pub fn evaluate<N: Classifier + ?Sized>(
    model: &N,
    data: &Dataset,
    indices: &[usize],
    kernel: KernelChoice,
) -> Result<Evaluation> {
    let classes = model.classes();
    if data.classes() > classes {
        return Err(Error::Shape(format!(
            "the data set has {} classes, the model only {classes}",
            data.classes()
        )));
    }
    let task = model.task();
    if data.task != task {
        return Err(Error::Shape(format!(
            "the data set is {:?} but the model {task:?}",
            data.task
        )));
    }
    let predict = model.predictor(kernel);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let mut confusion = vec![
        0u64;
        match task {
            Task::MultiClass => classes * classes,
            Task::MultiLabel => classes * 4,
        }
    ];
    let (mut scores, mut all_labels) = (Vec::new(), Vec::new());
    let mut loss_sum = 0.0f64;
    // Batches one after the other: the other threads kept polling between their steps.
    parallel::busy(|| -> Result<()> {
        for chunk in indices.chunks(EVAL_BATCH) {
            data.batch(chunk, &mut images, &mut labels);
            let mut logits = predict(Images::U8(&images))?;
            let loss = match task {
                Task::MultiClass => {
                    for (row, &label) in logits.chunks_exact(classes).zip(&labels) {
                        confusion[label as usize * classes + axon::argmax(row)] += 1;
                    }
                    let loss = loss::cross_entropy(&logits, &labels, classes, 0.0).0;
                    axon::softmax(&mut logits, classes);
                    loss
                }
                Task::MultiLabel => {
                    let loss = loss::sigmoid_bce(&logits, &labels, classes, 0.0).0;
                    axon::sigmoid(&mut logits);
                    for (row, &mask) in logits.chunks_exact(classes).zip(&labels) {
                        for (c, &p) in row.iter().enumerate() {
                            let truth = ((mask >> c) & 1) as usize;
                            confusion[c * 4 + 2 * truth + usize::from(p > 0.5)] += 1;
                        }
                    }
                    loss
                }
            };
            loss_sum += loss as f64 * chunk.len() as f64;
            scores.extend_from_slice(&logits);
            all_labels.extend_from_slice(&labels);
        }
        Ok(())
    })?;
    let n = indices.len().max(1) as f64;
    let accuracy = match task {
        Task::MultiClass => {
            (0..classes)
                .map(|c| confusion[c * classes + c])
                .sum::<u64>() as f64
                / n
        }
        Task::MultiLabel => metrics::multi_label_accuracy(&scores, &all_labels, classes),
    };
    Ok(Evaluation {
        loss: loss_sum / n,
        accuracy,
        auc: metrics::auc(task, &scores, &all_labels, classes),
        task,
        classes,
        confusion,
    })
}
