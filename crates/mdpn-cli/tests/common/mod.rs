//! Helpers shared by the integration tests of the `mdpn` program, each written once: running
//! the program ([`program`]), writing the data files it reads ([`data_files`]) and the tests'
//! Python ([`python`]).

mod data_files;
mod program;
mod python;

pub use data_files::*;
pub use program::*;
pub use python::*;
