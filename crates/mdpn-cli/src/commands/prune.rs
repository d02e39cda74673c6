//! `mdpn prune`: fixes constant synapses, removes dendrites whose output is constant on the
//! data and, within an accuracy budget, the least important ones; writes the pruned model (an
//! ordinary model file) and a before/after table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mdpn::dendrite_importance::{ablation, feature_means};
use mdpn::evaluation::evaluate;
use mdpn::model_file::ModelFile;
use mdpn::prune::{constant_dendrites, fix_constant_synapses, fixed_synapses, remove_dendrites};
use mdpn::splits::{Protocol, Source, Subset};
use mdpn::synapse_states::DEFAULT_TOLERANCE;
use mdpn::{Dataset, KernelChoice, Mdpn};
use serde_json::json;

use super::train::ProtocolArg;
use super::ModelArgs;
use crate::datasets::{self, DataArgs, Loaded};
use crate::files::{program, write_atomic, write_model};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Model file to prune.
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Where the pruned model file goes; its table goes next to it (`<name>-prune.md`, `.csv`).
    #[arg(long)]
    pub out: PathBuf,
    /// Tolerance: on `|Y(hi) − Y(lo)|` for a synapse to count as constant, and on how far a
    /// dendrite's membrane output may stray from its mean for the dendrite to count as constant.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
    pub tolerance: f32,
    /// Also remove the least important dendrites while the validation accuracy stays within
    /// this many percentage points of the model's.
    #[arg(long)]
    pub max_drop: Option<f64>,
    /// The split the model was trained with (its validation images choose what goes).
    #[arg(long, value_enum, default_value_t = ProtocolArg::Holdout)]
    pub protocol: ProtocolArg,
    /// Fraction of the training set held out for validation (holdout protocol).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training images whose membrane outputs give each dendrite's mean and spread.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Timed inference rounds of 100 batches of 64 test images, the models before and after
    /// taking turns; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// What the table reports of one model.
struct Measures {
    dendrites: usize,
    synapses_kept: usize,
    parameters: usize,
    bytes: usize,
    val_accuracy: f64,
    test_accuracy: f64,
    images_per_s: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.tolerance > 0.0 && args.tolerance < 1.0,
        "--tolerance must be between 0 and 1, got {}",
        args.tolerance
    );
    anyhow::ensure!(
        args.max_drop.is_none_or(|p| p >= 0.0 && p.is_finite()),
        "--max-drop must be a non-negative number of percentage points"
    );
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let file = ModelArgs {
        model: args.model.clone(),
        image_size: None,
        mean: None,
        std: None,
    }
    .load()?;
    let data = super::load_data_for(&file.model.config, &args.data)?;
    let protocol = match args.protocol {
        ProtocolArg::Holdout => Protocol::Holdout {
            fraction: args.val_fraction,
        },
        ProtocolArg::Paper => Protocol::Paper,
    };
    let splits = datasets::splits(&data, protocol, args.seed)?;
    let pick = |s: &Subset| -> &Dataset {
        match s.source {
            Source::Train => &data.train,
            Source::Test => &data.test,
        }
    };
    let accuracy = |model: &Mdpn, s: &Subset| -> anyhow::Result<f64> {
        Ok(evaluate(model, pick(s), &s.indices, KernelChoice::Fast)?.accuracy)
    };
    let bytes_before = std::fs::metadata(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?
        .len() as usize;
    let original = &file.model;
    let base_val = accuracy(original, &splits.validation)?;
    let mut before = Measures {
        dendrites: original.config.dendrites,
        synapses_kept: kept(original),
        parameters: original.config.parameter_count(),
        bytes: bytes_before,
        val_accuracy: base_val,
        test_accuracy: accuracy(original, &splits.test)?,
        // Timed below, the two models taking turns.
        images_per_s: 0.0,
    };

    // Constant synapses fixed, then the dendrites' means and spreads on training images.
    let mut fixed = original.clone();
    let newly_fixed = fix_constant_synapses(&mut fixed, args.tolerance);
    let train = &splits.train;
    let sample: Vec<usize> = train.indices.iter().copied().take(args.samples).collect();
    let (membrane, _) = super::membranes(&fixed, pick(train), &sample)?;
    let means = feature_means(&fixed, &membrane);
    let mut removed = constant_dendrites(&fixed, &membrane, &means, args.tolerance);
    let constant = removed.len();
    if let Some(drop) = args.max_drop {
        removed = within_drop(
            &fixed,
            &means,
            removed,
            drop,
            base_val,
            &|m| accuracy(m, &splits.validation),
            pick(&splits.validation),
            &splits.validation.indices,
        )?;
    }
    let pruned = if removed.len() < fixed.config.dendrites {
        remove_dendrites(&fixed, &removed, &means)?
    } else {
        anyhow::bail!("every dendrite is constant on the data: nothing would be left")
    };
    let out = ModelFile {
        model: pruned,
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program: program(),
    };
    write_model(&args.out, &out)?;
    let pruned = &out.model;
    let mut after = Measures {
        dendrites: pruned.config.dendrites,
        synapses_kept: kept(pruned),
        parameters: pruned.config.parameter_count(),
        bytes: std::fs::metadata(&args.out)?.len() as usize,
        val_accuracy: accuracy(pruned, &splits.validation)?,
        test_accuracy: accuracy(pruned, &splits.test)?,
        // Timed below, the two models taking turns.
        images_per_s: 0.0,
    };
    let rates = super::bench::inference_images_per_s(&[original, pruned], &data.test, args.rounds)?;
    (before.images_per_s, after.images_per_s) = (rates[0], rates[1]);
    let mut sorted = removed.clone();
    sorted.sort_unstable();
    let (md, csv) = table(&before, &after);
    write_atomic(&sibling(&args.out, "md"), md.as_bytes())?;
    write_atomic(&sibling(&args.out, "csv"), csv.as_bytes())?;
    if args.json {
        let m = |m: &Measures| {
            json!({"dendrites": m.dendrites, "synapses_kept": m.synapses_kept,
                "parameters": m.parameters, "bytes": m.bytes, "val_accuracy": m.val_accuracy,
                "test_accuracy": m.test_accuracy, "images_per_s": m.images_per_s})
        };
        println!(
            "{}",
            json!({"model": args.model.display().to_string(), "pruned": args.out.display().to_string(),
                "dataset": data.name, "tolerance": args.tolerance, "max_drop": args.max_drop,
                "synapses_fixed": newly_fixed, "constant_dendrites": constant,
                "removed_dendrites": sorted, "before": m(&before), "after": m(&after)})
        );
    } else {
        println!(
            "{}: {newly_fixed} constant synapses fixed, {constant} constant dendrites removed, {} dendrites removed in all {sorted:?}\n",
            describe(&data),
            removed.len()
        );
        print!("{md}");
        println!("\npruned model in {}", args.out.display());
    }
    Ok(())
}

