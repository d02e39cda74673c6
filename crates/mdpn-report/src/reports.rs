//! The reports of runs and studies: self-contained HTML pages (tables, and pictures inlined as
//! SVG) to open from disk; a study also gets its summary tables (Markdown, CSV, JSON) and
//! pictures as files.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use mdpn::Task;

use mdpn_runs::files::write_atomic;
use mdpn_runs::metrics::{read_metrics, EpochMetrics};
use mdpn_runs::summary::{self, Run, RunResult};

use crate::figures::{AccuracyVsSize, Confusion, LearningCurves, PerClass, SizedModel};
use crate::html::{esc, html_table, page, Pictures};

/// Writes a study's summary (Markdown, CSV, JSON), its pictures and `report.html`; returns
/// the page's path.
pub fn write_study(dir: &Path) -> anyhow::Result<PathBuf> {
    let runs = summary::finished_runs(dir)?;
    let rows = summary::summarise(&runs);
    write_atomic(&dir.join("summary.md"), summary::markdown(&rows).as_bytes())?;
    write_atomic(&dir.join("summary.csv"), summary::csv(&rows).as_bytes())?;
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&rows)?.as_bytes(),
    )?;

    let mut pictures = Pictures::new(dir.join("figures"));
    let mut body = pictures.note();
    let (header, cells) = summary::table(&rows);
    body += &format!(
        "<h2>Summary</h2>\n<p>Test accuracy at the epoch of best validation accuracy, mean ± standard deviation over seeds; training time and images/s of the training epochs.</p>\n{}",
        html_table(&header, &cells)
    );
    let run_rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let r = &r.result;
            vec![
                r.dataset.clone(),
                r.model.clone(),
                r.seed.to_string(),
                format!("{}/{}", r.best_epoch, r.epochs),
                format!("{:.2}", 100.0 * r.val_accuracy),
                format!("{:.2}", 100.0 * r.test_accuracy),
                format!("{:.1}", r.train_seconds),
                format!("{:.0}", r.images_per_s),
            ]
        })
        .collect();
    body += &format!(
        "<h2>Runs</h2>\n{}",
        html_table(
            &[
                "Data set",
                "Model",
                "Seed",
                "Best epoch",
                "Validation accuracy (%)",
                "Test accuracy (%)",
                "Training time (s)",
                "Images/s",
            ],
            &run_rows
        )
    );

    let mut datasets: Vec<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    datasets.dedup();
    for dataset in datasets {
        let _ = writeln!(body, "<h2>{}</h2>", esc(dataset));
        let of_set: Vec<&summary::Row> = rows.iter().filter(|r| r.dataset == dataset).collect();
        let size = AccuracyVsSize {
            title: format!("{dataset}: test accuracy against model size"),
            models: of_set
                .iter()
                .map(|r| SizedModel {
                    name: r.model.clone(),
                    bytes: r.model_bytes,
                    mean: r.test_accuracy_mean,
                    std: r.test_accuracy_std,
                    int8: r.int8(),
                    int4: r.int4(),
                })
                .collect(),
        };
        body += &pictures.add(
            &size,
            &format!("{dataset}-accuracy-vs-size"),
            "Accuracy against size",
        );
        let group = |model: &str| -> Vec<&Run> {
            runs.iter()
                .filter(|r| r.result.dataset == dataset && r.result.model == model)
                .collect()
        };
        let per_class = PerClass {
            title: format!("{dataset}: test accuracy per class (mean over seeds)"),
            class_names: group(&of_set[0].model)[0].result.class_names.clone(),
            models: of_set
                .iter()
                .map(|row| {
                    let g = group(&row.model);
                    let per: Vec<Vec<f64>> = g.iter().map(|r| r.result.per_class()).collect();
                    let mean = (0..per[0].len())
                        .map(|c| per.iter().map(|p| p[c]).sum::<f64>() / per.len() as f64)
                        .collect();
                    (row.model.clone(), mean)
                })
                .collect(),
        };
        body += &pictures.add(
            &per_class,
            &format!("{dataset}-per-class"),
            "Per-class accuracy",
        );
        for row in &of_set {
            let first = group(&row.model)[0];
            let _ = writeln!(
                body,
                "<h3>{} on {}, seed {}</h3>",
                esc(&row.model),
                esc(dataset),
                first.result.seed
            );
            let folder = first
                .dir
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            body += &run_pictures(
                &mut pictures,
                &first.dir,
                Some(&first.result),
                &format!("{dataset}-{folder}"),
            )?;
        }
    }
    let path = dir.join("report.html");
    write_atomic(&path, page("MDPN study", &body).as_bytes())?;
    Ok(path)
}

/// Learning curves and, when the run is finished, the confusion matrix.
fn run_pictures(
    pictures: &mut Pictures,
    run: &Path,
    result: Option<&RunResult>,
    stem: &str,
) -> anyhow::Result<String> {
    let metrics = read_metrics(&run.join("metrics.csv"))?;
    let title = match result {
        Some(r) => format!("{} on {}, seed {}", r.model, r.dataset, r.seed),
        None => run.display().to_string(),
    };
    let mut s = pictures.add(
        &LearningCurves {
            title: format!("{title}: learning curves"),
            metrics,
        },
        &format!("{stem}-curves"),
        "Learning curves",
    );
    // A multi-label run has a 2×2 matrix per label, which the per-class picture sums up.
    if let Some(r) = result.filter(|r| r.task == Task::MultiClass) {
        s += &pictures.add(
            &Confusion {
                title: format!(
                    "{title}: test confusion matrix (best epoch {})",
                    r.best_epoch
                ),
                class_names: r.class_names.clone(),
                confusion: r.confusion.clone(),
            },
            &format!("{stem}-confusion"),
            "Confusion matrix",
        );
    }
    Ok(s)
}

