//! `mdpn inspect`, `mdpn prune` and the run report on a small model trained on real
//! Fashion-MNIST images; the reports opened in a real headless browser (Debian's `chromium`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{chromium, fails, ok, read_gz, small_fashion};

/// Trains a 6-dendrite model for one epoch on 600 images; returns its run folder and data.
fn small_model(tmp: &Path) -> (PathBuf, PathBuf) {
    let data = small_fashion(tmp, 600, 300);
    let run = tmp.join("run");
    ok(&[
        "train",
        "--dataset",
        data.to_str().unwrap(),
        "--epochs",
        "2",
        "--dendrites",
        "6",
        "--hidden",
        "16",
        "--seed",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]);
    (run, data)
}

/// Runs headless chromium on a page file with `args`; fails the test if the page logs an error.
fn open_page(page: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--window-size=1200,3000"];
    all.extend(args);
    let out = chromium(&all, &format!("file://{}", page.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Console errors of the page itself (scripts, missing resources), not the browser's own
    // complaints about the sandbox it runs in.
    for bad in ["Uncaught", "net::ERR_", "Failed to load resource"] {
        assert!(!stderr.contains(bad), "the page logged an error:\n{stderr}");
    }
    out
}

/// The page's DOM after loading.
fn dom(page: &Path) -> String {
    String::from_utf8(open_page(page, &["--dump-dom"]).stdout).unwrap()
}

/// The variance of a PNG's gray levels: 0 for a blank picture.
fn variance(png: &Path) -> f64 {
    let img = image::open(png)
        .unwrap_or_else(|e| panic!("{}: {e}", png.display()))
        .to_luma8();
    let n = img.pixels().len() as f64;
    let mean = img.pixels().map(|p| p[0] as f64).sum::<f64>() / n;
    img.pixels()
        .map(|p| (p[0] as f64 - mean).powi(2))
        .sum::<f64>()
        / n
}

/// A screenshot of the page: it must show something, not a blank page.
fn screenshot_not_blank(page: &Path, shot: &Path) {
    open_page(page, &[&format!("--screenshot={}", shot.display())]);
    let v = variance(shot);
    assert!(
        v > 100.0,
        "the screenshot of {} is blank (variance {v})",
        page.display()
    );
}

/// The cells of the table in `<section id="ID">` of a DOM, row by row, the header first.
fn table_in(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id} in the page"));
    let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
    section
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<t")
                .filter_map(|piece| {
                    let text = piece.strip_prefix("d>").or(piece.strip_prefix("h>"))?;
                    Some(text[..text.find("</").unwrap_or(text.len())].to_string())
                })
                .collect()
        })
        .collect()
}

