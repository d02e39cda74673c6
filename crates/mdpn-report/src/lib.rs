//! MDPN's pictures and reports, the library behind `mdpn report`, `mdpn inspect`, the end of
//! `mdpn study` and Python's `study` and `inspect`: the chart kit ([`charts`]), the figures of
//! runs and studies ([`figures`]), the HTML page kit ([`html`]), the reports of run and study
//! folders ([`reports`]) and the inside of a trained neuron ([`inspect`]).

pub mod charts;
pub mod figures;
pub mod html;
pub mod inspect;
pub mod reports;
