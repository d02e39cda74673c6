//! `mdpn study` and `mdpn report` end to end on two small IDX data sets that the test writes:
//! tables, pictures and report, and an interrupted study finishing only its missing runs.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    mdpn, medmnist_npz, metrics_without_time, ok, program, start_paused, temporaries,
};

/// An IDX folder of `side`×`side` images: class `c` is a bright square in one of the corners
/// (cycling), on noise. Pseudo-random, the same for the same `seed`.
fn write_idx_set(
    dir: &Path,
    name: &str,
    classes: u8,
    side: u32,
    train: u32,
    test: u32,
    seed: u32,
) -> PathBuf {
    let folder = dir.join(name);
    fs::create_dir_all(&folder).unwrap();
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let mut images = vec![0, 0, 8, 3];
        images.extend(n.to_be_bytes());
        images.extend(side.to_be_bytes());
        images.extend(side.to_be_bytes());
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(n.to_be_bytes());
        for i in 0..n {
            let label = (i % classes as u32) as u8;
            let (qy, qx) = ((label / 2) % 2, label % 2);
            let bright = label >= 4;
            for y in 0..side {
                for x in 0..side {
                    let inside = (y * 2 / side) as u8 == qy && (x * 2 / side) as u8 == qx;
                    let base: u32 = if inside {
                        if bright {
                            250
                        } else {
                            170
                        }
                    } else {
                        20
                    };
                    images.push((base + next() % 50).min(255) as u8);
                }
            }
            labels.push(label);
        }
        fs::write(folder.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        fs::write(folder.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    folder
}

fn assert_png(path: &Path) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        img.width() >= 600 && img.height() >= 400,
        "{}",
        path.display()
    );
    // Not a blank canvas: some pixels are dark (text, axes) and some coloured.
    let rgb = img.to_rgb8();
    let dark = rgb.pixels().filter(|p| p.0.iter().all(|&v| v < 80)).count();
    let coloured = rgb
        .pixels()
        .filter(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap() > 60)
        .count();
    assert!(
        dark > 200 && coloured > 200,
        "{} looks empty",
        path.display()
    );
}

fn assert_svg(path: &Path, contains: &str) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.trim_start().starts_with("<svg"), "{}", path.display());
    assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
    assert!(
        text.contains(contains),
        "{} lacks {contains}",
        path.display()
    );
}

