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

#[test]
fn pruned_model_is_an_ordinary_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, data) = small_model(tmp.path());
    let model = run.join("model.safetensors");
    let pruned = tmp.path().join("pruned.safetensors");
    let data = data.to_str().unwrap();
    let report: serde_json::Value = serde_json::from_str(&ok(&[
        "prune",
        model.to_str().unwrap(),
        "--dataset",
        data,
        "--out",
        pruned.to_str().unwrap(),
        "--max-drop",
        "3",
        "--rounds",
        "1",
        "--json",
    ]))
    .unwrap();
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
    assert_eq!(
        after["bytes"].as_u64().unwrap(),
        fs::metadata(&pruned).unwrap().len()
    );
    // The table is written next to the model.
    let table = fs::read_to_string(tmp.path().join("pruned-prune.csv")).unwrap();
    assert!(
        table.starts_with("measure,before,after\ndendrites,6,"),
        "{table}"
    );

    // eval reads it and finds the test accuracy prune reported (holdout: the whole test set).
    let eval: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        "--model",
        pruned.to_str().unwrap(),
        "--dataset",
        data,
        "--json",
    ]))
    .unwrap();
    assert_eq!(eval["accuracy"], after["test_accuracy"]);
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

    let err = fails(&[
        "prune",
        model.to_str().unwrap(),
        "--dataset",
        data,
        "--out",
        pruned.to_str().unwrap(),
        "--max-drop=-1",
    ]);
    assert!(err.contains("--max-drop"), "{err}");
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
