//! A multilayer perceptron: flattened image → (Linear + ReLU)* → Linear → softmax.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{check_normalisation, inputs, relu, relu_backward};
use crate::error::{Error, Result};
use crate::input::{Images, KernelChoice};
use crate::layers::linear::Linear;
use crate::layers::loss;
use crate::model::Step;
use crate::trainable::Network;

/// The shape of a multilayer perceptron.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Values of one input image (channels × side × side).
    pub inputs: usize,
    /// Widths of the hidden layers.
    pub hidden: Vec<usize>,
    pub classes: usize,
    /// Input normalisation: `x = (u8/255 - mean) / std`.
    pub mean: f32,
    pub std: f32,
}

impl MlpConfig {
    /// One hidden layer as wide as it can be with at most `parameters` parameters in all
    /// (at least 1): an MLP of about the size of another model.
    pub fn sized(inputs: usize, classes: usize, parameters: usize, mean: f32, std: f32) -> Self {
        // inputs·h + h + classes·h + classes ≤ parameters
        let width = parameters.saturating_sub(classes) / (inputs + 1 + classes);
        MlpConfig {
            inputs,
            hidden: vec![width.max(1)],
            classes,
            mean,
            std,
        }
    }

    /// Widths of every layer's input and output, in order.
    pub(super) fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.inputs];
        w.extend(&self.hidden);
        w.push(self.classes);
        w
    }
}

/// A multilayer perceptron classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub config: MlpConfig,
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// Layers initialised as PyTorch does; the same seed gives the same model.
    pub fn new(config: MlpConfig, seed: u64) -> Result<Mlp> {
        check_normalisation(config.mean, config.std)?;
        if config.classes < 2 || config.widths().contains(&0) {
            return Err(Error::Config(format!(
                "an MLP needs non-empty layers and at least 2 classes, got {:?}",
                config.widths()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = config
            .widths()
            .windows(2)
            .map(|w| Linear::init(w[0], w[1], &mut rng))
            .collect();
        Ok(Mlp { config, layers })
    }

    /// The input of every layer, then the logits.
    pub(super) fn forward(&self, x: Vec<f32>) -> Vec<Vec<f32>> {
        let mut acts = vec![x];
        for (i, layer) in self.layers.iter().enumerate() {
            let mut y = layer.forward(acts.last().expect("input"));
            if i + 1 < self.layers.len() {
                relu(&mut y);
            }
            acts.push(y);
        }
        acts
    }

    fn normalisation(&self) -> (f32, f32) {
        (self.config.mean, self.config.std)
    }
}

impl Network for Mlp {
    type Params = Vec<Linear>;

    fn kind(&self) -> &'static str {
        "mlp"
    }
    fn classes(&self) -> usize {
        self.config.classes
    }
    fn image_len(&self) -> usize {
        self.config.inputs
    }
    fn params(&self) -> &Vec<Linear> {
        &self.layers
    }
    fn params_mut(&mut self) -> &mut Vec<Linear> {
        &mut self.layers
    }
    fn tensor_layout(&self) -> Vec<(String, Vec<usize>)> {
        crate::trainable::linear_layout(&self.layers)
    }
    fn config_json(&self) -> String {
        crate::tensor_file::json(&self.config)
    }

    fn step(
        &self,
        images: Images,
        labels: &[u32],
        _: KernelChoice,
        smoothing: f32,
    ) -> Result<Step<Vec<Linear>>> {
        let classes = self.config.classes;
        let x = inputs(
            images,
            self.config.inputs,
            Some(labels),
            classes,
            self.normalisation(),
        )?;
        let acts = self.forward(x);
        let (loss, mut dy, correct) =
            loss::cross_entropy(acts.last().expect("logits"), labels, classes, smoothing);
        let mut grads: Vec<Linear> = self
            .layers
            .iter()
            .map(|l| Linear::zeros(l.inputs, l.outputs))
            .collect();
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let dx = layer.backward(&acts[i], &dy, &mut grads[i], i > 0);
            if let Some(mut dx) = dx {
                relu_backward(&mut dx, &acts[i]);
                dy = dx;
            }
        }
        Ok(Step {
            loss,
            correct,
            grads,
        })
    }

    fn predictor(&self, _: KernelChoice) -> Box<dyn Fn(Images) -> Result<Vec<f32>> + Sync + '_> {
        Box::new(move |images| {
            let x = inputs(
                images,
                self.config.inputs,
                None,
                self.config.classes,
                self.normalisation(),
            )?;
            Ok(self.forward(x).pop().expect("logits"))
        })
    }
}
