//! Helpers shared by the integration tests of the `mdpn` program, each written once: running
//! the program ([`program`]), writing the data files it reads ([`data_files`]) and the tests'
//! Python ([`python`]), and a real browser ([`browser`]).

mod browser;
mod data_files;
mod program;
mod python;

pub use browser::*;
pub use data_files::*;
pub use program::*;
pub use python::*;
