//! Helpers shared by the integration tests of the `mdpn` program, each written once: running
//! the program ([`program`]) and writing the data files it reads ([`data_files`]).

mod data_files;
mod program;

pub use data_files::*;
pub use program::*;
