//! `mdpn train`: train a model, evaluate it after every epoch, and write the run folder.
//!
//! The epochs run in [`fit`]; this command loads the data and, from fit's hooks, shows the
//! progress and writes the run folder. After every epoch the run folder gets a checkpoint
//! (`checkpoint.safetensors`), written last and atomically, from which `--resume` continues the
//! run with its own settings, bitwise as if it had never stopped.

use std::fs;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mdpn::checkpoint::{self, Checkpoint};
use mdpn::model_file::{self, ModelFile};
use mdpn::recipe::Recipe;
use mdpn::splits::ProtocolName;
use mdpn::training::{fit, BatchReport, EpochEnd, Fitted, Trainer};
use mdpn::{Config, KernelChoice, Mdpn};
use mdpn_data::datasets::{self, Color, DataArgs};
use serde::{Deserialize, Serialize};

use mdpn_data::for_model::{load_data_to_train, run_splits};
use mdpn_runs::checkpoints::{check_settings, fresh, resume, write_checkpoint, CHECKPOINT};
use mdpn_runs::files::program;
use mdpn_runs::recipe_options::RecipeOptions;
use mdpn_runs::run_writer::{held_run, RunConfig, RunWriter, BEST_MODEL, CONFIG, LAST_MODEL};
use mdpn_runs::stop::{self, Interrupted};

use crate::interrupt;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub recipe: RecipeOptions,
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
    #[arg(long, value_enum, default_value_t = ProtocolName::Holdout)]
    pub protocol: ProtocolName,
    /// Fraction of the training set held out for validation (holdout protocol).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Train on the first N training images only (for quick trials).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Dendrite kernel: fast (8-bit tables) or plain (reference).
    #[arg(long, value_enum, default_value_t = KernelChoice::Fast)]
    pub kernel: KernelChoice,
    /// Run folder (default: runs/<dataset>-seed<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace a run already in the output folder.
    #[arg(long)]
    pub overwrite: bool,
    /// Image folders: resize every image to N x N.
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Start from this model file's parameters instead of a fresh draw, with its architecture
    /// (dendrites, hidden, window, pool, k, c, mean, std, channels, image size). Its fixed
    /// synapses (weight exactly 0, as `mdpn prune` leaves them) stay fixed.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["dendrites", "hidden", "window", "pool", "k", "c", "mean", "std", "image_size"])]
    pub init: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint, with the run's own settings.
    /// Options given with it must match the run's, except `--epochs`, which may be raised.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "overwrite")]
    pub resume: Option<PathBuf>,
    /// Ids of the options typed on the command line ([`crate::Cli::from_command_line`]), which
    /// `--resume` checks against the run's; `None` counts every option as typed.
    #[arg(skip)]
    pub typed: Option<Vec<String>>,
    /// The recipe of the run `--resume` continues, when no recipe option was typed.
    #[arg(skip)]
    pub run_recipe: Option<Recipe>,
}

/// Every setting that changes a run's results: `--resume` refuses a command that differs.
#[derive(Serialize, Deserialize)]
struct Settings {
    dataset: String,
    model: Config,
    batch_size: usize,
    lr: f32,
    seed: u64,
    protocol: ProtocolName,
    val_fraction: Option<f64>,
    limit: Option<usize>,
    kernel: KernelChoice,
    /// The model file the run started from (`--init`); none for a fresh draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    init: Option<Init>,
    /// How the run trains; runs from before recipes existed used the paper's.
    #[serde(default)]
    recipe: Recipe,
    train_images: usize,
    validation_images: usize,
    test_images: usize,
}

/// The model file a run starts from: its path and its tensors' CRC-32, so that `--resume`
/// refuses a file that changed since.
#[derive(Clone, Serialize, Deserialize)]
struct Init {
    path: String,
    tensors_crc32: String,
}

/// Reads the model file of `--init` and what the run records of it.
fn read_init(path: &Path) -> anyhow::Result<(ModelFile, Init)> {
    let file = super::ModelArgs::path(path).load()?;
    let bytes =
        fs::read(path).with_context(|| format!("cannot read model file {}", path.display()))?;
    let init = Init {
        path: std::path::absolute(path)?.display().to_string(),
        tensors_crc32: model_file::tensors_crc32(&bytes)?,
    };
    Ok((file, init))
}

/// What `mdpn train` records of a run in its `config.json` ([`RunConfig`]): the checkpoint's
/// settings, the data folder and the epochs.
#[derive(Serialize, Deserialize)]
struct TrainRun {
    data_folder: String,
    #[serde(flatten)]
    settings: Settings,
    epochs: usize,
}