/// Writes the report of one run folder: its metrics per epoch and pictures.
pub fn write_run(dir: &Path) -> anyhow::Result<PathBuf> {
    let result_path = dir.join("result.json");
    let result: Option<RunResult> = if result_path.exists() {
        Some(summary::read_result(&result_path)?)
    } else {
        None
    };
    let metrics = read_metrics(&dir.join("metrics.csv"))?;
    let settings: Option<serde_json::Value> = fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let mut pictures = Pictures::new(dir.join("figures"));
    let mut body = pictures.note();
    body += &run_headline(&metrics, result.as_ref(), settings.as_ref());
    body += "<h2>Learning curves and confusion matrix</h2>\n";
    body += &run_pictures(&mut pictures, dir, result.as_ref(), "run")?;
    if let Some(settings) = &settings {
        let mut rows = Vec::new();
        flatten("", settings, &mut rows);
        body += &format!(
            "<h2>Settings</h2>\n<section id=\"settings\">\n{}</section>\n",
            html_table(&["Setting", "Value"], &rows)
        );
    }
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|e| {
            vec![
                e.epoch.to_string(),
                format!("{:.4}", e.train_loss),
                format!("{:.2}", 100.0 * e.train_acc),
                format!("{:.4}", e.val_loss),
                format!("{:.2}", 100.0 * e.val_acc),
                format!("{:.4}", e.test_loss),
                format!("{:.2}", 100.0 * e.test_acc),
            ]
        })
        .collect();
    body += &format!(
        "<h2>Epochs</h2>\n{}",
        html_table(
            &[
                "Epoch",
                "Train loss",
                "Train accuracy (%)",
                "Validation loss",
                "Validation accuracy (%)",
                "Test loss",
                "Test accuracy (%)",
            ],
            &rows
        )
    );
    let path = dir.join("report.html");
    write_atomic(
        &path,
        page(&format!("MDPN run {}", dir.display()), &body).as_bytes(),
    )?;
    Ok(path)
}

/// What a reader of a run wants first: the test accuracy at the best validation epoch and after
/// the last, the time, the speed and the model's size.
fn run_headline(
    metrics: &[EpochMetrics],
    result: Option<&RunResult>,
    settings: Option<&serde_json::Value>,
) -> String {
    let mut rows = Vec::new();
    // The first epoch of highest validation accuracy, as training picks it.
    let best = metrics.iter().fold(None::<&EpochMetrics>, |b, e| match b {
        Some(b) if b.val_acc >= e.val_acc => Some(b),
        _ => Some(e),
    });
    if let Some(b) = best {
        rows.push(vec![
            format!("Test accuracy at the best validation epoch ({})", b.epoch),
            format!("{:.2}%", 100.0 * b.test_acc),
        ]);
    }
    if let Some(last) = metrics.last() {
        rows.push(vec![
            format!("Test accuracy after the last epoch ({})", last.epoch),
            format!("{:.2}%", 100.0 * last.test_acc),
        ]);
    }
    let epochs = (!metrics.is_empty()).then_some(metrics);
    let seconds = result
        .map(|r| r.train_seconds)
        .or_else(|| epochs.map(|m| m.iter().map(|e| e.seconds).sum()));
    if let Some(t) = seconds {
        let what = if result.is_some() {
            "Training time"
        } else {
            "Time (epochs with evaluation)"
        };
        let t = t.round() as u64;
        rows.push(vec![what.into(), format!("{} min {} s", t / 60, t % 60)]);
    }
    let rate = result
        .map(|r| r.images_per_s)
        .or_else(|| epochs.map(|m| m.iter().map(|e| e.images_per_s).sum::<f64>() / m.len() as f64));
    if let Some(rate) = rate {
        rows.push(vec!["Training images/s".into(), format!("{rate:.0}")]);
    }
    let parameters = result.map(|r| r.parameters).or_else(|| {
        let model = settings?.get("model")?.clone();
        serde_json::from_value::<mdpn::Config>(model)
            .ok()
            .map(|c| c.parameter_count())
    });
    if let Some(p) = parameters {
        rows.push(vec![
            "Model size".into(),
            format!("{p} parameters, {} as f32", summary::bytes(4 * p)),
        ]);
    }
    format!(
        "<h2>Headline</h2>\n<section id=\"headline\">\n{}</section>\n",
        html_table(&["", ""], &rows)
    )
}

/// The settings of `config.json` as rows `(name, value)`, nested objects as `outer.inner`.
fn flatten(prefix: &str, value: &serde_json::Value, rows: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, rows);
            }
        }
        serde_json::Value::String(s) => rows.push(vec![prefix.into(), s.clone()]),
        v => rows.push(vec![prefix.into(), v.to_string()]),
    }
}
