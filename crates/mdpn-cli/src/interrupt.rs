//! Ctrl-C during training: the first press asks the run to stop once the current epoch and its
//! checkpoint are saved ([`mdpn_runs::stop`]); a second press exits at once (every file is
//! written atomically, so the run folder still holds the previous checkpoint in full).

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the Ctrl-C handler; `first` is printed on the first press.
pub fn install(first: &'static str) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if mdpn_runs::stop::press() == 0 {
            eprintln!("\n{first}");
        } else {
            eprintln!("\nsecond Ctrl-C: quitting now; the last checkpoint is kept");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
    })?;
    Ok(())
}
