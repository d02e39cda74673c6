//! The neuron's layers, in the order an image flows through them. Shapes, for a batch of B
//! images of C channels, H × H pixels, M dendrites with W × W windows, pool P:
//!
//! | layer | forward | output |
//! |---|---|---|
//! | [`synapse`] (presynaptic) | `Y = 1/2 + atan(k·(x·w − q))/π` per synapse | (B, C, S, S, M, W, W), S = H − W + 1, never stored |
//! | [`dendrites`] | `D = Σ_rows ln(Π_cols (Y + c))` | (B, C, S, S, M), never stored |
//! | [`membrane`] | max pool P × P, stride P | (B, C·(S/P)²·M) = (B, features) |
//! | [`soma`] | `Linear(features → hidden)`, ReLU | (B, hidden) |
//! | [`axon`] | `Linear(hidden → classes)`, softmax | (B, classes) |
//! | [`loss`] | cross-entropy (or BCE per label) | scalar |
//!
//! The first three run fused in one kernel ([`crate::kernels`]), so only the pooled membrane
//! values and their winning windows are ever stored. Every layer has its `forward` and
//! `backward`; [`crate::model`] calls them in that order and back again.

pub mod axon;
pub mod dendrites;
pub mod linear;
pub mod loss;
pub mod membrane;
pub mod soma;
pub mod synapse;