/// The rows of a CSV file, the header first.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Every picture of a report: present in the page as inline SVG, written as PNG and not blank.
fn pictures_present(dom: &str, figures: &Path) -> usize {
    let pngs: Vec<PathBuf> = fs::read_dir(figures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(
        dom.matches("<svg").count(),
        pngs.len(),
        "every picture written is in the page"
    );
    for png in &pngs {
        assert!(
            png.with_extension("svg").is_file(),
            "{} has no SVG",
            png.display()
        );
        let v = variance(png);
        assert!(v > 10.0, "{} is blank (variance {v})", png.display());
    }
    pngs.len()
}

#[test]
fn inspect_report_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, data) = small_model(tmp.path());
    let model = run.join("model.safetensors");
    // One real test image as a PNG file.
    let images = read_gz("t10k-images-idx3-ubyte");
    let png = tmp.path().join("boot.png");
    image::GrayImage::from_raw(28, 28, images[16..16 + 784].to_vec())
        .unwrap()
        .save(&png)
        .unwrap();
    let out = tmp.path().join("inspect");
    ok(&[
        "inspect",
        model.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--image",
        png.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);

    // One row per synapse, each in one of the four states, consistent with its Y at both ends.
    let synapses = csv_rows(&out.join("synapses.csv"));
    assert_eq!(
        synapses[0].join(","),
        "channel,dendrite,row,column,w,q,threshold,state,y_low,y_high"
    );
    assert_eq!(synapses.len() - 1, 6 * 25);
    for row in &synapses[1..] {
        let (lo, hi): (f32, f32) = (row[8].parse().unwrap(), row[9].parse().unwrap());
        let expected = if hi - lo >= 0.05 {
            "direct"
        } else if lo - hi >= 0.05 {
            "inverse"
        } else if (lo + hi) / 2.0 >= 0.5 {
            "constant-1"
        } else {
            "constant-0"
        };
        assert_eq!(row[7], expected, "{row:?}");
    }
    // The counts at every tolerance cover every synapse, and fewer stay direct as it grows.
    let counts = csv_rows(&out.join("state_counts.csv"));
    for row in &counts[1..] {
        let sum: usize = row[1..].iter().map(|v| v.parse::<usize>().unwrap()).sum();
        assert_eq!(sum, 150, "{row:?}");
    }
    let direct: Vec<usize> = counts[1..].iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(direct.windows(2).all(|w| w[0] >= w[1]), "{direct:?}");
    let importance = csv_rows(&out.join("importance.csv"));
    assert_eq!(importance.len() - 1, 6, "one row per dendrite");
    let images_csv = csv_rows(&out.join("images.csv"));
    assert_eq!(images_csv.len(), 2, "the one --image");
    let p: f64 = images_csv[1][3..]
        .iter()
        .map(|v| v.parse::<f64>().unwrap())
        .sum();
    assert!((p - 1.0).abs() < 1e-4, "probabilities sum to {p}");

    // The page in a real browser: it loads, shows every picture, and its numbers are the CSV's.
    let page = out.join("report.html");
    let dom = dom(&page);
    let pictures = pictures_present(&dom, &out.join("figures"));
    // States (8), one image (6), importance (1).
    assert_eq!(pictures, 15);
    assert_eq!(table_in(&dom, "state-counts"), counts);
    assert_eq!(table_in(&dom, "importance"), importance);
    let headline = table_in(&dom, "headline");
    let direct_now = &counts[6]; // tolerance 0.05, the default
    assert_eq!(direct_now[0], "0.05");
    assert!(
        headline
            .iter()
            .any(|r| r[0] == "direct synapses" && r[1].starts_with(&format!("{} (", direct_now[1]))),
        "{headline:?}"
    );
    screenshot_not_blank(&page, &tmp.path().join("inspect.png"));

    // Bad input: a clear error, no panic.
    let err = fails(&["inspect", model.to_str().unwrap(), "--tolerance", "2"]);
    assert!(err.contains("--tolerance"), "{err}");
    let err = fails(&["inspect", tmp.path().join("none").to_str().unwrap()]);
    assert!(err.contains("cannot read model file"), "{err}");
}

