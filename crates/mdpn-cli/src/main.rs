use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mdpn_cli::Cli::parse();
    match mdpn_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<mdpn_cli::interrupt::Interrupted>() {
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
