//! Asking a run to stop: the `mdpn` program counts Ctrl-C presses here (the first asks the run
//! to stop once the current epoch and its checkpoint are saved); Python passes its own signal.
//! A run that stopped that way returns [`Interrupted`].

use std::sync::atomic::{AtomicUsize, Ordering};

static PRESSES: AtomicUsize = AtomicUsize::new(0);

/// Counts one request to stop (a Ctrl-C); returns how many came before it.
pub fn press() -> usize {
    PRESSES.fetch_add(1, Ordering::SeqCst)
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    presses() > 0
}

/// How many times a stop was asked for.
pub fn presses() -> usize {
    PRESSES.load(Ordering::SeqCst)
}

/// The error of a run or study stopped on request, saying how to continue it; the program
/// exits with 130 for it, Python raises `KeyboardInterrupt`.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}