fn result_files(study: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![study.join("runs")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() == "result.json" {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn study_writes_tables_pictures_and_report_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write_idx_set(tmp.path(), "corners", 4, 16, 160, 80, 1);
    let b = write_idx_set(tmp.path(), "shades", 6, 16, 180, 90, 2);
    let sets = format!("{},{}", a.display(), b.display());
    let study = tmp.path().join("study");
    let out = study.to_str().unwrap();
    let args = [
        "study",
        "--datasets",
        &sets,
        "--models",
        "mdpn,mlp,cnn",
        "--ablate",
        "synapse=sigmoid",
        "--runs",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--lr",
        "0.005",
        "--out",
        out,
    ];
    let log = ok(&args);
    let models = ["mdpn", "mdpn[synapse=sigmoid]", "mlp", "cnn"];
    assert_eq!(result_files(&study).len(), 2 * 4 * 2, "{log}");

    // Tables: one row per (data set, model), over both seeds.
    let md = fs::read_to_string(study.join("summary.md")).unwrap();
    let csv = fs::read_to_string(study.join("summary.csv")).unwrap();
    let rows = json(&study.join("summary.json"));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8, "{md}");
    assert_eq!(csv.lines().count(), 9, "{csv}");
    for set in ["corners", "shades"] {
        for model in models {
            let row = rows
                .iter()
                .find(|r| r["dataset"] == set && r["model"] == model)
                .unwrap_or_else(|| panic!("no row {set} {model}:\n{md}"));
            assert_eq!(row["runs"], 2);
            let acc = row["test_accuracy_mean"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc));
            assert!(row["parameters"].as_u64().unwrap() > 0);
            assert_eq!(
                row["model_bytes"].as_u64(),
                row["parameters"].as_u64().map(|p| 4 * p)
            );
            assert!(md.contains(&format!("| {set} | {model} | 2 | ")), "{md}");
        }
    }
    // The easy set is learnt, by MDPN and the baselines alike.
    for model in ["mdpn", "mlp", "cnn"] {
        let row = rows
            .iter()
            .find(|r| r["dataset"] == "corners" && r["model"] == model)
            .unwrap();
        assert!(
            row["test_accuracy_mean"].as_f64().unwrap() > 0.6,
            "{model}: {md}"
        );
    }
    // Every run has its int8 model, the baselines' quantized as MDPN's soma and axon, in
    // about a quarter of the f32 bytes.
    for row in rows {
        let (f32_bytes, int8) = (row["model_bytes"].as_u64().unwrap(), &row["int8_bytes"]);
        let int8 = int8
            .as_u64()
            .unwrap_or_else(|| panic!("no int8 model: {row}"));
        assert!(int8 < f32_bytes / 2, "{row}");
        assert!((0.0..=1.0).contains(&row["int8_test_accuracy_mean"].as_f64().unwrap()));
    }
    assert!(md.contains("Int8 test accuracy"), "{md}");
    // `mdpn quantize` and `mdpn eval` take a baseline run's model as they take MDPN's, and
    // find the accuracy the study found for its int8 model.
    let run = study.join("runs/corners/cnn/seed0");
    let int8 = tmp.path().join("cnn-int8.safetensors");
    let set = a.to_str().unwrap();
    let model = run.join("model.safetensors");
    ok(&[
        "quantize",
        model.to_str().unwrap(),
        "--dataset",
        set,
        "-o",
        int8.to_str().unwrap(),
    ]);
    let result = json(&run.join("result.json"));
    for (file, key) in [(&model, "test_accuracy"), (&int8, "int8")] {
        let eval = ok(&[
            "eval",
            "--model",
            file.to_str().unwrap(),
            "--dataset",
            set,
            "--json",
        ]);
        let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
        let want = match key {
            "int8" => &result["int8"]["test_accuracy"],
            _ => &result[key],
        };
        assert_eq!(&eval["accuracy"], want, "{}", file.display());
    }

    // The MLP is about MDPN's size; LeNet smaller.
    let params = |m: &str| {
        rows.iter()
            .find(|r| r["dataset"] == "corners" && r["model"] == m)
            .unwrap()["parameters"]
            .as_f64()
            .unwrap()
    };
    assert!((params("mlp") / params("mdpn") - 1.0).abs() < 0.05);

    // Pictures, PNG and SVG.
    let figures = study.join("figures");
    for set in ["corners", "shades"] {
        for stem in ["accuracy-vs-size", "per-class"] {
            assert_png(&figures.join(format!("{set}-{stem}.png")));
            assert_svg(&figures.join(format!("{set}-{stem}.svg")), "mlp");
        }
        for folder in ["mdpn", "mdpn_synapse-sigmoid", "mlp", "cnn"] {
            assert_png(&figures.join(format!("{set}-{folder}-curves.png")));
            assert_svg(&figures.join(format!("{set}-{folder}-curves.svg")), "epoch");
            assert_png(&figures.join(format!("{set}-{folder}-confusion.png")));
            assert_svg(
                &figures.join(format!("{set}-{folder}-confusion.svg")),
                "predicted",
            );
        }
    }
    // The report holds the tables and the pictures inline, nothing from outside.
    let html = fs::read_to_string(study.join("report.html")).unwrap();
    assert!(html.contains("<table>") && html.matches("<svg").count() >= 2 * (2 + 4 * 2));
    for name in [
        "corners",
        "shades",
        "mdpn[synapse=sigmoid]",
        "mlp",
        "cnn",
        "± ",
    ] {
        assert!(html.contains(name), "report lacks {name}");
    }
    assert!(!html.contains("src=\"http") && !html.contains("<img src=\"figures"));

    // A second run of the same study trains nothing.
    let again = ok(&args);
    assert_eq!(
        again.matches("finished before, skipped").count(),
        16,
        "{again}"
    );
    assert!(!again.contains("epoch 1/"), "{again}");

    // The same study under other settings is refused, not mixed in.
    let mut other = args.to_vec();
    let epochs = other.iter().position(|&a| a == "--epochs").unwrap() + 1;
    other[epochs] = "3";
    let err = mdpn(&other);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("other settings"));

    // `mdpn report` on one run folder.
    let run = study.join("runs/corners/cnn/seed1");
    ok(&["report", run.to_str().unwrap()]);
    let page = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("Test accuracy (%)"));
    assert_png(&run.join("figures/run-confusion.png"));
}

