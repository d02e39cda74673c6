//! `mdpn study`: train every (data set, model, seed) of a study as a run folder
//! ([`mdpn_runs::study`]), skip the runs already finished, then write the summary tables, the
//! pictures and the report ([`mdpn_report::reports::write_study`]).

use mdpn_runs::study::{study, StudyArgs, StudyEnd};

use crate::interrupt;

pub fn run(args: StudyArgs) -> anyhow::Result<()> {
    interrupt::install(
        "Ctrl-C: stopping after this epoch, once its checkpoint is saved (Ctrl-C again quits now)",
    )?;
    match study(&args, &mdpn_runs::stop::requested)? {
        StudyEnd::Finished => {
            let report = mdpn_report::reports::write_study(&args.out)?;
            println!("study finished; report in {}", report.display());
        }
        StudyEnd::OthersRunning { unfinished, total } => println!(
            "this worker is done; {unfinished} of {total} runs are still with other workers, and the last worker to finish writes the summary"
        ),
    }
    Ok(())
}
