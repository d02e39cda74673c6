//! `mdpn prune`: fixes constant synapses, removes dendrites whose output is constant on the
//! data and, within an accuracy budget, the least important ones; writes the pruned model (an
//! ordinary model file) and a before/after table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mdpn::evaluation::evaluate;
use mdpn::model_file::{self, ModelFile};
use mdpn::prune::{fixed_synapses, prune, Pruned};
use mdpn::splits::ProtocolName;
use mdpn::splits::{Source, Subset};
use mdpn::synapse_states::DEFAULT_TOLERANCE;
use mdpn::training::{fine_tune, EpochEnd};
use mdpn::{Dataset, KernelChoice, Mdpn};
use mdpn_data::datasets::{DataArgs, Loaded};
use serde_json::json;

use super::ModelArgs;
use mdpn_data::for_model::{load_data_to_train, run_splits};
use mdpn_runs::files::{program, write_atomic, write_model};

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
    #[arg(long, value_enum, default_value_t = ProtocolName::Holdout)]
    pub protocol: ProtocolName,
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
    /// After pruning, train this many epochs more, as `mdpn train --init` does (the paper's
    /// recipe, fixed synapses kept fixed), on the split's training images; the model written
    /// is then the fine-tuned one of the best validation epoch.
    #[arg(long, value_name = "EPOCHS")]
    pub fine_tune: Option<usize>,
    /// Adam's learning rate of the fine-tuning.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Batch size of the fine-tuning.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
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
    let file = ModelArgs::path(&args.model).load()?;
    anyhow::ensure!(
        args.fine_tune != Some(0),
        "--fine-tune takes at least 1 epoch"
    );
    let cfg = &file.model.config;
    let data = match args.fine_tune {
        Some(_) => load_data_to_train(cfg, &args.data, &args.model)?,
        None => mdpn_data::for_model::load_data_for(cfg, &args.data)?,
    };
    let (splits, _) = run_splits(&data, args.protocol, args.val_fraction, None, args.seed)?;
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

    let train = &splits.train;
    let sample: Vec<usize> = train.indices.iter().copied().take(args.samples).collect();
    let validation = (pick(&splits.validation), &splits.validation.indices[..]);
    let Pruned {
        model: pruned,
        synapses_fixed: newly_fixed,
        constant_dendrites: constant,
        removed,
    } = prune(
        original,
        (pick(train), &sample),
        validation,
        args.tolerance,
        args.max_drop,
    )?;
    let tuned = match args.fine_tune {
        Some(epochs) => {
            let on_epoch = |end: &EpochEnd| {
                eprintln!(
                    "fine-tune epoch {}/{epochs}: train loss {:.4}, validation {:.2}%, test {:.2}%",
                    end.epoch,
                    end.train.loss,
                    100.0 * end.validation.accuracy,
                    100.0 * end.test.accuracy
                )
            };
            let data = data.fit_data(&splits);
            let (lr, batch, seed) = (args.lr, args.batch_size, args.seed);
            Some(fine_tune(&pruned, data, lr, batch, seed, epochs, on_epoch)?)
        }
        None => None,
    };
    let as_file = |model: &Mdpn| ModelFile {
        model: model.clone(),
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program: program(),
    };
    let out = as_file(tuned.as_ref().map_or(&pruned, |(m, _)| m));
    write_model(&args.out, &out)?;
    let measure = |model: &Mdpn| -> anyhow::Result<Measures> {
        Ok(Measures {
            dendrites: model.config.dendrites,
            synapses_kept: kept(model),
            parameters: model.config.parameter_count(),
            // The bytes `write_model` writes.
            bytes: model_file::save(&as_file(model))?.len(),
            val_accuracy: accuracy(model, &splits.validation)?,
            test_accuracy: accuracy(model, &splits.test)?,
            // Timed below, the models taking turns.
            images_per_s: 0.0,
        })
    };
    let mut after = measure(&pruned)?;
    let mut tuned = match tuned {
        Some((model, best)) => Some((measure(&model)?, model, best)),
        None => None,
    };
    let mut models = vec![original, &pruned];
    models.extend(tuned.as_ref().map(|(_, m, _)| m));
    let rates = mdpn_runs::timing::inference_images_per_s(&models, &data.test, args.rounds)?;
    (before.images_per_s, after.images_per_s) = (rates[0], rates[1]);
    if let Some((m, ..)) = &mut tuned {
        m.images_per_s = rates[2];
    }
    let mut columns = vec![("before", &before), ("after", &after)];
    columns.extend(tuned.as_ref().map(|(m, ..)| ("after fine-tune", m)));
    let mut sorted = removed.clone();
    sorted.sort_unstable();
    let (md, csv) = table(&columns);
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
            "removed_dendrites": sorted, "before": m(&before), "after": m(&after),
            "fine_tune_epochs": args.fine_tune,
            "fine_tuned": tuned.as_ref().map(|(t, _, best)| {
                let mut j = m(t);
                j["best_epoch"] = json!(best);
                j
            })})
        );
    } else {
        println!(
            "{}: {newly_fixed} constant synapses fixed, {constant} constant dendrites removed, {} dendrites removed in all {sorted:?}\n",
            describe(&data),
            removed.len()
        );
        if let (Some(epochs), Some((.., best))) = (args.fine_tune, &tuned) {
            println!(
                "fine-tuned {epochs} epochs; the model of epoch {best}, the best on validation\n"
            );
        }
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

/// The table of `columns` (name, measures) as Markdown and CSV.
fn table(columns: &[(&str, &Measures)]) -> (String, String) {
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
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut md = format!(
        "| | {} |\n|---|{}\n",
        names.join(" | "),
        "---:|".repeat(names.len())
    );
    let mut csv = format!("measure,{}\n", names.join(","));
    for (name, f) in rows {
        let cells: Vec<String> = columns.iter().map(|(_, m)| f(m)).collect();
        let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
        let _ = writeln!(csv, "{name},{}", cells.join(","));
    }
    (md, csv)
}
