use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mdpn_cli::Cli::parse();
    match mdpn_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
