//! MDPN's runs on disk, the library behind `mdpn train`, `mdpn study` and Python's `fit` and
//! `study`: a run folder is written epoch by epoch by one [`run_writer::RunWriter`]
//! (`config.json`, model files, `metrics.csv`, then the checkpoint, all atomically) and resumed
//! from its checkpoint; a finished study run leaves `result.json`, which [`summary`] gathers;
//! [`study`] trains the runs of a study, shared between worker processes through [`claims`].
//! The model itself is `mdpn`'s, the data sets `mdpn-data`'s; pictures and reports are
//! `mdpn-report`'s, the command line `mdpn-cli`'s.

pub mod checkpoints;
pub mod claims;
pub mod files;
pub mod metrics;
pub mod model_args;
pub mod recipe_options;
pub mod run_writer;
pub mod stop;
pub mod study;
pub mod summary;
pub mod timing;
