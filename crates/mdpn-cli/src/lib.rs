//! The `mdpn` program: a thin command line over the libraries that Python's package shares:
//! `mdpn` (the model), `mdpn-data` (data sets), `mdpn-runs` (run folders and studies),
//! `mdpn-report` (pictures and reports) and `mdpn-onnx`. It parses the options, shows the
//! progress and handles Ctrl-C.

pub mod commands;
pub mod interrupt;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Train, evaluate and run MDPN (multi-dendritic pyramidal neuron) image classifiers.
#[derive(Debug, Parser)]
#[command(name = "mdpn", version, about)]
pub struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the program's arguments, noting which of `train`'s options were typed (as opposed
    /// to defaults): `train --resume` takes the others from the run.
    pub fn from_command_line() -> Cli {
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches)
            .unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
        if let (Command::Train(args), Some(("train", train))) =
            (&mut cli.command, matches.subcommand())
        {
            let typed = train
                .ids()
                .filter(|id| train.value_source(id.as_str()) == Some(ValueSource::CommandLine));
            args.typed = Some(typed.map(|id| id.to_string()).collect());
        }
        cli
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model and write its run folder.
    Train(commands::train::Args),
    /// Accuracy, per-class accuracy and confusion matrix of a model on a test set.
    Eval(commands::eval::Args),
    /// Classify PNG or JPEG images.
    Predict(commands::predict::Args),
    /// Turn a PyTorch state dict (safetensors) of the authors' model into an mdpn model file.
    Import(commands::import::Args),
    /// Write an int8 model file: int8 soma and axon weights, activations calibrated on training images.
    Quantize(commands::quantize::Args),
    /// Export a model as a standard ONNX graph.
    Export(commands::export::Args),
    /// Measure training and inference speed and peak memory.
    Bench(commands::bench::Args),
    /// List the known data sets: present or not, where, and whether their checksums match.
    #[cfg(feature = "network")]
    Datasets(commands::datasets::Args),
    /// Download a known data set's official files (resumable, checked by md5).
    #[cfg(feature = "network")]
    Download(commands::download::Args),
    /// Train every (data set, model, seed) of a study, then write its tables, pictures and report.
    Study(mdpn_runs::study::StudyArgs),
    /// Write the HTML report (tables and pictures) of a run or study folder.
    Report(commands::report::Args),
    /// Inside a trained neuron: synapse states, images through the layers, dendrite importance.
    Inspect(mdpn_report::inspect::InspectArgs),
    /// Remove what a trained neuron does not use: constant synapses and unimportant dendrites.
    Prune(commands::prune::Args),
}

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cli.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        pool = pool.num_threads(n);
    }
    // The command runs on one of the pool's threads, so that every parallel step of training
    // starts there and the other threads join in. Started from outside the pool, each step
    // (the tables, the dendrites, each matrix product, Adam) handed its work to a sleeping
    // worker and slept until it was done: two thread switches per step.
    pool.build()?.install(|| match cli.command {
        Command::Train(a) => commands::train::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Import(a) => commands::import::run(a),
        Command::Quantize(a) => commands::quantize::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Bench(a) => commands::bench::run(a),
        #[cfg(feature = "network")]
        Command::Datasets(a) => commands::datasets::run(a),
        #[cfg(feature = "network")]
        Command::Download(a) => commands::download::run(a),
        Command::Study(a) => commands::study::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Prune(a) => commands::prune::run(a),
    })
}

/// Threads the commands run on.
pub fn threads() -> usize {
    rayon::current_num_threads()
}
