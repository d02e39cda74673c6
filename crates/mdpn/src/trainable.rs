//! What the training loop needs from a classifier, so that MDPN and the baselines
//! ([`crate::baselines`]) train and evaluate through the same code on the same data.

use crate::config::Task;
use crate::error::Result;
use crate::input::{Images, KernelChoice};
use crate::layers::linear::Linear;
use crate::model::{Mdpn, Params, Step, TENSOR_NAMES};

/// A model's trainable tensors (and, the same shape, its gradients), for the optimiser.
pub trait ParamSet: Clone + std::fmt::Debug + Send + Sync {
    /// The tensors, in a fixed order.
    fn tensors(&self) -> Vec<&[f32]>;
    /// The same tensors, mutable.
    fn tensors_mut(&mut self) -> Vec<&mut [f32]>;

    /// Whether every value is finite.
    fn all_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().all(|v| v.is_finite()))
    }
}

/// A classifier of 8-bit (or already normalised) images trained by gradient descent.
pub trait Network: Clone + std::fmt::Debug + Send + Sync {
    type Params: ParamSet;

    /// Short name of the architecture: `mdpn`, `mlp`, `cnn`.
    fn kind(&self) -> &'static str;
    /// Number of classes (width of the logits).
    fn classes(&self) -> usize;
    /// What the model predicts; the baselines are multi-class only.
    fn task(&self) -> Task {
        Task::MultiClass
    }
    /// Decisions the model makes per image, the denominator of its accuracy: one class, or one
    /// yes/no per label.
    fn decisions_per_image(&self) -> usize {
        match self.task() {
            Task::MultiClass => 1,
            Task::MultiLabel => self.classes(),
        }
    }
    /// Values of one input image.
    fn image_len(&self) -> usize;
    fn params(&self) -> &Self::Params;
    fn params_mut(&mut self) -> &mut Self::Params;

    /// Names and shapes of the parameter tensors, in [`ParamSet::tensors`] order, as
    /// checkpoints store them.
    fn tensor_layout(&self) -> Vec<(String, Vec<usize>)>;
    /// The architecture as JSON, recorded in checkpoints so that one is only ever loaded into
    /// the network it was saved from.
    fn config_json(&self) -> String;

    /// Number of trainable parameters.
    fn parameter_count(&self) -> usize {
        self.params().tensors().iter().map(|t| t.len()).sum()
    }

    /// Mean cross-entropy of a batch (with label smoothing `smoothing`, 0 for none) and its
    /// gradient with respect to every parameter. `kernel` matters to MDPN only.
    fn step(
        &self,
        images: Images,
        labels: &[u32],
        kernel: KernelChoice,
        smoothing: f32,
    ) -> Result<Step<Self::Params>>;

    /// A function from a batch of images to logits `(B, classes)` at the current parameters;
    /// it may precompute what every batch shares (MDPN's tables).
    #[allow(clippy::type_complexity)]
    fn predictor(
        &self,
        kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_>;
}

impl ParamSet for Params {
    fn tensors(&self) -> Vec<&[f32]> {
        Params::tensors(self).to_vec()
    }
    fn tensors_mut(&mut self) -> Vec<&mut [f32]> {
        Params::tensors_mut(self).into_iter().collect()
    }
}

/// Names and shapes of layers' tensors: `layers.<i>.weight` `(outputs, inputs)` and
/// `layers.<i>.bias`, in [`ParamSet::tensors`] order.
pub(crate) fn linear_layout(layers: &[Linear]) -> Vec<(String, Vec<usize>)> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            [
                (format!("layers.{i}.weight"), vec![l.outputs, l.inputs]),
                (format!("layers.{i}.bias"), vec![l.outputs]),
            ]
        })
        .collect()
}

/// Layers of the baselines: weights and biases of each, in order.
impl ParamSet for Vec<Linear> {
    fn tensors(&self) -> Vec<&[f32]> {
        self.iter()
            .flat_map(|l| [&l.weight[..], &l.bias[..]])
            .collect()
    }
    fn tensors_mut(&mut self) -> Vec<&mut [f32]> {
        self.iter_mut()
            .flat_map(|l| [&mut l.weight[..], &mut l.bias[..]])
            .collect()
    }
}

impl Network for Mdpn {
    type Params = Params;

    fn kind(&self) -> &'static str {
        "mdpn"
    }
    fn classes(&self) -> usize {
        self.config.classes
    }
    fn task(&self) -> Task {
        self.config.task
    }
    fn image_len(&self) -> usize {
        self.config.image_len()
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn tensor_layout(&self) -> Vec<(String, Vec<usize>)> {
        TENSOR_NAMES
            .iter()
            .map(|n| n.to_string())
            .zip(Params::shapes(&self.config))
            .collect()
    }
    fn config_json(&self) -> String {
        crate::tensor_file::json(&self.config)
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn step(
        &self,
        images: Images,
        labels: &[u32],
        kernel: KernelChoice,
        smoothing: f32,
    ) -> Result<Step> {
        self.smoothed_gradients(images, labels, kernel, smoothing)
    }
    fn predictor(
        &self,
        kernel: KernelChoice,
    ) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        let tables = self.tables();
        Box::new(move |images| Ok(self.forward(images, kernel, Some(&tables))?.logits))
    }
}