/// Runs `mdpn prune MODEL --dataset DATA --out OUT --max-drop 3 MORE... --json`; its report.
fn prune(model: &Path, data: &str, out: &Path, more: &[&str]) -> serde_json::Value {
    let (model, out) = (model.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["prune", model, "--dataset", data, "--out", out];
    args.extend(["--max-drop", "3", "--rounds", "1", "--json"]);
    args.extend(more);
    serde_json::from_str(&ok(&args)).unwrap()
}

/// Checks the model file `out` that prune wrote, of the 6-dendrite model, against the measures
/// it reported: its size, its table next to it (CSV header `head`), and the test accuracy that
/// eval finds on `data` (holdout: the whole test set).
fn written_as_reported(out: &Path, measures: &serde_json::Value, head: &str, data: &str) {
    let bytes = fs::metadata(out).unwrap().len();
    assert_eq!(measures["bytes"].as_u64().unwrap(), bytes);
    let stem = out.file_stem().unwrap().to_str().unwrap();
    let table = fs::read_to_string(out.with_file_name(format!("{stem}-prune.csv"))).unwrap();
    assert!(table.starts_with(&format!("{head}dendrites,6,")), "{table}");
    let out = out.to_str().unwrap();
    let eval = ok(&["eval", "--model", out, "--dataset", data, "--json"]);
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(eval["accuracy"], measures["test_accuracy"]);
}

#[test]
fn pruned_model_is_an_ordinary_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, data) = small_model(tmp.path());
    let model = run.join("model.safetensors");
    let pruned = tmp.path().join("pruned.safetensors");
    let data = data.to_str().unwrap();
    let report = prune(&model, data, &pruned, &[]);
    let (before, after) = (&report["before"], &report["after"]);
    assert_eq!(before["dendrites"], 6);
    let kept = after["dendrites"].as_u64().unwrap();
    assert_eq!(
        kept as usize,
        6 - report["removed_dendrites"].as_array().unwrap().len()
    );
    assert!(kept >= 1);
    let drop = before["val_accuracy"].as_f64().unwrap() - after["val_accuracy"].as_f64().unwrap();
    assert!(drop <= 0.03 + 1e-9, "validation accuracy fell by {drop}");
    assert!(after["synapses_kept"].as_u64() <= before["synapses_kept"].as_u64());
    written_as_reported(&pruned, after, "measure,before,after\n", data);
    // predict and inspect read it too.
    let png = tmp.path().join("x.png");
    image::GrayImage::from_pixel(28, 28, image::Luma([90]))
        .save(&png)
        .unwrap();
    ok(&[
        "predict",
        "--model",
        pruned.to_str().unwrap(),
        png.to_str().unwrap(),
    ]);
    let out = tmp.path().join("inspect-pruned");
    ok(&[
        "inspect",
        pruned.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let synapses = csv_rows(&out.join("synapses.csv"));
    assert_eq!(synapses.len() - 1, kept as usize * 25);
    let fixed = synapses[1..].iter().filter(|r| r[4] == "0").count();
    assert_eq!(
        fixed,
        kept as usize * 25 - after["synapses_kept"].as_u64().unwrap() as usize
    );

    for (bad, option) in [
        ("--max-drop=-1", "--max-drop"),
        ("--fine-tune=0", "--fine-tune"),
    ] {
        let (model, out) = (model.to_str().unwrap(), pruned.to_str().unwrap());
        let err = fails(&["prune", model, "--dataset", data, "--out", out, bad]);
        assert!(err.contains(option), "{err}");
    }
}

#[test]
fn run_report_leads_with_the_headline() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, _) = small_model(tmp.path());
    ok(&["report", run.to_str().unwrap()]);
    let page = run.join("report.html");
    let dom = dom(&page);
    let order: Vec<usize> = ["id=\"headline\"", "<svg", "id=\"settings\"", "<h2>Epochs"]
        .iter()
        .map(|s| dom.find(s).unwrap_or_else(|| panic!("no {s} in the page")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // The headline's accuracies are those of metrics.csv: the best validation epoch, the last.
    let metrics = csv_rows(&run.join("metrics.csv"));
    let val: Vec<f64> = metrics[1..].iter().map(|r| r[4].parse().unwrap()).collect();
    let best = (0..val.len()).fold(0, |b, i| if val[i] > val[b] { i } else { b });
    let test = |i: usize| format!("{:.2}%", 100.0 * metrics[i + 1][6].parse::<f64>().unwrap());
    let headline = table_in(&dom, "headline");
    assert_eq!(
        headline[1],
        vec![
            format!("Test accuracy at the best validation epoch ({})", best + 1),
            test(best)
        ]
    );
    assert_eq!(
        headline[2],
        vec![
            format!("Test accuracy after the last epoch ({})", val.len()),
            test(val.len() - 1)
        ]
    );
    let settings = table_in(&dom, "settings");
    assert!(settings.contains(&vec!["model.dendrites".to_string(), "6".to_string()]));
    pictures_present(&dom, &run.join("figures"));
    screenshot_not_blank(&page, &tmp.path().join("run.png"));
}

/// The model of a model file.
fn read_model(path: &Path) -> mdpn::Mdpn {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    mdpn::model_file::load(&bytes, &Default::default())
        .unwrap()
        .model
}

#[test]
fn fine_tuning_keeps_the_pruned_model_pruned() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, data) = small_model(tmp.path());
    let (model, data) = (run.join("model.safetensors"), data.to_str().unwrap());
    let (pruned, tuned) = (
        tmp.path().join("p.safetensors"),
        tmp.path().join("t.safetensors"),
    );
    let mut plain = prune(&model, data, &pruned, &[]);
    assert!(plain["fine_tuned"].is_null());
    let mut report = prune(&model, data, &tuned, &["--fine-tune", "2"]);
    // The same pruning first (the timings aside).
    for r in [&mut plain, &mut report] {
        r["after"]["images_per_s"].take();
    }
    assert_eq!(report["after"], plain["after"]);
    let (p, t) = (read_model(&pruned), read_model(&tuned));
    // The same architecture: removed dendrites stay removed.
    assert_eq!(t.config, p.config);
    assert_eq!(
        report["fine_tuned"]["dendrites"],
        plain["after"]["dendrites"]
    );
    let fixed = mdpn::prune::fixed_synapses(&p);
    assert!(fixed.iter().any(|&f| f), "the test needs fixed synapses");
    for (i, &f) in fixed.iter().enumerate() {
        if f {
            assert_eq!(t.params.w[i], 0.0, "fixed synapse {i} moved");
        } else {
            assert_ne!(t.params.w[i], p.params.w[i], "synapse {i} did not train");
        }
    }
    let after = &report["fine_tuned"];
    assert_eq!(after["synapses_kept"], plain["after"]["synapses_kept"]);
    // An ordinary model, which eval reads.
    let head = "measure,before,after,after fine-tune\n";
    written_as_reported(&tuned, after, head, data);

    // `train --init` is the same training: the same split, seed and settings give the same model.
    let again = tmp.path().join("again");
    ok(&[
        "train",
        "--init",
        pruned.to_str().unwrap(),
        "--dataset",
        data,
        "--epochs",
        "2",
        "--out",
        again.to_str().unwrap(),
    ]);
    let best = read_model(&again.join("model.safetensors"));
    assert_eq!(best.params, t.params);
    // The run records the file it started from; resuming refuses a file that changed since.
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(again.join("config.json")).unwrap()).unwrap();
    let crc = mdpn::model_file::tensors_crc32(&fs::read(&pruned).unwrap()).unwrap();
    assert_eq!(config["init"]["tensors_crc32"], crc.as_str());
    let more = [
        "train",
        "--resume",
        again.to_str().unwrap(),
        "--epochs",
        "3",
    ];
    ok(&more);
    let last = read_model(&again.join("last.safetensors"));
    assert!(fixed
        .iter()
        .zip(&last.params.w)
        .all(|(&f, &w)| !f || w == 0.0));
    fs::copy(&tuned, &pruned).unwrap();
    let err = fails(&[
        "train",
        "--resume",
        again.to_str().unwrap(),
        "--epochs",
        "4",
    ]);
    assert!(err.contains("init.tensors_crc32: run"), "{err}");
}

