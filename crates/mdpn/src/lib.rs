//! MDPN, the multi-dendritic pyramidal neuron image classifier of Zhang, Cai, Sun, Zhang, Lei and
//! Gao, "A Lightweight Multidendritic Pyramidal Neuron Model With Neural Plasticity on Image
//! Recognition", IEEE Transactions on Artificial Intelligence 5(9), 2024.
//!
//! An image flows through five layers named after a pyramidal neuron ([`layers`]):
//! 1. presynaptic: every synapse of a `window × window` dendrite maps its pixel `x` to
//!    `Y = 1/2 + atan(k·(x·w − q))/π` ([`layers::synapse`]);
//! 2. dendrite: `D = Σ_rows ln(Π_cols (Y + c))`, one value per window position and dendrite
//!    ([`layers::dendrites`], computed by the [`kernels`]);
//! 3. membrane: max pool ([`layers::membrane`]);
//! 4. soma: `Linear` + ReLU ([`layers::soma`]);
//! 5. axon: `Linear` + softmax ([`layers::axon`]), trained with [`layers::loss`] and [`adam`].
//!
//! The crate is the model core: no files, no terminal, threads only with the `parallel`
//! feature, so it builds for `wasm32-unknown-unknown`. Data set file formats live in
//! `mdpn-data`, the program in `mdpn-cli`.
//!
//! ```
//! use mdpn::{Config, Images, KernelChoice, Mdpn};
//!
//! // The paper's model for 28×28 gray images of 10 classes, drawn with seed 0.
//! let model = Mdpn::new(Config::default(), 0)?;
//! let image = vec![0u8; 28 * 28];
//! let p = model.probabilities(Images::U8(&image), KernelChoice::Fast)?;
//! assert_eq!(p.len(), 10);
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! # Ok::<(), mdpn::Error>(())
//! ```

pub mod adam;
pub mod any_model;
pub mod augment;
pub mod baselines;
pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod dendrite_importance;
pub mod error;
pub mod evaluation;
pub mod input;
pub mod integer;
pub mod kernels;
pub mod layers;
pub mod metrics;
pub mod micro_export;
pub mod model;
pub mod model_file;
pub mod prune;
pub mod quantize;
pub mod quantized;
pub mod quantized_file;
pub mod recipe;
pub mod splits;
pub mod state_dict;
pub mod synapse_states;
pub mod trainable;
pub mod training;

mod matmul;
mod matmul_i8;
pub mod parallel;
mod tensor_file;

pub use config::{Config, Task};
pub use dataset::{Dataset, Parts};
pub use error::{Error, Result};
pub use model::{Images, KernelChoice, Mdpn, Params};
pub use trainable::Network;