#[test]
fn interrupted_study_finishes_only_the_missing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 200, 80, 3);
    let study = tmp.path().join("study");
    let args = [
        "study".to_string(),
        "--datasets".into(),
        set.display().to_string(),
        "--models".into(),
        "mlp,cnn".into(),
        "--runs".into(),
        "4".into(),
        "--epochs".into(),
        "3".into(),
        "--batch-size".into(),
        "16".into(),
        "--out".into(),
        study.display().to_string(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdpn"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the first run has finished.
    let start = Instant::now();
    while result_files(&study).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no run finished"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = result_files(&study);
    assert!(!finished.is_empty() && finished.len() < 8, "{finished:?}");
    assert!(!study.join("report.html").exists());
    let before: Vec<(PathBuf, String)> = finished
        .iter()
        .map(|p| (p.clone(), fs::read_to_string(p).unwrap()))
        .collect();

    let out = Command::new(env!("CARGO_BIN_EXE_mdpn"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        log.matches("finished before, skipped").count(),
        finished.len(),
        "{log}"
    );
    assert_eq!(
        log.matches("epoch 3/3").count(),
        8 - finished.len(),
        "{log}"
    );
    assert_eq!(result_files(&study).len(), 8);
    for (path, text) in before {
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            text,
            "{} was redone",
            path.display()
        );
    }
    assert!(study.join("report.html").exists());
    let rows = json(&study.join("summary.json"));
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows.as_array().unwrap().iter().all(|r| r["runs"] == 4));
}

