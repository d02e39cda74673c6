//! Ctrl-C during training: the first press asks the run to stop once the current epoch and its
//! checkpoint are saved; a second press exits at once (every file is written atomically, so the
//! run folder still holds the previous checkpoint in full).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

static PRESSES: AtomicUsize = AtomicUsize::new(0);

/// Installs the Ctrl-C handler; `first` is printed on the first press.
pub fn install(first: &'static str) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\n{first}");
        } else {
            eprintln!("\nsecond Ctrl-C: quitting now; the last checkpoint is kept");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
    })?;
    Ok(())
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    presses() > 0
}

/// How many times Ctrl-C was pressed.
pub fn presses() -> usize {
    PRESSES.load(Ordering::SeqCst)
}

/// The error a command returns when it stopped on Ctrl-C; `main` exits with
/// [`EXIT_INTERRUPTED`] for it.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}
