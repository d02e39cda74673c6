//! One module per subcommand.

pub mod bench;
#[cfg(feature = "network")]
pub mod datasets;
#[cfg(feature = "network")]
pub mod download;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod predict;
pub mod prune;
pub mod quantize;
pub mod report;
pub mod study;
pub mod train;

pub use mdpn::any_model::AnyModel;
pub use mdpn_runs::model_args::ModelArgs;