#[test]
fn bad_ablations_and_folders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 20, 10, 3);
    let out = tmp.path().join("s");
    for (ablate, says) in [
        ("colour=red", "unknown setting `colour`"),
        ("window=five", "`five` is not a valid value"),
        ("synapse=tanh", "unknown synapse function `tanh`"),
        ("integration", "expected KEY=V1,V2"),
        ("hidden=wide", "`wide` is not a valid value"),
    ] {
        let r = mdpn(&[
            "study",
            "--datasets",
            set.to_str().unwrap(),
            "--ablate",
            ablate,
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && err.contains(says), "{ablate}: {err}");
        assert!(!err.contains("panicked"));
    }
    let r = mdpn(&[
        "study",
        "--datasets",
        set.to_str().unwrap(),
        "--models",
        "mdpn",
        "--baseline-params",
        "5000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("--models names none"),
        "{err}"
    );
    let r = mdpn(&["report", tmp.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("neither a study folder"),
        "{err}"
    );
}

/// Accuracy against size: MDPN's soma width swept, the baselines at a given parameter count,
/// and every run's best model quantized to int8 and int4 as `mdpn quantize` does, its test
/// accuracy the one `mdpn eval` gives that file.
#[test]
fn size_studies_sweep_the_soma_size_the_baselines_and_add_quantized_models() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 160, 80, 4);
    let study = tmp.path().join("study");
    ok(&[
        "study",
        "--datasets",
        set.to_str().unwrap(),
        "--models",
        "mdpn,mlp,cnn",
        "--ablate",
        "hidden=8",
        "--baseline-params",
        "6000",
        "--runs",
        "1",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--lr",
        "0.005",
        "--out",
        study.to_str().unwrap(),
    ]);
    let rows = json(&study.join("summary.json"));
    let row = |model: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == model)
            .unwrap_or_else(|| panic!("no row {model}: {rows}"))
            .clone()
    };
    let params = |model: &str| row(model)["parameters"].as_u64().unwrap();
    let runs = study.join("runs/corners");
    let config = json(&runs.join("mdpn_hidden-8/seed0/config.json"));
    assert_eq!(config["settings"]["network"]["hidden"], 8);
    assert!(params("mdpn[hidden=8]") < params("mdpn"));
    assert!((5_700..=6_000).contains(&params("mlp[params=6000]")));
    let cnn = params("cnn[params=6000]");
    assert!(cnn.abs_diff(6_000) < 600, "{cnn}");
    assert_ne!(cnn, params("cnn"));

    for (model, folder) in [("mdpn", "mdpn"), ("mdpn[hidden=8]", "mdpn_hidden-8")] {
        let run = runs.join(folder).join("seed0");
        let int8 = json(&run.join("result.json"))["int8"].clone();
        let file = run.join("model-int8.safetensors");
        assert_eq!(
            int8["bytes"].as_u64(),
            Some(fs::metadata(&file).unwrap().len()),
            "{int8}"
        );
        // Int8 weights are a quarter of f32 ones, but the integer path adds a fixed 4 KB table
        // and two i32 per synapse, which outweigh them in a model this small: the file is at
        // most that much larger than the f32 one (50 dendrites of 25 synapses).
        let fixed = 4_098 + 8 * 50 * 25 + 1_024;
        assert!(
            int8["bytes"].as_u64().unwrap() < row(model)["model_bytes"].as_u64().unwrap() + fixed
        );
        let eval = |model: &Path| -> f64 {
            let out = ok(&[
                "eval",
                "--model",
                model.to_str().unwrap(),
                "--dataset",
                set.to_str().unwrap(),
                "--json",
            ]);
            serde_json::from_str::<serde_json::Value>(&out).unwrap()["accuracy"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(int8["test_accuracy"].as_f64(), Some(eval(&file)));
        let quantized = tmp.path().join(format!("{folder}-int8.safetensors"));
        ok(&[
            "quantize",
            run.join("model.safetensors").to_str().unwrap(),
            "--dataset",
            set.to_str().unwrap(),
            "--out",
            quantized.to_str().unwrap(),
        ]);
        assert_eq!(eval(&quantized), eval(&file));
        assert_eq!(
            row(model)["int8_test_accuracy_mean"].as_f64(),
            int8["test_accuracy"].as_f64()
        );
    }
    // The baselines' int8 and int4 models are in the tables too.
    let md = fs::read_to_string(study.join("summary.md")).unwrap();
    assert!(
        md.contains(
            "| Size (int8) | Int8 test accuracy (%) | Size (int4) | Int4 test accuracy (%) |"
        ),
        "{md}"
    );
    for model in ["mlp", "cnn", "mdpn", "mdpn[hidden=8]"] {
        let r = row(model);
        let (int8, int4) = (
            r["int8_bytes"].as_u64().unwrap(),
            r["int4_bytes"].as_u64().unwrap(),
        );
        assert!(int4 < int8, "{model}: {r}");
        assert!(r["int4_test_accuracy_mean"].as_f64().is_some(), "{r}");
    }
    assert_svg(
        &study.join("figures/corners-accuracy-vs-size.svg"),
        "int4 triangle",
    );
}

#[test]
fn without_a_font_the_tables_and_report_are_still_written() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 40, 20, 5);
    let study = tmp.path().join("study");
    let out = Command::new(env!("CARGO_BIN_EXE_mdpn"))
        .args([
            "study",
            "--datasets",
            set.to_str().unwrap(),
            "--models",
            "mlp",
            "--runs",
            "1",
            "--epochs",
            "1",
            "--out",
            study.to_str().unwrap(),
        ])
        .env("MDPN_FONT", tmp.path().join("no-such-font.ttf"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("pictures left out") && stderr.contains("fonts-dejavu-core"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert!(study.join("summary.md").exists());
    let html = fs::read_to_string(study.join("report.html")).unwrap();
    assert!(html.contains("Pictures left out") && !html.contains("<svg"));
    assert!(html.contains("<td>mlp</td>"));
    assert!(!study.join("figures").exists());
}

/// `mdpn study` with `MDPN_TEST_PAUSE=point`, killed (SIGKILL) once it pauses there.
fn kill_study_at(args: &[String], point: &str) {
    let mut study = program();
    study.args(args);
    let (mut child, _) = start_paused(study, point, point);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Every run folder of a study, relative to its `runs/`.
fn run_dirs(study: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = result_files(study)
        .iter()
        .map(|p| {
            p.parent()
                .unwrap()
                .strip_prefix(study.join("runs"))
                .unwrap()
                .to_path_buf()
        })
        .collect();
    dirs.sort();
    dirs
}

/// A run's result without its timings.
fn result_without_timing(run: &Path) -> serde_json::Value {
    let mut r = json(&run.join("result.json"));
    let map = r.as_object_mut().unwrap();
    map.remove("train_seconds").unwrap();
    map.remove("images_per_s").unwrap();
    r
}

#[test]
fn killed_study_resumes_to_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 120, 60, 7);
    let args = |out: &Path| small_study(&set, out, 2, &[]);
    let reference = tmp.path().join("reference");
    ok(&args(&reference)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());

    // Runs in order: mdpn seed 0 and 1, then mlp seed 0 and 1. Each attempt is killed at one
    // moment and the next starts where it stopped.
    let study = tmp.path().join("killed");
    let args = args(&study);
    let mdpn0 = study.join("runs/corners/mdpn/seed0");
    // Mid-epoch 2 of the first run: its checkpoint holds epoch 1.
    kill_study_at(&args, "mid-epoch@2");
    assert_eq!(epochs_in(&mdpn0), 1);
    assert_eq!(metrics_without_time(&mdpn0).len(), 2, "header and epoch 1");
    // Resumed, killed while the checkpoint of epoch 2 is written, before its rename.
    kill_study_at(&args, "checkpoint@2");
    assert_eq!(epochs_in(&mdpn0), 1);
    // Between runs: the first has finished, the second not begun.
    kill_study_at(&args, "run@1");
    assert_eq!(result_files(&study).len(), 1);
    assert!(!study.join("runs/corners/mdpn/seed1").exists());
    // The second run's last checkpoint being written.
    kill_study_at(&args, "checkpoint@3");
    assert_eq!(epochs_in(&study.join("runs/corners/mdpn/seed1")), 2);
    // The first baseline run before its first checkpoint, then in its last epoch.
    let mlp0 = study.join("runs/corners/mlp/seed0");
    kill_study_at(&args, "mid-epoch@1");
    assert_eq!(epochs_in(&mlp0), 0);
    kill_study_at(&args, "mid-epoch@3");
    assert_eq!(epochs_in(&mlp0), 2);
    assert_eq!(result_files(&study).len(), 2);

    let log = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(log.matches("finished before, skipped").count(), 2, "{log}");
    assert!(log.contains("mlp seed 0: resuming after epoch 2"), "{log}");
    assert!(!log.contains("mlp seed 0: epoch 1/3"), "{log}");
    assert!(log.contains("mlp seed 1: epoch 1/3"), "{log}");

    // The same runs, metrics, results, MDPN model files and summary as the uninterrupted
    // study, every run with its three epochs.
    let runs = run_dirs(&reference);
    assert_eq!(runs.len(), 4);
    for run in &runs {
        assert_eq!(metrics_without_time(&study.join("runs").join(run)).len(), 4);
    }
    assert_same_study(&study, &reference);
    assert!(study.join("report.html").exists());
}

/// Epochs in a run folder's checkpoint (0 without one), loaded into the network its
/// `config.json` describes: the checkpoint is whole and of that network.
fn epochs_in(run: &Path) -> usize {
    let Ok(bytes) = fs::read(run.join("checkpoint.safetensors")) else {
        return 0;
    };
    let network = json(&run.join("config.json"))["settings"]["network"].clone();
    match json(&run.join("config.json"))["settings"]["model"]
        .as_str()
        .unwrap()
    {
        "mdpn" => mdpn::checkpoint::load(&bytes).unwrap().epochs_done,
        "mlp" => {
            let config: mdpn::baselines::MlpConfig = serde_json::from_value(network).unwrap();
            let model = mdpn::baselines::Mlp::new(config, 0).unwrap();
            mdpn::checkpoint::load_into(&bytes, model)
                .unwrap()
                .epochs_done
        }
        other => panic!("no checkpoint reader for {other}"),
    }
}

#[test]
fn medmnist_study_reports_auc_and_studies_multi_label_sets_with_mdpn_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::write(
        root.join("pathmnist.npz"),
        medmnist_npz(3, 28, [36, 18, 27], 1, |i| vec![(i % 9) as u8]),
    )
    .unwrap();
    fs::write(
        root.join("chestmnist.npz"),
        medmnist_npz(1, 28, [32, 16, 24], 14, |i| {
            (0..14).map(|l| ((i + l) % 3 == 0) as u8).collect()
        }),
    )
    .unwrap();
    let study = tmp.path().join("study");
    let run = |models: &str| {
        mdpn(&[
            "study",
            "--datasets",
            "pathmnist,chestmnist",
            "--data-dir",
            root.to_str().unwrap(),
            "--models",
            models,
            "--runs",
            "2",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--out",
            study.to_str().unwrap(),
        ])
    };

    // Baselines predict one class per image: refused for ChestMNIST before anything is written.
    let refused = run("mdpn,mlp");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.contains("chestmnist is multi-label") && err.contains("--models mdpn"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !study.exists(), "{err}");

    let out = run("mdpn");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("test AUC"), "{log}");
    // MedMNIST's official splits: its validation images validate.
    let config = json(&study.join("runs/chestmnist/mdpn/seed0/config.json"));
    assert_eq!(config["settings"]["val_fraction"], serde_json::Value::Null);
    assert_eq!(config["settings"]["network"]["task"], "multi-label");
    let metrics = fs::read_to_string(study.join("runs/chestmnist/mdpn/seed0/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");

    let rows = json(&study.join("summary.json"));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["runs"], 2);
        let auc = row["test_auc_mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{row}");
        assert!(row["test_auc_std"].as_f64().unwrap() >= 0.0);
        // ChestMNIST's accuracy is per label.
        let acc = row["test_accuracy_mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{row}");
    }
    let md = fs::read_to_string(study.join("summary.md")).unwrap();
    assert!(md.contains("| Test AUC |"), "{md}");
    let chest = md
        .lines()
        .find(|l| l.starts_with("| chestmnist |"))
        .unwrap();
    // Accuracy, AUC and the int8 and int4 models' accuracy.
    assert!(chest.matches(" ± ").count() == 4, "{chest}");
    let csv = fs::read_to_string(study.join("summary.csv")).unwrap();
    assert!(csv.starts_with(
        "dataset,model,runs,test_accuracy_mean,test_accuracy_std,test_auc_mean,test_auc_std,"
    ));
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let auc: f64 = fields[5].parse().unwrap_or_else(|_| panic!("{line}"));
        assert!((0.0..=1.0).contains(&auc), "{line}");
    }
    // Per-label accuracy and curves are pictured; the report names both sets.
    let html = fs::read_to_string(study.join("report.html")).unwrap();
    assert!(html.contains("chestmnist") && html.contains("Test AUC"));
    assert_png(&study.join("figures/chestmnist-per-class.png"));
    assert_png(&study.join("figures/chestmnist-mdpn-curves.png"));
    assert_png(&study.join("figures/pathmnist-mdpn-confusion.png"));
}

