//! `mdpn eval`: accuracy, per-class accuracy and confusion matrix on a data set's test images,
//! of an MDPN model or a study's baseline, f32 or int8.

use anyhow::Context;
use mdpn::baselines::baseline_file::{self, AnyBaseline};
use mdpn::baselines::Architecture;
use mdpn::evaluation::{evaluate, Classifier};
use mdpn::{KernelChoice, Task};
use mdpn_data::datasets::{DataArgs, Loaded};
use mdpn_data::for_model::{load_data_for, load_data_for_baseline};
use serde_json::json;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = &args.model.model;
    let bytes = args.model.read()?;
    if baseline_file::is_baseline(&bytes) {
        let file = baseline_file::load(&bytes)
            .with_context(|| format!("cannot load model {}", path.display()))?;
        let (arch, names, model): (Architecture, &[String], &dyn Classifier) = match &file {
            AnyBaseline::F32(f) => (f.model.architecture(), &f.class_names, f.model.classifier()),
            AnyBaseline::Int8(f) => (f.model.architecture.clone(), &f.class_names, &f.model),
        };
        let data = load_data_for_baseline(&arch, &args.data)?;
        return show(&args, model, names, &data);
    }
    let file = args.model.load_any_from(&bytes)?;
    let data = load_data_for(file.config(), &args.data)?;
    show(&args, file.classifier(), file.class_names(), &data)
}

/// Evaluates `model` (whose classes are `model_names`) on the test images of `data` and prints
/// what it found.
fn show(
    args: &Args,
    model: &dyn Classifier,
    model_names: &[String],
    data: &Loaded,
) -> anyhow::Result<()> {
    let test = &data.test;
    let task = model.task();
    let indices: Vec<usize> = (0..test.len()).collect();
    let eval = evaluate(model, test, &indices, KernelChoice::Fast)?;
    let names: Vec<String> = if test.classes() == model.classes() {
        test.class_names.clone()
    } else {
        model_names.to_vec()
    };
    let per_class = eval.per_class();
    // Multi-label: per label [true 0 predicted 0, 0 1, 1 0, 1 1].
    let row = if task == Task::MultiLabel {
        4
    } else {
        eval.classes
    };
    let confusion: Vec<&[u64]> = eval.confusion.chunks(row).collect();
    if args.json {
        let out = json!({
            "model": args.model.model.display().to_string(),
            "dataset": data.name,
            "images": test.len(),
            "task": task,
            "accuracy": eval.accuracy,
            "auc": eval.auc,
            "loss": eval.loss,
            "class_names": names,
            "per_class": per_class,
            "confusion": confusion,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} test images of {}",
        args.model.model.display(),
        test.len(),
        data.name
    );
    let auc = eval.auc.map_or("n/a".into(), |a| format!("{a:.4}"));
    println!(
        "accuracy (ACC) {:.2}%  AUC {auc}  loss {:.4}\n",
        100.0 * eval.accuracy,
        eval.loss
    );
    let width = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    if task == Task::MultiLabel {
        println!("{:>width$}  accuracy  present", "label");
        for (name, (acc, c)) in names.iter().zip(per_class.iter().zip(&confusion)) {
            println!("{name:>width$}  {:>7.2}%  {:>7}", 100.0 * acc, c[2] + c[3]);
        }
        return Ok(());
    }
    println!("{:>width$}  accuracy  images", "class");
    for ((name, acc), row) in names.iter().zip(&per_class).zip(&confusion) {
        println!(
            "{name:>width$}  {:>7.2}%  {:>6}",
            100.0 * acc,
            row.iter().sum::<u64>()
        );
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted)");
    print!("{:>width$}", "");
    for i in 0..eval.classes {
        print!(" {i:>5}");
    }
    println!();
    for (name, row) in names.iter().zip(&confusion) {
        print!("{name:>width$}");
        for v in row.iter() {
            print!(" {v:>5}");
        }
        println!();
    }
    Ok(())
}
