//! `mdpn train`: train a model, evaluate it after every epoch, and write the run folder.
//!
//! After every epoch the run folder gets a checkpoint (`checkpoint.safetensors`), written last
//! and atomically, from which `--resume` continues the run bitwise as if it had never stopped.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mdpn::checkpoint::{self, Best, Checkpoint};
use mdpn::evaluation::evaluate;
use mdpn::model_file::ModelFile;
use mdpn::splits::{Protocol, Source, Subset};
use mdpn::training::Trainer;
use mdpn::Dataset;
use mdpn::{Config, KernelChoice, Mdpn};
use serde::Serialize;

use crate::checkpoints::{
    check_settings, metrics_row, read_checkpoint, write_checkpoint, TestPause, CHECKPOINT,
    METRICS_HEADER,
};
use crate::datasets::{self, DataArgs};
use crate::files::{program, write_atomic, write_model};
use crate::interrupt::{self, Interrupted};

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
    /// Continue the run in this folder from its last checkpoint. Give the run's settings again
    /// (any that differ are refused); `--epochs` may be raised.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "overwrite")]
    pub resume: Option<PathBuf>,
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

/// Every setting that changes a run's results: `--resume` refuses a command that differs.
#[derive(Serialize)]
struct Settings<'a> {
    dataset: &'a str,
    model: &'a Config,
    batch_size: usize,
    lr: f32,
    seed: u64,
    protocol: ProtocolArg,
    val_fraction: Option<f64>,
    limit: Option<usize>,
    kernel: KernelArg,
    train_images: usize,
    validation_images: usize,
    test_images: usize,
}

