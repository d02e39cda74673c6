//! What a finished run leaves (`result.json`) and the study's summary table:
//! mean ± standard deviation over seeds of every (data set, model).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mdpn::Task;
use serde::{Deserialize, Serialize};

/// The outcome of one finished run, written last to its folder: a run without it is unfinished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub dataset: String,
    /// Model name: `mdpn`, `mlp`, `cnn`, or an MDPN variant such as `mdpn[synapse=sigmoid]`.
    pub model: String,
    pub seed: u64,
    pub parameters: usize,
    /// Size of the parameters as f32.
    pub model_bytes: usize,
    pub epochs: usize,
    /// Epoch (from 1) of the best validation accuracy, whose test accuracy is reported.
    pub best_epoch: usize,
    pub val_accuracy: f64,
    pub test_accuracy: f64,
    /// Test AUC at the best epoch, for data sets that report one (MedMNIST's metric).
    #[serde(default)]
    pub test_auc: Option<f64>,
    /// Multi-class, or multi-label (the confusion matrix then holds 2×2 counts per label).
    #[serde(default)]
    pub task: Task,
    /// Time spent in training epochs (evaluation excluded), and training images per second.
    pub train_seconds: f64,
    pub images_per_s: f64,
    pub class_names: Vec<String>,
    /// Test confusion matrix at the best epoch: multi-class `[true * classes + predicted]`,
    /// multi-label `[label * 4 + 2 * truth + predicted]`.
    pub confusion: Vec<u64>,
    /// The run's best model quantized to int8 (`mdpn study`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8: Option<QuantizedResult>,
    /// The same with int4 weights in the hidden layers (`mdpn quantize --weight-bits 4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int4: Option<QuantizedResult>,
}

/// A quantized model as `mdpn quantize` writes it, and its accuracy on the run's test images.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedResult {
    /// Size of the model file.
    pub bytes: usize,
    pub test_accuracy: f64,
}

impl RunResult {
    /// Test accuracy of every class (of every label, multi-label) at the best epoch.
    pub fn per_class(&self) -> Vec<f64> {
        mdpn::evaluation::per_class(self.task, self.class_names.len(), &self.confusion)
    }
}

/// A finished run and its folder.
#[derive(Clone, Debug)]
pub struct Run {
    pub dir: PathBuf,
    pub result: RunResult,
}

/// The finished runs under a study's `runs/` folder, by data set, model and seed.
pub fn finished_runs(study: &Path) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    let root = study.join("runs");
    let list = |dir: &Path| -> anyhow::Result<Vec<PathBuf>> {
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        Ok(v)
    };
    for dataset in list(&root)? {
        for model in list(&dataset)? {
            for run in list(&model)? {
                let path = run.join("result.json");
                if !path.exists() {
                    continue;
                }
                let result = read_result(&path)?;
                runs.push(Run { dir: run, result });
            }
        }
    }
    runs.sort_by(|a, b| {
        let key = |r: &RunResult| (r.dataset.clone(), model_order(&r.model), r.seed);
        key(&a.result).cmp(&key(&b.result))
    });
    Ok(runs)
}

/// Reads a finished run's `result.json` at `path`.
pub fn read_result(path: &Path) -> anyhow::Result<RunResult> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a run result", path.display()))
}

/// Sort key of a model name: MDPN and its variants first, then the baselines.
fn model_order(model: &str) -> (u8, String) {
    let rank = match model {
        "mdpn" => 0,
        m if m.starts_with("mdpn") => 1,
        "mlp" => 2,
        "cnn" => 3,
        _ => 4,
    };
    (rank, model.to_string())
}

