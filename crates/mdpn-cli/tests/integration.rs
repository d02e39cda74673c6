//! The integration tests of the `mdpn` program, as one test binary (ripgrep's layout): it links
//! once, and the helpers in `common/` serve every module.

mod common;

mod cli;
mod datasets;
mod download;
mod fuzz_regressions;
mod inspect;
mod micro;
mod python;
mod resume;
mod ship;
mod study;
mod web;
