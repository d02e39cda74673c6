//! Studies (`mdpn study`, Python's `mdpn.study`): train every (data set, model, seed) of a study
//! as a run folder, skipping the runs already finished; with `worker`, share the study folder
//! with other processes through claims. The summary tables, pictures and report of a finished
//! study are `mdpn-report`'s.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use mdpn::baselines::baseline_file::{self, AnyBaseline, BaselineFile};
use mdpn::baselines::{Baseline, Cnn, CnnConfig, Mlp, MlpConfig};
use mdpn::checkpoint::{self, Checkpoint};
use mdpn::evaluation::{evaluate, Classifier};
use mdpn::model_file::ModelFile;
use mdpn::quantize::{quantize, quantize_baseline, CALIBRATION_IMAGES};
use mdpn::quantized::WeightBits;
use mdpn::quantized_file;
use mdpn::recipe::{Recipe, SynapseInit};
use mdpn::splits::ProtocolName;
use mdpn::splits::Splits;
use mdpn::training::{fit, BatchReport, EpochEnd, Fitted, Trainer};
use mdpn::Dataset;
use mdpn::{Config, KernelChoice, Mdpn, Network, Task};
use mdpn_data::datasets::{self, DataArgs, Loaded};
use mdpn_data::for_model::run_splits;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoints::{fresh, resume, TestPause, CHECKPOINT};
use crate::claims::{self, Attempt};
use crate::files::{program, remove_temporaries, write_atomic};
use crate::model_args::ModelArgs;
use crate::recipe_options::RecipeOptions;
use crate::run_writer::{RunConfig, RunWriter, BEST_MODEL, CONFIG};
use crate::stop::Interrupted;
use crate::summary::{read_result, QuantizedResult, RunResult};

/// What a study trains: the options of `mdpn study`, and the keyword arguments of Python's
/// `mdpn.study`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StudyArgs {
    /// Data sets, comma-separated: known names (fashion-mnist) or folders of IDX files.
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ',', required = true))]
    pub datasets: Vec<String>,
    /// Folder searched first for known data sets, and where downloads go.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Models, comma-separated: mdpn, mlp (about MDPN's parameter count), cnn (LeNet-5).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "mdpn,mlp,cnn")
    )]
    pub models: Vec<ModelKind>,
    /// An MDPN setting to sweep, one value at a time from the paper's model: KEY=V1,V2,...
    /// with KEY one of synapse (atan, sigmoid), integration (log-product, sum, product),
    /// dendrites, hidden (the soma's width), window, pool, k, c. Repeatable.
    #[cfg_attr(feature = "clap", arg(long))]
    pub ablate: Vec<String>,
    /// The baselines of --models also at these parameter counts, comma-separated (the MLP's
    /// hidden layer, or all of LeNet-5's widths, scaled to match): baselines at MDPN's sizes.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', value_name = "N1,N2")
    )]
    pub baseline_params: Vec<usize>,
    /// Runs (seeds) of every model on every data set.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub runs: u64,
    /// Seed of the first run; the others follow.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub first_seed: u64,
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 50))]
    pub epochs: usize,
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 64))]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-3))]
    pub lr: f32,
    /// holdout: a fraction of the training set validates; paper: 3,000 random test images
    /// validate and the rest test.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = ProtocolName::Holdout))]
    pub protocol: ProtocolName,
    /// Fraction of the training set held out for validation (holdout protocol).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub val_fraction: f64,
    /// Train on the first N training images only (for quick trials).
    #[cfg_attr(feature = "clap", arg(long))]
    pub limit: Option<usize>,
    /// Study folder.
    #[cfg_attr(feature = "clap", arg(long, default_value = "studies/study"))]
    pub out: PathBuf,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub recipe: RecipeOptions,
    /// Share the study folder with other worker processes (a job array): each run is claimed
    /// by one worker; the last worker to finish writes the summary.
    #[cfg_attr(feature = "clap", arg(long))]
    pub worker: bool,
    /// With --worker: take over a run whose claim and checkpoint have not changed for this many
    /// seconds (its worker is taken for dead; on the same machine a dead worker is seen at once).
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 1800, value_name = "SECONDS")
    )]
    pub stale_after: u64,
}

/// A kind of model a study trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ModelKind {
    Mdpn,
    Mlp,
    Cnn,
}