/// One line of the summary: a model on a data set over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub dataset: String,
    pub model: String,
    pub runs: usize,
    pub seeds: Vec<u64>,
    pub test_accuracy_mean: f64,
    /// Sample standard deviation (0 for a single run).
    pub test_accuracy_std: f64,
    /// Test AUC over the seeds, where every run reports one (MedMNIST sets).
    pub test_auc_mean: Option<f64>,
    pub test_auc_std: Option<f64>,
    pub best_epoch_mean: f64,
    pub train_seconds_mean: f64,
    pub images_per_s_mean: f64,
    pub parameters: usize,
    pub model_bytes: usize,
    /// The int8 models' file size and test accuracy, where every run has one.
    pub int8_bytes: Option<usize>,
    pub int8_test_accuracy_mean: Option<f64>,
    pub int8_test_accuracy_std: Option<f64>,
    /// The same of the models with int4 hidden layers.
    #[serde(default)]
    pub int4_bytes: Option<usize>,
    #[serde(default)]
    pub int4_test_accuracy_mean: Option<f64>,
    #[serde(default)]
    pub int4_test_accuracy_std: Option<f64>,
}

impl Row {
    /// The int8 models' `(file size, mean, standard deviation)`, where every run has one.
    pub fn int8(&self) -> Option<(usize, f64, f64)> {
        point(
            self.int8_bytes,
            self.int8_test_accuracy_mean,
            self.int8_test_accuracy_std,
        )
    }

    /// The same of the models with int4 hidden layers.
    pub fn int4(&self) -> Option<(usize, f64, f64)> {
        point(
            self.int4_bytes,
            self.int4_test_accuracy_mean,
            self.int4_test_accuracy_std,
        )
    }
}

fn point(bytes: Option<usize>, mean: Option<f64>, std: Option<f64>) -> Option<(usize, f64, f64)> {
    Some((bytes?, mean?, std?))
}