fn describe(data: &Loaded) -> String {
    format!("{} ({} test images)", data.name, data.test.len())
}

/// Synapses that still look at their pixel (weight not fixed at 0).
fn kept(model: &Mdpn) -> usize {
    fixed_synapses(model).iter().filter(|&&f| !f).count()
}

/// `PRUNED` without its extension, then `-prune.EXT`.
fn sibling(out: &Path, ext: &str) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}-prune.{ext}"))
}

/// Adds to `removed` the dendrites of `model` that matter least on the validation images, one
/// at a time in order of importance, each kept out only if the validation accuracy of the
/// model without all of them stays within `drop` points of `base`.
#[allow(clippy::too_many_arguments)]
fn within_drop(
    model: &Mdpn,
    means: &[f32],
    mut removed: Vec<usize>,
    drop: f64,
    base: f64,
    validation_accuracy: &dyn Fn(&Mdpn) -> anyhow::Result<f64>,
    validation: &Dataset,
    indices: &[usize],
) -> anyhow::Result<Vec<usize>> {
    let cfg = &model.config;
    let (membrane, labels) = super::membranes(model, validation, indices)?;
    let (_, without) = ablation(model, &membrane, &labels)?;
    // A dendrite's importance: the accuracy without it, summed over its channels.
    let left = |d: usize| -> f64 {
        (0..cfg.channels)
            .map(|ch| without[ch * cfg.dendrites + d])
            .sum()
    };
    let mut order: Vec<usize> = (0..cfg.dendrites)
        .filter(|d| !removed.contains(d))
        .collect();
    order.sort_by(|&a, &b| left(b).total_cmp(&left(a)).then(a.cmp(&b)));
    for d in order {
        if removed.len() + 1 >= cfg.dendrites {
            break;
        }
        removed.push(d);
        let trial = remove_dendrites(model, &removed, means)?;
        if 100.0 * (base - validation_accuracy(&trial)?) > drop {
            removed.pop();
        }
    }
    Ok(removed)
}

/// The before/after table as Markdown and CSV.
fn table(before: &Measures, after: &Measures) -> (String, String) {
    type Row = (&'static str, fn(&Measures) -> String);
    let rows: [Row; 7] = [
        ("dendrites", |m| m.dendrites.to_string()),
        ("synapses kept", |m| m.synapses_kept.to_string()),
        ("parameters", |m| m.parameters.to_string()),
        ("model file bytes", |m| m.bytes.to_string()),
        ("validation accuracy (%)", |m| {
            format!("{:.2}", 100.0 * m.val_accuracy)
        }),
        ("test accuracy (%)", |m| {
            format!("{:.2}", 100.0 * m.test_accuracy)
        }),
        ("inference images/s", |m| format!("{:.0}", m.images_per_s)),
    ];
    let mut md = String::from("| | before | after |\n|---|---:|---:|\n");
    let mut csv = String::from("measure,before,after\n");
    for (name, f) in rows {
        let _ = writeln!(md, "| {name} | {} | {} |", f(before), f(after));
        let _ = writeln!(csv, "{name},{},{}", f(before), f(after));
    }
    (md, csv)
}