impl ModelKind {
    const ALL: [ModelKind; 3] = [ModelKind::Mdpn, ModelKind::Mlp, ModelKind::Cnn];

    /// Its name in options, tables and folders.
    fn name(self) -> &'static str {
        match self {
            ModelKind::Mdpn => "mdpn",
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .with_context(|| format!("unknown model `{s}`: expected mdpn, mlp or cnn"))
    }
}

/// One model of the study: a baseline, MDPN, MDPN with one setting changed, or a baseline of a
/// given size.
#[derive(Debug, Clone, PartialEq)]
struct Variant {
    kind: ModelKind,
    setting: Option<Setting>,
}

/// What a variant changes from the plain model of its kind.
#[derive(Debug, Clone, PartialEq)]
enum Setting {
    /// An MDPN setting `(key, value)` changed from the paper's model (`--ablate`).
    Ablated(String, String),
    /// A baseline's parameter count (`--baseline-params`).
    Params(usize),
}

impl Variant {
    /// Name in tables: `mdpn`, `mlp`, `cnn`, `mdpn[synapse=sigmoid]`, `mlp[params=38682]`.
    fn name(&self) -> String {
        let base = self.kind.name();
        match &self.setting {
            Some(Setting::Ablated(k, v)) => format!("{base}[{k}={v}]"),
            Some(Setting::Params(n)) => format!("{base}[params={n}]"),
            None => base.to_string(),
        }
    }

    /// Folder name: the name with brackets and other odd characters replaced.
    fn folder(&self) -> String {
        let name = self.name().replace('[', "_").replace(']', "");
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }
}

/// Changes one MDPN setting by name (`--ablate KEY=VALUE`).
fn apply(config: &mut Config, key: &str, value: &str) -> anyhow::Result<()> {
    config
        .set(key, value)
        .with_context(|| format!("--ablate {key}={value}"))
}