#[test]
fn train_init_refuses_a_model_of_other_images_or_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 100, 50);
    let model_of = |image_size: usize, classes: usize| {
        let config = mdpn::Config {
            image_size,
            classes,
            dendrites: 2,
            hidden: 4,
            ..mdpn::Config::default()
        };
        let file = mdpn::model_file::ModelFile {
            model: mdpn::Mdpn::new(config, 0).unwrap(),
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            dataset: None,
            program: "test".into(),
        };
        let path = tmp
            .path()
            .join(format!("m{image_size}-{classes}.safetensors"));
        fs::write(&path, mdpn::model_file::save(&file).unwrap()).unwrap();
        path
    };
    let train = |model: &Path| {
        fails(&[
            "train",
            "--init",
            model.to_str().unwrap(),
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            tmp.path().join("run").to_str().unwrap(),
        ])
    };
    let err = train(&model_of(12, 10));
    assert!(err.contains("the model takes 1x12x12 images but"), "{err}");
    let err = train(&model_of(28, 4));
    assert!(
        err.contains("it predicts 4 classes but") && err.contains("has 10 classes"),
        "{err}"
    );
    // The architecture is the file's: options that would change it are refused.
    let err = fails(&[
        "train",
        "--init",
        model_of(28, 10).to_str().unwrap(),
        "--dendrites",
        "5",
    ]);
    assert!(err.contains("--dendrites"), "{err}");
    assert!(!tmp.path().join("run").exists());
}