/// Everything about a run, written to `config.json`.
#[derive(Serialize)]
struct RunConfig<'a> {
    program: String,
    data_folder: String,
    #[serde(flatten)]
    settings: &'a Settings<'a>,
    epochs: usize,
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = datasets::load(
        &DataArgs {
            image_size: args.image_size,
            ..args.data.clone()
        },
        true,
    )?;
    let out = match (&args.resume, &args.out) {
        (Some(resume), Some(out)) if resume != out => bail!(
            "--resume {} and --out {} name different run folders",
            resume.display(),
            out.display()
        ),
        (Some(dir), _) | (None, Some(dir)) => dir.clone(),
        (None, None) => PathBuf::from(format!("runs/{}-seed{}", data.name, args.seed)),
    };
    let checkpoint_path = out.join(CHECKPOINT);
    if args.resume.is_none() && !args.overwrite {
        if let Some(f) = ["metrics.csv", CHECKPOINT]
            .into_iter()
            .find(|f| out.join(f).exists())
        {
            bail!(
                "{} already holds a run ({f}); continue it with --resume {0}, choose another --out, or pass --overwrite",
                out.display()
            );
        }
    }

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
    let settings = Settings {
        dataset: &data.name,
        model: &config,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        protocol: args.protocol,
        val_fraction: (args.protocol == ProtocolArg::Holdout && data.official_validation == 0)
            .then_some(args.val_fraction),
        limit: args.limit,
        kernel: args.kernel,
        train_images: splits.train.indices.len(),
        validation_images: splits.validation.indices.len(),
        test_images: splits.test.indices.len(),
    };
    let settings_json = serde_json::to_string(&settings)?;
    let mut trainer = Trainer::new(
        Mdpn::new(config.clone(), args.seed)?,
        args.lr,
        args.batch_size,
        args.seed,
    )?;
    trainer.kernel = args.kernel.into();
    let pause = TestPause::from_env();
    let run_config = RunConfig {
        program: program(),
        data_folder: data.folder.display().to_string(),
        settings: &settings,
        epochs: args.epochs,
        threads: crate::threads(),
    };
    let run_config_json = serde_json::to_string_pretty(&run_config)?;
    let resumed = match &args.resume {
        Some(_) if checkpoint_path.exists() => {
            let state = read_checkpoint(&checkpoint_path, checkpoint::load)?;
            check_settings(&state.settings, &settings_json, &out)?;
            trainer.model = state.model.clone();
            trainer.adam = state.adam.clone();
            Some(state)
        }
        // Killed before its first checkpoint: the run starts again, if it is the same run.
        Some(_) if out.join("config.json").exists() && !out.join("metrics.csv").exists() => {
            let config_json = fs::read_to_string(out.join("config.json"))
                .with_context(|| format!("cannot read {}", out.join("config.json").display()))?;
            check_settings(&config_json, &run_config_json, &out)?;
            None
        }
        Some(_) => bail!(
            "cannot resume: cannot read checkpoint {}: it does not exist",
            checkpoint_path.display()
        ),
        None => None,
    };
    fs::create_dir_all(&out)
        .with_context(|| format!("cannot create run folder {}", out.display()))?;
    write_atomic(&out.join("config.json"), run_config_json.as_bytes())?;
    let mut state = match resumed {
        Some(state) => state,
        None => {
            let state = Checkpoint {
                model: trainer.model.clone(),
                adam: trainer.adam.clone(),
                epochs_done: 0,
                best: None,
                settings: settings_json,
                metrics: format!("{METRICS_HEADER}\n"),
                extra: String::new(),
            };
            write_checkpoint(&checkpoint_path, &state, &pause)?;
            state
        }
    };
    // The run folder shows the checkpoint's epochs: rows of an epoch that was cut short go.
    write_atomic(&out.join("metrics.csv"), state.metrics.as_bytes())?;
    println!(
        "{} MDPN ({} dendrites, {} parameters) on {}: {} train / {} validation / {} test images, {} threads -> {}",
        if state.epochs_done > 0 {
            format!("resuming after epoch {}:", state.epochs_done)
        } else {
            "training".to_string()
        },
        config.dendrites,
        config.parameter_count(),
        data.name,
        settings.train_images,
        settings.validation_images,
        settings.test_images,
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
    interrupt::install(
        "Ctrl-C: stopping after this epoch, once its checkpoint is saved (Ctrl-C again quits now)",
    )?;
    for epoch in state.epochs_done..args.epochs {
        let bar = ProgressBar::new(splits.train.indices.len() as u64).with_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, args.epochs));
        let start = Instant::now();
        let stats = trainer
            .train_epoch(pick(&splits.train), &splits.train.indices, epoch, |r| {
                bar.inc(r.images as u64);
                let rate = bar.position() as f64 / start.elapsed().as_secs_f64();
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    r.loss,
                    100.0 * r.accuracy,
                    rate
                ));
                if r.batch == r.batches.div_ceil(2) {
                    pause.at("mid-epoch", epoch + 1);
                }
            })
            .map_err(|e| {
                let kept = match epoch {
                    0 => "the initial checkpoint".to_string(),
                    n => format!("the checkpoint and model files of epoch {n}, the last good one"),
                };
                anyhow!("{e}; {} keeps {kept}", out.display())
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
        if let (Some(v), Some(t)) = (val.auc, test.auc) {
            println!("          val AUC {v:.4}  test AUC {t:.4}");
        }
        state.metrics += &metrics_row(epoch + 1, &stats, &val, &test, seconds, rate);
        // The checkpoint comes last: if the program dies before it, the resumed run redoes this
        // epoch and rewrites these files with the same bytes.
        write_atomic(&out.join("metrics.csv"), state.metrics.as_bytes())?;
        let file = model_file(&trainer.model);
        write_model(&out.join("last.safetensors"), &file)?;
        if state.best.is_none_or(|b| val.accuracy > b.val_accuracy) {
            state.best = Some(Best {
                epoch: epoch + 1,
                val_accuracy: val.accuracy,
            });
            write_model(&out.join("model.safetensors"), &file)?;
        }
        state.epochs_done = epoch + 1;
        state.model = trainer.model.clone();
        state.adam = trainer.adam.clone();
        write_checkpoint(&checkpoint_path, &state, &pause)?;
        std::io::stdout().flush().ok();
        if interrupt::requested() && epoch + 1 < args.epochs {
            return Err(Interrupted(format!(
                "stopped after epoch {} of {}; the checkpoint is saved. Continue with the same command and --resume {}",
                epoch + 1,
                args.epochs,
                out.display()
            ))
            .into());
        }
    }
    match state.best {
        Some(best) => println!(
            "best validation accuracy {:.2}% (epoch {}); model in {}",
            100.0 * best.val_accuracy,
            best.epoch,
            out.join("model.safetensors").display()
        ),
        None => println!("no epoch trained"),
    }
    Ok(())
}