/// The models of the study in order: the chosen ones, then one MDPN per ablation value, then
/// the baselines at each of `--baseline-params`.
fn variants(args: &StudyArgs) -> anyhow::Result<Vec<Variant>> {
    let mut out: Vec<Variant> = Vec::new();
    for &kind in &args.models {
        let v = Variant {
            kind,
            setting: None,
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    for spec in &args.ablate {
        let (key, values) = spec
            .split_once('=')
            .with_context(|| format!("--ablate `{spec}`: expected KEY=V1,V2,..."))?;
        for value in values.split(',').filter(|v| !v.is_empty()) {
            // Fails early on a bad key or value, before any training.
            apply(&mut Config::default(), key, value)?;
            out.push(Variant {
                kind: ModelKind::Mdpn,
                setting: Some(Setting::Ablated(key.to_string(), value.to_string())),
            });
        }
    }
    let baselines: Vec<ModelKind> = args
        .models
        .iter()
        .copied()
        .filter(|&k| k != ModelKind::Mdpn)
        .collect();
    if !args.baseline_params.is_empty() && baselines.is_empty() {
        bail!("--baseline-params sizes the baselines, but --models names none (add mlp or cnn)");
    }
    for &kind in &baselines {
        for &n in &args.baseline_params {
            anyhow::ensure!(
                n > 0,
                "--baseline-params: a model needs at least 1 parameter"
            );
            let v = Variant {
                kind,
                setting: Some(Setting::Params(n)),
            };
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "the study has no model to train");
    Ok(out)
}

/// A freshly initialised network of a variant, for one data set and seed.
enum Built {
    Mdpn(Mdpn),
    Mlp(Mlp),
    Cnn(Cnn),
}

/// The paper's MDPN for a data set.
fn paper_config(train: &Dataset, (mean, std): (f32, f32)) -> Config {
    Config {
        channels: train.channels,
        image_size: train.size,
        classes: train.classes(),
        mean,
        std,
        task: train.task,
        ..Config::default()
    }
}

fn build(
    variant: &Variant,
    data: &Loaded,
    seed: u64,
    init: SynapseInit,
) -> anyhow::Result<(Built, serde_json::Value)> {
    let train = &data.train;
    let (mean, std) = data.normalisation;
    let mdpn = paper_config(train, data.normalisation);
    // A baseline's parameter count: `--baseline-params`, or else MDPN's (the MLP) and
    // LeNet-5's own (the CNN).
    let params = match variant.setting {
        Some(Setting::Params(n)) => Some(n),
        _ => None,
    };
    Ok(match variant.kind {
        ModelKind::Mdpn => {
            let mut config = mdpn;
            if let Some(Setting::Ablated(k, v)) = &variant.setting {
                apply(&mut config, k, v)?;
            }
            let value = serde_json::to_value(&config)?;
            (Built::Mdpn(Mdpn::with_init(config, seed, init)?), value)
        }
        ModelKind::Mlp => {
            let config = MlpConfig::sized(
                train.image_len(),
                train.classes(),
                params.unwrap_or(mdpn.parameter_count()),
                mean,
                std,
            );
            let value = serde_json::to_value(&config)?;
            (Built::Mlp(Mlp::new(config, seed)?), value)
        }
        ModelKind::Cnn => {
            let (channels, size, classes) = (train.channels, train.size, train.classes());
            let config = match params {
                Some(n) => CnnConfig::sized(channels, size, classes, n, mean, std),
                None => CnnConfig::lenet(channels, size, classes, mean, std),
            };
            let value = serde_json::to_value(&config)?;
            (Built::Cnn(Cnn::new(config, seed)?), value)
        }
    })
}

/// Short name of a data set: its known name or its folder's name.
fn dataset_name(data: &Loaded) -> String {
    data.folder
        .file_name()
        .filter(|_| Path::new(&data.name).is_dir())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| data.name.clone())
}

/// How a study call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyEnd {
    /// Every run is finished: the study's summary and report can be written.
    Finished,
    /// This worker is done, but `unfinished` of the study's `total` runs are still with other
    /// workers; the last worker to finish writes the summary.
    OthersRunning { unfinished: usize, total: usize },
}

/// The study of `args`, stopping after the current epoch (its checkpoint saved) once `stop`
/// says so (Ctrl-C for the program, the caller's own signal for Python) with [`Interrupted`].
pub fn study(args: &StudyArgs, stop: &(dyn Fn() -> bool + Sync)) -> anyhow::Result<StudyEnd> {
    let variants = variants(args)?;
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    anyhow::ensure!(args.epochs > 0, "--epochs must be at least 1");
    // Refused before anything is written: baselines on a multi-label set.
    for spec in &args.datasets {
        if let Some(v) = variants.iter().find(|v| v.kind != ModelKind::Mdpn) {
            if datasets::task_of(spec) == Task::MultiLabel {
                bail!("{}", baseline_refusal(spec, v));
            }
        }
    }
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create study folder {}", args.out.display()))?;
    write_atomic(
        &args.out.join("study.json"),
        serde_json::to_string_pretty(&json!({
            "program": program(),
            "datasets": args.datasets,
            "models": variants.iter().map(Variant::name).collect::<Vec<_>>(),
            "runs": args.runs,
            "first_seed": args.first_seed,
            "epochs": args.epochs,
        }))?
        .as_bytes(),
    )?;
    let pause = TestPause::from_env();
    let total = args.datasets.len() * variants.len() * args.runs as usize;
    let stale_after = Duration::from_secs(args.stale_after);
    let mut done = 0;
    let mut runs = Vec::new();
    for spec in &args.datasets {
        let data = datasets::load(
            &DataArgs {
                dataset: spec.clone(),
                data_dir: args.data_dir.clone(),
                color: None,
                image_size: None,
                classes: None,
            },
            true,
        )?;
        let name = dataset_name(&data);
        for variant in &variants {
            for seed in args.first_seed..args.first_seed + args.runs {
                done += 1;
                let dir = args
                    .out
                    .join("runs")
                    .join(&name)
                    .join(variant.folder())
                    .join(format!("seed{seed}"));
                runs.push(dir.clone());
                let label = format!("[{done}/{total}] {name} {} seed {seed}", variant.name());
                let _claim = match args.worker && !dir.join("result.json").exists() {
                    false => None,
                    true => match claims::claim(&dir, stale_after)? {
                        Attempt::Claimed(claim) => Some(claim),
                        Attempt::Held(h) => {
                            println!("{label}: held by worker {} on {}, skipped", h.pid, h.host);
                            continue;
                        }
                    },
                };
                let stopped = run_one(args, &data, &name, variant, seed, &dir, &label, stop)
                    .with_context(|| format!("run {}", dir.display()))?;
                if stopped || (stop() && done < total) {
                    return Err(Interrupted(format!(
                        "study stopped ({}); run the same command again to continue it",
                        if stopped {
                            format!("{} is saved after its last finished epoch", dir.display())
                        } else {
                            format!("{done} of {total} runs are done")
                        }
                    ))
                    .into());
                }
                pause.at("run", done);
            }
        }
    }
    let unfinished = runs
        .iter()
        .filter(|d| !d.join("result.json").exists())
        .count();
    Ok(match unfinished {
        0 => StudyEnd::Finished,
        unfinished => StudyEnd::OthersRunning { unfinished, total },
    })
}

/// Trains one run unless it is finished; a run stopped part-way continues from its checkpoint.
/// Returns whether `stop` stopped it before its last epoch.
#[allow(clippy::too_many_arguments)]
fn run_one(
    args: &StudyArgs,
    data: &Loaded,
    name: &str,
    variant: &Variant,
    seed: u64,
    dir: &Path,
    label: &str,
    stop: &(dyn Fn() -> bool + Sync),
) -> anyhow::Result<bool> {
    if data.train.task == Task::MultiLabel && variant.kind != ModelKind::Mdpn {
        bail!("{}", baseline_refusal(name, variant));
    }
    let recipe = args.recipe.recipe(data.mirror_symmetric, name)?;
    let (built, network) = build(variant, data, seed, recipe.init)?;
    let (splits, val_fraction) =
        run_splits(data, args.protocol, args.val_fraction, args.limit, seed)?;
    let mut settings = json!({
        "dataset": name,
        "data": data.folder.display().to_string(),
        "model": variant.name(),
        "network": network,
        "seed": seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "protocol": args.protocol,
        "val_fraction": val_fraction,
        "limit": args.limit,
    });
    // Studies from before recipes existed trained with the paper's, and named none.
    if recipe != Recipe::paper() {
        settings["recipe"] = serde_json::to_value(&recipe)?;
    }
    let config_path = dir.join(CONFIG);
    let mut resume = false;
    if config_path.exists() {
        let text = fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?;
        let old: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", config_path.display()))?;
        if old.get("settings") != Some(&settings) {
            bail!(
                "{} holds a run with other settings; use another --out for a different study",
                dir.display()
            );
        }
        if dir.join("result.json").exists() {
            println!("{label}: finished before, skipped");
            let mut result = read_result(&dir.join("result.json"))?;
            let before = result.clone();
            add_quantized(&mut result, data, name, &splits, dir, variant.kind)?;
            if result != before {
                write_result(dir, &result)?;
            }
            return Ok(false);
        }
        resume = dir.join(CHECKPOINT).exists();
    }
    if !resume {
        restart(dir)?;
        RunConfig::new(json!({ "settings": settings })).write(dir)?;
    }
    let run = RunSpec {
        args,
        data,
        splits: &splits,
        dir,
        label,
        name,
        model: variant.name(),
        seed,
        settings: serde_json::to_string(&settings)?,
        recipe,
        resume,
        stop,
    };
    let done = match built {
        Built::Mdpn(m) => run.train(m, |writer: &RunWriter, m: &Mdpn| {
            let file = ModelFile {
                model: m.clone(),
                class_names: data.train.class_names.clone(),
                dataset: Some(name.to_string()),
                program: program(),
            };
            writer.write_model(BEST_MODEL, &file)
        })?,
        Built::Mlp(m) => run.train(m, |writer: &RunWriter, m: &Mlp| {
            write_baseline(writer, data, name, Baseline::Mlp(m.clone()))
        })?,
        Built::Cnn(m) => run.train(m, |writer: &RunWriter, m: &Cnn| {
            write_baseline(writer, data, name, Baseline::Cnn(m.clone()))
        })?,
    };
    let Some(mut result) = done else {
        return Ok(true);
    };
    add_quantized(&mut result, data, name, &splits, dir, variant.kind)?;
    write_result(dir, &result)?;
    Ok(false)
}

fn write_result(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    write_atomic(
        &dir.join("result.json"),
        serde_json::to_string_pretty(result)?.as_bytes(),
    )
}

/// Writes a baseline run's best model, as MDPN's is written.
fn write_baseline(
    writer: &RunWriter,
    data: &Loaded,
    name: &str,
    model: Baseline,
) -> anyhow::Result<()> {
    let file = BaselineFile {
        model,
        class_names: data.train.class_names.clone(),
        dataset: Some(name.to_string()),
        program: program(),
    };
    writer.write_file(BEST_MODEL, &baseline_file::save(&file)?)
}

/// Adds the int8 and int4 models that a finished run's `result` lacks (see [`quantized`]): all
/// of a run finished now, what a run finished before they existed misses. A baseline run
/// finished before baselines had model files has none to quantize, and gets none.
fn add_quantized(
    result: &mut RunResult,
    data: &Loaded,
    name: &str,
    splits: &Splits,
    dir: &Path,
    kind: ModelKind,
) -> anyhow::Result<()> {
    if kind != ModelKind::Mdpn && !dir.join(BEST_MODEL).exists() {
        return Ok(());
    }
    if result.int8.is_none() {
        result.int8 = Some(quantized(data, name, splits, dir, kind, WeightBits::Eight)?);
    }
    if result.int4.is_none() {
        result.int4 = Some(quantized(data, name, splits, dir, kind, WeightBits::Four)?);
    }
    Ok(())
}

/// Quantizes a finished run's best model as `mdpn quantize --weight-bits BITS` does, into
/// `model-int8.safetensors` or `model-int4.safetensors`: that file's size and its test
/// accuracy.
fn quantized(
    data: &Loaded,
    name: &str,
    splits: &Splits,
    dir: &Path,
    kind: ModelKind,
    bits: WeightBits,
) -> anyhow::Result<QuantizedResult> {
    let path = dir.join(BEST_MODEL);
    let images = data.train.first_images(CALIBRATION_IMAGES);
    let source = format!("training images of {name}");
    let test = |model: &dyn Classifier| {
        evaluate(model, &data.test, &splits.test.indices, KernelChoice::Fast)
    };
    let (bytes, test) = if kind == ModelKind::Mdpn {
        let file = ModelArgs::path(&path).load()?;
        let q = quantize(&file, images, &source, program(), bits)?;
        (quantized_file::save(&q)?, test(&q.model)?)
    } else {
        let read = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let AnyBaseline::F32(file) = baseline_file::load(&read)
            .with_context(|| format!("cannot load {}", path.display()))?
        else {
            bail!("{} is not an f32 baseline model", path.display());
        };
        let q = quantize_baseline(&file, images, &source, program(), bits)?;
        (baseline_file::save_int8(&q)?, test(&q.model)?)
    };
    let file = format!("model-int{}.safetensors", bits.count());
    write_atomic(&dir.join(file), &bytes)?;
    Ok(QuantizedResult {
        bytes: bytes.len(),
        test_accuracy: test.accuracy,
    })
}

/// Why a baseline cannot train on a multi-label data set.
fn baseline_refusal(dataset: &str, variant: &Variant) -> String {
    format!(
        "{dataset} is multi-label (any number of its classes per image) but the {} baseline predicts one class per image; study {dataset} with --models mdpn (and its --ablate variants), or the baselines on other data sets",
        variant.name()
    )
}

/// Where a run without a checkpoint (never started, or killed before its first epoch ended)
/// starts: what an earlier attempt wrote goes, with the temporary files of its cut writes.
fn restart(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    remove_temporaries(dir)?;
    for file in ["metrics.csv", BEST_MODEL, "result.json", CHECKPOINT] {
        let path = dir.join(file);
        if path.exists() {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// What the study keeps in a run's checkpoint besides the training state (its `extra`): the
/// test results of the best epoch so far, which `result.json` reports, and the training time.
#[derive(Serialize, Deserialize, Default)]
struct Progress {
    train_seconds: f64,
    best_test: Option<Evaluated>,
}

/// The test results of one epoch.
#[derive(Serialize, Deserialize)]
struct Evaluated {
    accuracy: f64,
    auc: Option<f64>,
    confusion: Vec<u64>,
}

/// What one run trains on and where it writes.
struct RunSpec<'a> {
    args: &'a StudyArgs,
    data: &'a Loaded,
    splits: &'a Splits,
    dir: &'a Path,
    label: &'a str,
    name: &'a str,
    model: String,
    seed: u64,
    /// The run's settings (JSON), recorded in its checkpoint.
    settings: String,
    /// How it trains.
    recipe: Recipe,
    /// Whether to continue from the run folder's checkpoint.
    resume: bool,
    /// Whether to stop after the current epoch.
    stop: &'a (dyn Fn() -> bool + Sync),
}

impl RunSpec<'_> {
    /// Trains `model` for the study's epochs through [`fit`], evaluating after each and writing
    /// the run folder with a [`RunWriter`]; `save` writes the model of the best validation
    /// epoch. Returns `None` when `stop` stopped the run after an epoch before its last.
    fn train<N: Network>(
        &self,
        model: N,
        save: impl Fn(&RunWriter, &N) -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<RunResult>> {
        let args = self.args;
        let splits = self.splits;
        let parameters = model.parameter_count();
        let checkpoint_path = self.dir.join(CHECKPOINT);
        let mut trainer = Trainer::new(model.clone(), args.lr, args.batch_size, self.seed)?
            .with_recipe(self.recipe.clone(), args.epochs)?;
        let mut state = if self.resume {
            let state = resume(
                self.dir,
                |b| checkpoint::load_into(b, model),
                &self.settings,
            )?;
            println!("{}: resuming after epoch {}", self.label, state.epochs_done);
            state
        } else {
            fresh(&trainer, self.settings.clone())
        };
        let mut progress: Progress = if state.extra.is_empty() {
            Progress::default()
        } else {
            serde_json::from_str(&state.extra).with_context(|| {
                format!(
                    "{}: its study records are not valid",
                    checkpoint_path.display()
                )
            })?
        };
        let writer = RunWriter::new(Some(self.dir), splits.train.indices.len());
        writer.start(&state)?;
        let on_batch = |r: &BatchReport| {
            writer.batch(r);
            ControlFlow::Continue(())
        };
        let on_epoch = |end: &EpochEnd, run: &mut Checkpoint<N>| -> anyhow::Result<()> {
            writer.epoch(end, run, |row, time, run| {
                progress.train_seconds += time.train_seconds;
                let (val, test) = (&end.validation, &end.test);
                println!(
                    "{}: epoch {}/{}  train acc {:.2}%  {}  test acc {:.2}%{}  {:.1}s ({:.0} img/s)",
                    self.label,
                    end.epoch,
                    end.epochs,
                    100.0 * end.train.accuracy,
                    match splits.validation.indices.len() {
                        0 => "no validation".to_string(),
                        _ => format!("val acc {:.2}%", 100.0 * val.accuracy),
                    },
                    100.0 * test.accuracy,
                    test.auc
                        .map(|a| format!("  test AUC {a:.4}"))
                        .unwrap_or_default(),
                    row.seconds,
                    row.images_per_s
                );
                if end.best {
                    progress.best_test = Some(Evaluated {
                        accuracy: test.accuracy,
                        auc: test.auc,
                        confusion: test.confusion.clone(),
                    });
                    save(&writer, &run.model)?;
                }
                run.extra = serde_json::to_string(&progress)?;
                Ok(())
            })?;
            Ok(())
        };
        let fitted = fit(
            &mut trainer,
            &mut state,
            self.data.fit_data(splits),
            args.epochs,
            on_batch,
            on_epoch,
            self.stop,
        )?;
        if fitted == Fitted::Stopped {
            return Ok(None);
        }
        let (Some(best), Some(test)) = (state.best, progress.best_test) else {
            bail!("{} holds no finished epoch", checkpoint_path.display());
        };
        Ok(Some(RunResult {
            dataset: self.name.to_string(),
            model: self.model.clone(),
            seed: self.seed,
            parameters,
            model_bytes: 4 * parameters,
            epochs: args.epochs,
            best_epoch: best.epoch,
            val_accuracy: best.val_accuracy,
            test_accuracy: test.accuracy,
            test_auc: test.auc,
            task: self.data.train.task,
            train_seconds: progress.train_seconds,
            images_per_s: (splits.train.indices.len() * args.epochs) as f64
                / progress.train_seconds,
            class_names: self.data.train.class_names.clone(),
            confusion: test.confusion,
            int8: None,
            int4: None,
        }))
    }
}
