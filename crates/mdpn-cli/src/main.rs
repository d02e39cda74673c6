use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = mdpn_cli::Cli::from_command_line();
    match mdpn_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<mdpn_runs::stop::Interrupted>() {
            Some(stop) => {
                eprintln!("{stop}");
                ExitCode::from(mdpn_cli::interrupt::EXIT_INTERRUPTED)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Ends the program quietly when the reader of its output goes away (`mdpn datasets | head`), as
/// Unix tools do, where `println!` would panic. Downloads are unaffected: the standard library
/// writes to sockets with `MSG_NOSIGNAL`.
fn quiet_broken_pipe() {
    // SAFETY: restoring a signal's default action, before any other thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