#[test]
fn ctrl_c_stops_a_study_after_the_epoch_and_it_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 60, 30, 9);
    let study = tmp.path().join("study");
    let args = [
        "study",
        "--datasets",
        set.to_str().unwrap(),
        "--models",
        "mlp",
        "--runs",
        "2",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--out",
        study.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdpn"))
        .args(args)
        .env("MDPN_TEST_PAUSE", "mid-epoch@2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    assert!(lines.any(|l| l == "MDPN_TEST_PAUSE mid-epoch@2"));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let rest: Vec<String> = lines.collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("study stopped") && l.contains("run the same command again")),
        "{rest:?}"
    );
    let run = study.join("runs/corners/mlp/seed0");
    assert_eq!(
        epochs_in(&run),
        2,
        "the interrupted epoch was finished and saved"
    );
    assert!(!run.join("result.json").exists());

    let log = ok(&args);
    assert!(log.contains("mlp seed 0: resuming after epoch 2"), "{log}");
    assert_eq!(result_files(&study).len(), 2);
    assert_eq!(metrics_without_time(&run).len(), 4);
}

/// A study killed while writing a run's first checkpoint (before its rename) starts that run
/// over, and the temporary file the kill left goes.
#[test]
fn a_run_cut_in_its_first_checkpoint_write_starts_over_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 40, 20, 7);
    let study = tmp.path().join("study");
    let args: Vec<String> = [
        "study",
        "--datasets",
        set.to_str().unwrap(),
        "--models",
        "mlp",
        "--runs",
        "1",
        "--epochs",
        "1",
        "--out",
        study.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    kill_study_at(&args, "checkpoint@1");
    let run = study.join("runs/corners/mlp/seed0");
    assert!(!run.join("checkpoint.safetensors").exists());
    let left = temporaries(&run);
    assert!(
        left.len() == 1 && left[0].starts_with(".checkpoint.safetensors."),
        "{left:?}"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&args);
    assert_eq!(epochs_in(&run), 1);
    assert!(run.join("result.json").exists());
    assert_eq!(temporaries(&run), Vec::<String>::new());
}