/// `--resume`: the settings not typed on the command line are the run's own, from its
/// `config.json` (which holds the checkpoint's settings, the data folder and the epochs), so
/// that `mdpn train --resume RUN_DIR` alone continues the run. Those typed are checked against
/// the run's later.
fn adopt_run_settings(args: &mut Args, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(CONFIG);
    if !path.exists() {
        // Nothing recorded: resuming fails for want of a checkpoint, or compares what was typed.
        return Ok(());
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let run: RunConfig<TrainRun> = serde_json::from_str(&text)
        .with_context(|| format!("cannot resume: {} is not a run's settings", path.display()))?;
    let run = run.run;
    let typed = args.typed.clone();
    let given = |id: &str| typed.as_ref().is_none_or(|t| t.iter().any(|x| x == id));
    /// Sets an option to the run's value unless it was typed.
    fn adopt<T>(typed: bool, option: &mut T, run: T) {
        if !typed {
            *option = run;
        }
    }
    let m = run.settings.model.clone();
    let s = run.settings;
    adopt(given("dataset"), &mut args.data.dataset, s.dataset);
    adopt(
        given("data_dir"),
        &mut args.data.data_dir,
        Some(run.data_folder.into()),
    );
    adopt(
        given("color"),
        &mut args.data.color,
        Some(if m.channels == 3 {
            Color::Rgb
        } else {
            Color::Gray
        }),
    );
    adopt(
        given("image_size"),
        &mut args.image_size,
        Some(m.image_size),
    );
    adopt(given("epochs"), &mut args.epochs, run.epochs);
    adopt(given("batch_size"), &mut args.batch_size, s.batch_size);
    adopt(given("lr"), &mut args.lr, s.lr);
    adopt(given("seed"), &mut args.seed, s.seed);
    adopt(given("protocol"), &mut args.protocol, s.protocol);
    adopt(given("limit"), &mut args.limit, s.limit);
    adopt(given("kernel"), &mut args.kernel, s.kernel);
    adopt(given("init"), &mut args.init, s.init.map(|i| i.path.into()));
    adopt(given("dendrites"), &mut args.dendrites, m.dendrites);
    adopt(given("hidden"), &mut args.hidden, m.hidden);
    adopt(given("window"), &mut args.window, m.window);
    adopt(given("pool"), &mut args.pool, m.pool);
    adopt(given("k"), &mut args.k, m.k);
    adopt(given("c"), &mut args.c, m.c);
    adopt(given("mean"), &mut args.mean, Some(m.mean));
    adopt(given("std"), &mut args.std, Some(m.std));
    if let Some(fraction) = s.val_fraction {
        adopt(given("val_fraction"), &mut args.val_fraction, fraction);
    }
    if !typed.as_ref().is_none_or(|t| RecipeOptions::any_typed(t)) {
        args.run_recipe = Some(s.recipe);
    }
    Ok(())
}

/// The progress bar of one epoch's training images.
fn epoch_bar(images: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(images as u64).with_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if let Some(dir) = args.resume.clone() {
        adopt_run_settings(&mut args, &dir)?;
    }
    let init = args.init.as_deref().map(read_init).transpose()?;
    let data = match &init {
        Some((file, i)) => load_data_to_train(&file.model.config, &args.data, i.path.as_ref())?,
        None => datasets::load(
            &DataArgs {
                image_size: args.image_size,
                ..args.data.clone()
            },
            true,
        )?,
    };
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
        if let Some(f) = held_run(&out) {
            bail!(
                "{} already holds a run ({f}); continue it with --resume {0}, choose another --out, or pass --overwrite",
                out.display()
            );
        }
    }

    let (mean, std) = data.normalisation;
    let drawn = || Config {
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
    let config = match &init {
        Some((file, _)) => file.model.config.clone(),
        None => drawn(),
    };
    let (splits, val_fraction) = run_splits(
        &data,
        args.protocol,
        args.val_fraction,
        args.limit,
        args.seed,
    )?;
    let recipe = match args.run_recipe.clone() {
        Some(r) => r,
        None => args.recipe.recipe(data.mirror_symmetric, &data.name)?,
    };
    let settings = Settings {
        dataset: data.name.clone(),
        model: config.clone(),
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        protocol: args.protocol,
        val_fraction,
        limit: args.limit,
        kernel: args.kernel,
        init: init.as_ref().map(|(_, i)| i.clone()),
        recipe: recipe.clone(),
        train_images: splits.train.indices.len(),
        validation_images: splits.validation.indices.len(),
        test_images: splits.test.indices.len(),
    };
    let settings_json = serde_json::to_string(&settings)?;
    let model = match init {
        Some((file, _)) => file.model,
        None => Mdpn::with_init(config.clone(), args.seed, recipe.init)?,
    };
    let mut trainer = Trainer::new(model, args.lr, args.batch_size, args.seed)?
        .with_recipe(recipe, args.epochs)?;
    if args.init.is_some() {
        trainer = trainer.keeping_fixed_synapses()?;
    }
    trainer.kernel = args.kernel;
    let run_config = RunConfig::new(TrainRun {
        data_folder: data.folder.display().to_string(),
        settings,
        epochs: args.epochs,
    });
    let settings = &run_config.run.settings;
    let resumed = match &args.resume {
        Some(_) if checkpoint_path.exists() => {
            Some(resume(&out, checkpoint::load, &settings_json)?)
        }
        // Killed before its first checkpoint: the run starts again, if it is the same run.
        Some(_) if out.join(CONFIG).exists() && !out.join("metrics.csv").exists() => {
            let config_json = fs::read_to_string(out.join(CONFIG))
                .with_context(|| format!("cannot read {}", out.join(CONFIG).display()))?;
            check_settings(&config_json, &settings_json, &out)?;
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
    run_config.write(&out)?;
    let writer = RunWriter::new(Some(&out), settings.train_images);
    let mut state = match resumed {
        Some(state) => state,
        None => {
            let state = fresh(&trainer, settings_json);
            write_checkpoint(&checkpoint_path, &state, writer.pause())?;
            state
        }
    };
    writer.start(&state)?;
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

    let model_file = |model: &Mdpn| ModelFile {
        model: model.clone(),
        class_names: data.train.class_names.clone(),
        dataset: Some(data.name.clone()),
        program: program(),
    };
    interrupt::install(
        "Ctrl-C: stopping after this epoch, once its checkpoint is saved (Ctrl-C again quits now)",
    )?;
    let mut bar = ProgressBar::hidden();
    let on_batch = |r: &BatchReport| {
        writer.batch(r);
        if r.batch == 1 {
            bar = epoch_bar(settings.train_images, r.epoch, args.epochs);
        }
        bar.inc(r.images as u64);
        let rate = bar.position() as f64 / writer.elapsed().as_secs_f64();
        bar.set_message(format!(
            "loss {:.4} acc {:.2}% {rate:.0} img/s",
            r.loss,
            100.0 * r.accuracy,
        ));
        if r.batch == r.batches {
            bar.finish_and_clear();
        }
        // Ctrl-C waits for the epoch's end, so that its checkpoint is saved.
        ControlFlow::Continue(())
    };
    let on_epoch = |end: &EpochEnd, run: &mut Checkpoint<Mdpn>| -> anyhow::Result<()> {
        writer.epoch(end, run, |row, _, run| {
            let (val, test) = (&end.validation, &end.test);
            let validated = match settings.validation_images {
                0 => "no validation".to_string(),
                _ => format!("val loss {:.4} acc {:.2}%", val.loss, 100.0 * val.accuracy),
            };
            println!(
                "epoch {:>3}/{}  train loss {:.4} acc {:.2}%  {validated}  test acc {:.2}%  {:.1}s ({:.0} img/s)",
                end.epoch,
                end.epochs,
                end.train.loss,
                100.0 * end.train.accuracy,
                100.0 * test.accuracy,
                row.seconds,
                row.images_per_s
            );
            if let (Some(v), Some(t)) = (val.auc, test.auc) {
                println!("          val AUC {v:.4}  test AUC {t:.4}");
            }
            let file = model_file(&run.model);
            writer.write_model(LAST_MODEL, &file)?;
            if end.best {
                writer.write_model(BEST_MODEL, &file)?;
            }
            Ok(())
        })?;
        std::io::stdout().flush().ok();
        Ok(())
    };
    let fitted = fit(
        &mut trainer,
        &mut state,
        data.fit_data(&splits),
        args.epochs,
        on_batch,
        on_epoch,
        stop::requested,
    );
    let kept = match state.epochs_done {
        0 => "the initial checkpoint".to_string(),
        n => format!("the checkpoint and model files of epoch {n}, the last good one"),
    };
    match fitted {
        Err(e) if matches!(e.downcast_ref(), Some(mdpn::Error::Diverged(_))) => {
            return Err(anyhow!("{e}; {} keeps {kept}", out.display()))
        }
        Err(e) => return Err(e),
        Ok(Fitted::Stopped) => {
            return Err(Interrupted(format!(
                "stopped after epoch {} of {}; the checkpoint is saved. Continue with --resume {}",
                state.epochs_done,
                args.epochs,
                out.display()
            ))
            .into())
        }
        Ok(Fitted::Finished) => {}
    }
    let model = out.join(BEST_MODEL);
    match state.best {
        Some(_) if settings.validation_images == 0 => println!(
            "no validation set: {} is the last epoch's model",
            model.display()
        ),
        Some(best) => println!(
            "best validation accuracy {:.2}% (epoch {}); model in {}",
            100.0 * best.val_accuracy,
            best.epoch,
            model.display()
        ),
        None => println!("no epoch trained"),
    }
    Ok(())
}
