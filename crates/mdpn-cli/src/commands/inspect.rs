//! `mdpn inspect`: inside a trained neuron, as `report.html`, pictures and CSV files
//! ([`mdpn_report::inspect`]).

use mdpn_report::inspect::{inspect, InspectArgs};

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let out = inspect(&args)?;
    println!("report in {}", out.join("report.html").display());
    Ok(())
}