/// File size (of the first run) and test accuracy (mean, standard deviation) of the quantized
/// models `of` every run, where every run has one.
fn quantized(
    g: &[&RunResult],
    of: fn(&RunResult) -> Option<QuantizedResult>,
) -> (Option<usize>, Option<f64>, Option<f64>) {
    let all: Option<Vec<QuantizedResult>> = g.iter().map(|r| of(r)).collect();
    let acc: Option<Vec<f64>> = all
        .as_ref()
        .map(|v| v.iter().map(|q| q.test_accuracy).collect());
    (
        all.map(|v| v[0].bytes),
        acc.as_deref().map(mean),
        acc.as_deref().map(std_dev),
    )
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn std_dev(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The summary rows of some finished runs (sorted as [`finished_runs`] returns them).
pub fn summarise(runs: &[Run]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut groups: Vec<Vec<&RunResult>> = Vec::new();
    for run in runs {
        let r = &run.result;
        match groups
            .iter_mut()
            .find(|g| g[0].dataset == r.dataset && g[0].model == r.model)
        {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    for g in groups {
        let of = |f: fn(&RunResult) -> f64| g.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let acc = of(|r| r.test_accuracy);
        let auc: Option<Vec<f64>> = g.iter().map(|r| r.test_auc).collect();
        let (int8_bytes, int8_test_accuracy_mean, int8_test_accuracy_std) =
            quantized(&g, |r| r.int8);
        let (int4_bytes, int4_test_accuracy_mean, int4_test_accuracy_std) =
            quantized(&g, |r| r.int4);
        rows.push(Row {
            dataset: g[0].dataset.clone(),
            model: g[0].model.clone(),
            runs: g.len(),
            seeds: g.iter().map(|r| r.seed).collect(),
            test_accuracy_mean: mean(&acc),
            test_accuracy_std: std_dev(&acc),
            test_auc_mean: auc.as_deref().map(mean),
            test_auc_std: auc.as_deref().map(std_dev),
            best_epoch_mean: mean(&of(|r| r.best_epoch as f64)),
            train_seconds_mean: mean(&of(|r| r.train_seconds)),
            images_per_s_mean: mean(&of(|r| r.images_per_s)),
            parameters: g[0].parameters,
            model_bytes: g[0].model_bytes,
            int8_bytes,
            int8_test_accuracy_mean,
            int8_test_accuracy_std,
            int4_bytes,
            int4_test_accuracy_mean,
            int4_test_accuracy_std,
        });
    }
    rows
}

/// Bytes in a short human form.
pub fn bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Header and cells of the summary table, as shown in Markdown and HTML; the test AUC column
/// only when some data set reports one, the int8 and int4 columns only when some model has them.
pub fn table(rows: &[Row]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let with_auc = rows.iter().any(|r| r.test_auc_mean.is_some());
    let mut header = vec!["Data set", "Model", "Runs", "Test accuracy (%)"];
    if with_auc {
        header.push("Test AUC");
    }
    header.extend([
        "Best epoch",
        "Training time (s)",
        "Images/s",
        "Parameters",
        "Size (f32)",
    ]);
    let with_int8 = rows.iter().any(|r| r.int8_bytes.is_some());
    if with_int8 {
        header.extend(["Size (int8)", "Int8 test accuracy (%)"]);
    }
    let with_int4 = rows.iter().any(|r| r.int4_bytes.is_some());
    if with_int4 {
        header.extend(["Size (int4)", "Int4 test accuracy (%)"]);
    }
    let quantized = |point: Option<(usize, f64, f64)>| match point {
        Some((b, m, s)) => [bytes(b), format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * s)],
        None => ["–".to_string(), "–".to_string()],
    };
    let cells = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.dataset.clone(),
                r.model.clone(),
                r.runs.to_string(),
                format!(
                    "{:.2} ± {:.2}",
                    100.0 * r.test_accuracy_mean,
                    100.0 * r.test_accuracy_std
                ),
            ];
            if with_auc {
                row.push(match (r.test_auc_mean, r.test_auc_std) {
                    (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
                    _ => "–".to_string(),
                });
            }
            row.extend([
                format!("{:.1}", r.best_epoch_mean),
                format!("{:.1}", r.train_seconds_mean),
                format!("{:.0}", r.images_per_s_mean),
                r.parameters.to_string(),
                bytes(r.model_bytes),
            ]);
            if with_int8 {
                row.extend(quantized(r.int8()));
            }
            if with_int4 {
                row.extend(quantized(r.int4()));
            }
            row
        })
        .collect();
    (header, cells)
}

/// The summary as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let (header, cells) = table(rows);
    let mut s = format!("| {} |\n", header.join(" | "));
    s += &format!(
        "|{}\n",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in cells {
        s += &format!("| {} |\n", row.join(" | "));
    }
    s
}

/// The summary as CSV, numbers unrounded.
pub fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "dataset,model,runs,test_accuracy_mean,test_accuracy_std,test_auc_mean,test_auc_std,best_epoch_mean,train_seconds_mean,images_per_s_mean,parameters,model_bytes,int8_bytes,int8_test_accuracy_mean,int8_test_accuracy_std,int4_bytes,int4_test_accuracy_mean,int4_test_accuracy_std\n",
    );
    let number = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    let count = |v: Option<usize>| v.map(|b| b.to_string()).unwrap_or_default();
    for r in rows {
        s += &format!(
            "{},{},{},{:.6},{:.6},{},{},{:.2},{:.3},{:.1},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.dataset),
            csv_field(&r.model),
            r.runs,
            r.test_accuracy_mean,
            r.test_accuracy_std,
            number(r.test_auc_mean),
            number(r.test_auc_std),
            r.best_epoch_mean,
            r.train_seconds_mean,
            r.images_per_s_mean,
            r.parameters,
            r.model_bytes,
            count(r.int8_bytes),
            number(r.int8_test_accuracy_mean),
            number(r.int8_test_accuracy_std),
            count(r.int4_bytes),
            number(r.int4_test_accuracy_mean),
            number(r.int4_test_accuracy_std),
        );
    }
    s
}

/// A CSV field, quoted when it holds a comma or quote.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
