//! `mdpn train`: train a model, evaluate it after every epoch, and write the run folder.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mdpn::data::{Dataset, Protocol, Source, Subset};
use mdpn::modelfile::ModelFile;
use mdpn::train::{evaluate, Trainer};
use mdpn::{Config, KernelChoice, Mdpn};
use serde::Serialize;

use crate::datasets::{self, DataArgs};
use crate::files::{program, write_atomic, write_model};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Passes over the training set.
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Number of dendrites M.
    #[arg(long, default_value_t = 50)]
    pub dendrites: usize,
    /// Width of the soma layer.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Side of each dendrite's window of synapses.
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Side and stride of the membrane max pool.
    #[arg(long, default_value_t = 4)]
    pub pool: usize,
    /// Steepness of the synapse's arctangent.
    #[arg(long, default_value_t = 10.0)]
    pub k: f32,
    /// Offset added to each synapse output.
    #[arg(long, default_value_t = 0.6)]
    pub c: f32,
    /// Input normalisation mean (default: the authors' value for the data set).
    #[arg(long)]
    pub mean: Option<f32>,
    /// Input normalisation standard deviation (default: the authors' value for the data set).
    #[arg(long)]
    pub std: Option<f32>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// holdout: a fraction of the training set validates (sets with an official validation
    /// split, such as MedMNIST, use it instead); paper: the authors' split, 3,000 random test
    /// images validate and the other 7,000 test.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Holdout)]
    pub protocol: ProtocolArg,
    /// Fraction of the training set held out for validation (holdout protocol).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Train on the first N training images only (for quick trials).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Dendrite kernel: fast (8-bit tables) or plain (reference).
    #[arg(long, value_enum, default_value_t = KernelArg::Fast)]
    pub kernel: KernelArg,
    /// Run folder (default: runs/<dataset>-seed<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace a run already in the output folder.
    #[arg(long)]
    pub overwrite: bool,
    /// Image folders: resize every image to N x N.
    #[arg(long)]
    pub image_size: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolArg {
    Holdout,
    Paper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelArg {
    Fast,
    Plain,
}

impl From<KernelArg> for KernelChoice {
    fn from(k: KernelArg) -> Self {
        match k {
            KernelArg::Fast => KernelChoice::Fast,
            KernelArg::Plain => KernelChoice::Plain,
        }
    }
}

/// Everything that determines a run, written to `config.json`.
#[derive(Serialize)]
struct RunConfig<'a> {
    program: String,
    dataset: &'a str,
    data_folder: String,
    model: &'a Config,
    epochs: usize,
    batch_size: usize,
    lr: f32,
    seed: u64,
    protocol: ProtocolArg,
    val_fraction: Option<f64>,
    limit: Option<usize>,
    kernel: KernelArg,
    threads: usize,
    train_images: usize,
    validation_images: usize,
    test_images: usize,
}