/// The arguments of a small study of `set` into `out` (2 models × 2 seeds, 3 epochs) on
/// `threads` threads.
fn small_study(set: &Path, out: &Path, threads: usize, extra: &[&str]) -> Vec<String> {
    let threads = threads.to_string();
    let mut args: Vec<String> = [
        "--threads",
        &threads,
        "study",
        "--datasets",
        set.to_str().unwrap(),
        "--models",
        "mdpn,mlp",
        "--runs",
        "2",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--lr",
        "0.005",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Two studies have the same runs, metrics, results, MDPN model files and summary, timings
/// aside.
fn assert_same_study(study: &Path, reference: &Path) {
    let runs = run_dirs(reference);
    assert_eq!(run_dirs(study), runs);
    for run in &runs {
        let (a, b) = (
            reference.join("runs").join(run),
            study.join("runs").join(run),
        );
        assert_eq!(
            metrics_without_time(&b),
            metrics_without_time(&a),
            "{}",
            run.display()
        );
        assert_eq!(
            result_without_timing(&b),
            result_without_timing(&a),
            "{}",
            run.display()
        );
        if run.starts_with("corners/mdpn") {
            assert!(
                fs::read(b.join("model.safetensors")).unwrap()
                    == fs::read(a.join("model.safetensors")).unwrap(),
                "{}: model files differ",
                run.display()
            );
        }
        assert!(
            !b.join("claim.json").exists(),
            "{}: claim left",
            run.display()
        );
    }
    // The summary table without its timing columns.
    let table = |s: &Path| -> Vec<String> {
        let text = fs::read_to_string(s.join("summary.csv")).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let timing = |i: usize| ["train_seconds_mean", "images_per_s_mean"].contains(&header[i]);
        text.lines()
            .map(|l| {
                let cells = l.split(',').enumerate();
                let kept: Vec<&str> = cells.filter(|(i, _)| !timing(*i)).map(|(_, c)| c).collect();
                assert_eq!(kept.len(), header.len() - 2, "{l}");
                kept.join(",")
            })
            .collect()
    };
    assert_eq!(table(study), table(reference));
}

#[test]
fn three_workers_share_a_study_and_end_as_one_process_would() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 120, 60, 7);
    let reference = tmp.path().join("reference");
    ok(&small_study(&set, &reference, 1, &[])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());

    let study = tmp.path().join("shared");
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = program();
            cmd.args(small_study(&set, &study, 1, &["--worker"]))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let logs: Vec<String> = workers
        .into_iter()
        .map(|w| {
            let out = w.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "a worker failed:\n{stderr}");
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    // Every run was trained by exactly one worker: its first epoch appears in one log only.
    for label in ["mdpn seed 0", "mdpn seed 1", "mlp seed 0", "mlp seed 1"] {
        let trained = logs
            .iter()
            .filter(|l| l.contains(&format!("{label}: epoch 1/3")))
            .count();
        assert_eq!(trained, 1, "{label}:\n{}", logs.join("\n---\n"));
    }
    assert!(study.join("summary.json").exists() && study.join("report.html").exists());
    assert_same_study(&study, &reference);
}

#[test]
fn a_killed_workers_run_is_taken_over_by_another() {
    let tmp = tempfile::tempdir().unwrap();
    let set = write_idx_set(tmp.path(), "corners", 4, 16, 120, 60, 7);
    let reference = tmp.path().join("reference");
    ok(&small_study(&set, &reference, 1, &[])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());

    // A worker killed in the second epoch of its first run leaves its claim behind.
    let study = tmp.path().join("shared");
    kill_study_at(&small_study(&set, &study, 1, &["--worker"]), "mid-epoch@2");
    let first = study.join("runs/corners/mdpn/seed0");
    assert!(first.join("claim.json").exists());
    assert_eq!(epochs_in(&first), 1);
    // Another worker on this machine sees that the claim's process is gone, takes the run
    // over from its checkpoint, and finishes the study.
    let log = ok(&small_study(&set, &study, 1, &["--worker"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(log.contains("mdpn seed 0: resuming after epoch 1"), "{log}");
    assert_same_study(&study, &reference);

    // A live worker's claim is respected: a run held by this test process is skipped, and the
    // worker leaves the summary to the last one.
    let other = tmp.path().join("held");
    let held = other.join("runs/corners/mlp/seed1");
    fs::create_dir_all(&held).unwrap();
    let me = format!(
        r#"{{"host":"{}","pid":{}}}"#,
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        std::process::id()
    );
    fs::write(held.join("claim.json"), me).unwrap();
    let log = ok(&small_study(&set, &other, 1, &["--worker"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(log.contains("mlp seed 1: held by worker"), "{log}");
    assert!(
        log.contains("1 of 4 runs are still with other workers"),
        "{log}"
    );
    assert!(!other.join("summary.json").exists());
}
