//! A fully connected layer `y = W x + b`, shared by the soma and axon layers.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::matmul::{matmul, MatRef};

/// Weights `(outputs, inputs)` row-major and biases `(outputs)`, as in PyTorch's `nn.Linear`.
///
/// ```
/// use mdpn::layers::linear::Linear;
///
/// // y = 1·x₀ − 2·x₁ + 0.5
/// let layer = Linear { inputs: 2, outputs: 1, weight: vec![1.0, -2.0], bias: vec![0.5] };
/// // A batch of two inputs, (3, 1) and (0, 0).
/// assert_eq!(layer.forward(&[3.0, 1.0, 0.0, 0.0]), [1.5, 0.5]);
/// // The gradients for dL/dy = 1 at input (3, 1).
/// let mut grad = Linear::zeros(2, 1);
/// let dx = layer.backward(&[3.0, 1.0], &[1.0], &mut grad, true);
/// assert_eq!((grad.weight, grad.bias), (vec![3.0, 1.0], vec![1.0]));
/// assert_eq!(dx, Some(vec![1.0, -2.0]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Linear {
    /// PyTorch's default initialisation, which the authors' code used: weights and biases drawn
    /// from U(−1/√inputs, 1/√inputs).
    pub fn init(inputs: usize, outputs: usize, rng: &mut ChaCha8Rng) -> Linear {
        let bound = 1.0 / (inputs as f32).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
        let weight = draw(inputs * outputs);
        let bias = draw(outputs);
        Linear {
            inputs,
            outputs,
            weight,
            bias,
        }
    }

    /// A layer of zeros, the shape of a gradient.
    pub fn zeros(inputs: usize, outputs: usize) -> Linear {
        Linear {
            inputs,
            outputs,
            weight: vec![0.0; inputs * outputs],
            bias: vec![0.0; outputs],
        }
    }

    /// `(B, inputs)` → `(B, outputs)`.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let batch = x.len() / self.inputs;
        let mut y: Vec<f32> = (0..batch).flat_map(|_| self.bias.iter().copied()).collect();
        let w = MatRef::new(&self.weight, self.outputs, self.inputs);
        matmul(MatRef::new(x, batch, self.inputs), w.t(), &mut y, 1.0);
        y
    }

    /// Adds the gradients of weights and biases into `grad`, given the layer's input `x` and the
    /// gradient `dy` of its output, and returns the gradient of its input when `want_input`.
    pub fn backward(
        &self,
        x: &[f32],
        dy: &[f32],
        grad: &mut Linear,
        want_input: bool,
    ) -> Option<Vec<f32>> {
        let batch = dy.len() / self.outputs;
        let dy_m = MatRef::new(dy, batch, self.outputs);
        matmul(
            dy_m.t(),
            MatRef::new(x, batch, self.inputs),
            &mut grad.weight,
            1.0,
        );
        for row in dy.chunks_exact(self.outputs) {
            for (b, g) in grad.bias.iter_mut().zip(row) {
                *b += g;
            }
        }
        want_input.then(|| {
            let mut dx = vec![0.0; batch * self.inputs];
            matmul(
                dy_m,
                MatRef::new(&self.weight, self.outputs, self.inputs),
                &mut dx,
                0.0,
            );
            dx
        })
    }
}
