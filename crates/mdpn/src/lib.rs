//! MDPN, the multi-dendritic pyramidal neuron image classifier of Zhang, Cai, Sun, Zhang, Lei and
//! Gao, "A Lightweight Multidendritic Pyramidal Neuron Model With Neural Plasticity on Image
//! Recognition", IEEE Transactions on Artificial Intelligence 5(9), 2024.
//!
//! An image flows through five layers named after a pyramidal neuron:
//! 1. presynaptic: every synapse of a `window × window` dendrite maps its pixel `x` to
//!    `Y = 1/2 + atan(k·(x·w − q))/π` ([`kernels`]);
//! 2. dendrite: `D = Σ_rows ln(Π_cols (Y + c))`, one value per window position and dendrite;
//! 3. membrane: max pool ([`membrane`]);
//! 4. soma: `Linear` + ReLU ([`soma`]);
//! 5. axon: `Linear` + softmax ([`axon`]).
//!
//! The library takes bytes and arrays and does no file or terminal I/O; the `mdpn` program does.

pub mod axon;
pub mod baselines;
pub mod checkpoint;
pub mod cifar;
pub mod config;
pub mod data;
pub mod emnist;
pub mod error;
pub mod fer2013;
pub mod idx;
pub mod kernels;
pub mod linear;
pub mod medmnist;
pub mod membrane;
pub mod metrics;
pub mod model;
pub mod modelfile;
pub mod network;
pub mod npy;
pub mod optim;
pub mod soma;
pub mod train;

mod linalg;
mod parallel;

pub use config::{Config, Task};
pub use error::{Error, Result};
pub use model::{Images, KernelChoice, Mdpn, Params};
pub use network::Network;