pub const METRICS_HEADER: &str =
    "epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds,images_per_s";

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = datasets::load(
        &DataArgs {
            image_size: args.image_size,
            ..args.data.clone()
        },
        true,
    )?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-seed{}", data.name, args.seed)));
    if out.join("metrics.csv").exists() && !args.overwrite {
        bail!(
            "{} already holds a run (metrics.csv); choose another --out or pass --overwrite",
            out.display()
        );
    }
    fs::create_dir_all(&out)
        .with_context(|| format!("cannot create run folder {}", out.display()))?;

    let (mean, std) = data.normalisation;
    let config = Config {
        channels: data.train.channels,
        image_size: data.train.size,
        dendrites: args.dendrites,
        window: args.window,
        k: args.k,
        c: args.c,
        pool: args.pool,
        hidden: args.hidden,
        classes: data.train.classes(),
        mean: args.mean.unwrap_or(mean),
        std: args.std.unwrap_or(std),
        task: data.train.task,
        ..Config::default()
    };
    let protocol = match args.protocol {
        ProtocolArg::Holdout => Protocol::Holdout {
            fraction: args.val_fraction,
        },
        ProtocolArg::Paper => Protocol::Paper,
    };
    let mut splits = datasets::splits(&data, protocol, args.seed)?;
    if let Some(limit) = args.limit {
        splits.train.indices.truncate(limit);
    }
    let mut trainer = Trainer::new(
        Mdpn::new(config.clone(), args.seed)?,
        args.lr,
        args.batch_size,
        args.seed,
    )?;
    trainer.kernel = args.kernel.into();

    let run_config = RunConfig {
        program: program(),
        dataset: &data.name,
        data_folder: data.folder.display().to_string(),
        model: &config,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        protocol: args.protocol,
        val_fraction: (args.protocol == ProtocolArg::Holdout && data.official_validation == 0)
            .then_some(args.val_fraction),
        limit: args.limit,
        kernel: args.kernel,
        threads: crate::threads(),
        train_images: splits.train.indices.len(),
        validation_images: splits.validation.indices.len(),
        test_images: splits.test.indices.len(),
    };
    write_atomic(
        &out.join("config.json"),
        serde_json::to_string_pretty(&run_config)?.as_bytes(),
    )?;
    println!(
        "training MDPN ({} dendrites, {} parameters) on {}: {} train / {} validation / {} test images, {} threads -> {}",
        config.dendrites,
        config.parameter_count(),
        data.name,
        run_config.train_images,
        run_config.validation_images,
        run_config.test_images,
        run_config.threads,
        out.display()
    );

    let pick = |s: &Subset| -> &Dataset {
        match s.source {
            Source::Train => &data.train,
            Source::Test => &data.test,
        }
    };
    let model_file = |model: &Mdpn| ModelFile {
        model: model.clone(),
        class_names: data.train.class_names.clone(),
        dataset: Some(data.name.clone()),
        program: program(),
    };
    let mut metrics = format!("{METRICS_HEADER}\n");
    let mut best = f64::NEG_INFINITY;
    for epoch in 0..args.epochs {
        let bar = ProgressBar::new(splits.train.indices.len() as u64).with_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, args.epochs));
        let start = Instant::now();
        let stats =
            trainer.train_epoch(pick(&splits.train), &splits.train.indices, epoch, |r| {
                bar.inc(r.images as u64);
                let rate = bar.position() as f64 / start.elapsed().as_secs_f64();
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    r.loss,
                    100.0 * r.accuracy,
                    rate
                ));
            })?;
        let train_seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let kernel = trainer.kernel;
        let val = evaluate(
            &trainer.model,
            pick(&splits.validation),
            &splits.validation.indices,
            kernel,
        )?;
        let test = evaluate(
            &trainer.model,
            pick(&splits.test),
            &splits.test.indices,
            kernel,
        )?;
        let seconds = start.elapsed().as_secs_f64();
        let rate = splits.train.indices.len() as f64 / train_seconds;
        println!(
            "epoch {:>3}/{}  train loss {:.4} acc {:.2}%  val loss {:.4} acc {:.2}%  test acc {:.2}%  {:.1}s ({:.0} img/s)",
            epoch + 1,
            args.epochs,
            stats.loss,
            100.0 * stats.accuracy,
            val.loss,
            100.0 * val.accuracy,
            100.0 * test.accuracy,
            seconds,
            rate
        );
        metrics += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}\n",
            epoch + 1,
            stats.loss,
            stats.accuracy,
            val.loss,
            val.accuracy,
            test.loss,
            test.accuracy,
            seconds,
            rate
        );
        write_atomic(&out.join("metrics.csv"), metrics.as_bytes())?;
        let file = model_file(&trainer.model);
        write_model(&out.join("last.safetensors"), &file)?;
        if val.accuracy > best {
            best = val.accuracy;
            write_model(&out.join("model.safetensors"), &file)?;
        }
        if let (Some(v), Some(t)) = (val.auc, test.auc) {
            println!("          val AUC {v:.4}  test AUC {t:.4}");
        }
        std::io::stdout().flush().ok();
    }
    println!(
        "best validation accuracy {:.2}%; model in {}",
        100.0 * best,
        out.join("model.safetensors").display()
    );
    Ok(())
}
