//! The `mdpn` program end to end, on real Fashion-MNIST files (Debian's `dataset-fashion-mnist`),
//! real PNG files and the PyTorch reference fixtures.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::common::{fails, metrics_without_time, ok, read_gz, small_fashion};

#[test]
fn train_eval_predict_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 1200, 300);
    let data = data.to_str().unwrap();
    let run = |name: &str, extra: &[&str]| -> PathBuf {
        let out = tmp.path().join(name);
        let mut args = vec![
            "train",
            "--dataset",
            data,
            "--epochs",
            "2",
            "--dendrites",
            "8",
            "--hidden",
            "32",
        ];
        args.extend(["--seed", "3", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        ok(&args);
        out
    };
    let a = run("a", &[]);
    for f in [
        "metrics.csv",
        "config.json",
        "model.safetensors",
        "last.safetensors",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let metrics = metrics_without_time(&a);
    assert_eq!(metrics.len(), 3, "header and two epochs: {metrics:?}");
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(a.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["dendrites"], 8);
    assert_eq!(config["train_images"], 1080);
    // Same seed, same threads: the same metrics and the same model, byte for byte.
    let b = run("b", &[]);
    assert_eq!(metrics_without_time(&b), metrics);
    let same = fs::read(a.join("last.safetensors")).unwrap()
        == fs::read(b.join("last.safetensors")).unwrap();
    assert!(
        same,
        "two runs with the same seed wrote different model files"
    );
    // A finished run is not overwritten by accident.
    let again = fails(&[
        "train",
        "--dataset",
        data,
        "--epochs",
        "1",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(again.contains("already holds a run"), "{again}");

    let model = a.join("model.safetensors");
    let model = model.to_str().unwrap();
    let eval: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        "--model",
        model,
        "--dataset",
        data,
        "--json",
    ]))
    .unwrap();
    let acc = eval["accuracy"].as_f64().unwrap();
    assert!(
        (0.3..=1.0).contains(&acc),
        "accuracy {acc} after two epochs on 1,080 images"
    );
    let confusion: Vec<Vec<u64>> = serde_json::from_value(eval["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 300);
    assert_eq!(eval["per_class"].as_array().unwrap().len(), 10);
    let table = ok(&["eval", "--model", model, "--dataset", data]);
    assert!(
        table.contains("accuracy") && table.contains("confusion matrix"),
        "{table}"
    );

    // A real PNG of a test image, and the same image at another size.
    let images = read_gz("t10k-images-idx3-ubyte");
    let pixels = images[16..16 + 784].to_vec();
    let png = tmp.path().join("boot.png");
    image::GrayImage::from_raw(28, 28, pixels.clone())
        .unwrap()
        .save(&png)
        .unwrap();
    let big = tmp.path().join("boot-big.jpg");
    image::imageops::resize(
        &image::GrayImage::from_raw(28, 28, pixels).unwrap(),
        56,
        40,
        image::imageops::FilterType::Triangle,
    )
    .save(&big)
    .unwrap();
    let out = ok(&[
        "predict",
        "--model",
        model,
        "--json",
        png.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let probs: Vec<f64> = serde_json::from_value(lines[0]["probabilities"].clone()).unwrap();
    assert_eq!(probs.len(), 10);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    assert!(lines[0]["resized_from"].is_null());
    assert_eq!(lines[1]["resized_from"], serde_json::json!([56, 40]));
    let text = ok(&[
        "predict",
        "--model",
        model,
        png.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    assert!(text.contains("resized from 56x40 to 28x28"), "{text}");
}

fn softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn pytorch_state_dicts_predict_the_reference_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["gray_small", "rgb_small"] {
        let fixture = format!(
            "{}/../mdpn/tests/fixtures/{name}.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = fs::read(&fixture).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("input.u8").unwrap();
        let shape = t.shape().to_vec();
        let logits: Vec<f32> = st
            .tensor("expected.logits")
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let side = *shape.last().unwrap() as u32;
        let per_image = t.data().len() / shape[0];
        let mut files = Vec::new();
        for (i, img) in t.data().chunks_exact(per_image).enumerate() {
            let path = tmp.path().join(format!("{name}-{i}.png"));
            if shape.len() == 3 {
                image::GrayImage::from_raw(side, side, img.to_vec())
                    .unwrap()
                    .save(&path)
                    .unwrap();
            } else {
                let plane = (side * side) as usize;
                let rgb: Vec<u8> = (0..plane)
                    .flat_map(|p| [img[p], img[plane + p], img[2 * plane + p]])
                    .collect();
                image::RgbImage::from_raw(side, side, rgb)
                    .unwrap()
                    .save(&path)
                    .unwrap();
            }
            files.push(path.to_str().unwrap().to_string());
        }
        let imported = tmp.path().join(format!("{name}.mdpn.safetensors"));
        ok(&[
            "import",
            "--model",
            &fixture,
            "--out",
            imported.to_str().unwrap(),
        ]);
        for model in [fixture.as_str(), imported.to_str().unwrap()] {
            let mut args = vec!["predict", "--model", model, "--json"];
            args.extend(files.iter().map(String::as_str));
            let out = ok(&args);
            for (i, line) in out.lines().enumerate() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let probs: Vec<f64> = serde_json::from_value(v["probabilities"].clone()).unwrap();
                let want = softmax(&logits[i * 10..(i + 1) * 10]);
                for (p, w) in probs.iter().zip(&want) {
                    assert!(
                        (p - w).abs() < 1e-4,
                        "{name} image {i} with {model}: {probs:?} vs {want:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 100, 50);
    let images = data.join("train-images-idx3-ubyte");
    let bytes = fs::read(&images).unwrap();
    fs::write(&images, &bytes[..bytes.len() - 100]).unwrap();
    let out = tmp.path().join("run");
    let err = fails(&[
        "train",
        "--dataset",
        data.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("truncated"),
        "{err}"
    );
    assert!(
        !out.join("metrics.csv").exists(),
        "no training on a broken data set"
    );

    let err = fails(&["train", "--dataset", "no-such-set", "--epochs", "1"]);
    assert!(err.contains("unknown data set `no-such-set`"), "{err}");
    let missing = tmp.path().join("missing.safetensors");
    let err = fails(&[
        "eval",
        "--model",
        missing.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
    ]);
    assert!(err.contains("missing.safetensors"), "{err}");
    let not_model = tmp.path().join("not-a-model.safetensors");
    fs::write(&not_model, b"hello").unwrap();
    let err = fails(&["predict", "--model", not_model.to_str().unwrap(), "x.png"]);
    assert!(
        err.contains("not-a-model.safetensors") && err.contains("not a safetensors file"),
        "{err}"
    );
    let fixture = format!(
        "{}/../mdpn/tests/fixtures/gray_small.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let not_png = tmp.path().join("not-an-image.png");
    fs::write(&not_png, b"GIF89a nonsense").unwrap();
    let err = fails(&["predict", "--model", &fixture, not_png.to_str().unwrap()]);
    assert!(err.contains("not-an-image.png"), "{err}");
    fs::write(&images, &bytes).unwrap();
    let err = fails(&[
        "train",
        "--dataset",
        data.to_str().unwrap(),
        "--window",
        "40",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("smaller than the dendrite window"), "{err}");
}

#[test]
fn bench_prints_json() {
    let out = ok(&[
        "bench",
        "--json",
        "--rounds",
        "1",
        "--train-batches",
        "2",
        "--infer-batches",
        "2",
        "--dendrites",
        "8",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["train_images_per_s", "infer_images_per_s", "threads"] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key} in {v}");
    }
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 1.0);
    // The roofline: cycles per image at the limits, forward and trained. Training adds each
    // synapse of each winning window (36 cells × 8 dendrites × 25) and two more products.
    let f = |key: &str| v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"));
    let cycles_per_s = f("lookup_limit_per_s");
    let (infer, train) = (
        cycles_per_s / f("infer_limit_images_per_s"),
        cycles_per_s / f("train_limit_images_per_s"),
    );
    let (lookups, visits) = (f("lookups_per_image"), (36 * 8 * 25) as f64);
    let products = infer - lookups;
    assert!(products > 0.0 && lookups > 0.0, "{v}");
    assert!(
        (train - infer - visits - 2.0 * products).abs() < 1e-6 * train,
        "{v}"
    );
    for (rate, limit, fraction) in [
        (
            "train_images_per_s",
            "train_limit_images_per_s",
            "train_fraction_of_limit",
        ),
        (
            "infer_images_per_s",
            "infer_limit_images_per_s",
            "infer_fraction_of_limit",
        ),
    ] {
        assert!(
            (f(rate) / f(limit) - f(fraction)).abs() < 1e-9,
            "{fraction} in {v}"
        );
    }
}

/// A batch larger than the images the benchmark has is a clear error, not a panic.
#[test]
fn bench_refuses_batches_it_cannot_fill() {
    for size in ["70000", "0"] {
        let err = fails(&["bench", "--batch-size", size, "--rounds", "1"]);
        assert!(
            err.contains(&format!("--batch-size {size} is out of range"))
                && err.contains("1 to 60000 images"),
            "{err}"
        );
    }
}

/// Without validation images no epoch is better than another: the kept model is the last
/// epoch's, and the program says so.
#[test]
fn without_validation_the_model_is_the_last_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 600, 200);
    let out = tmp.path().join("run");
    let stdout = ok(&[
        "train",
        "--dataset",
        data.to_str().unwrap(),
        "--val-fraction",
        "0",
        "--epochs",
        "3",
        "--dendrites",
        "4",
        "--hidden",
        "16",
        "--out",
        out.to_str().unwrap(),
    ]);
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["validation_images"], 0);
    assert_eq!(config["train_images"], 600);
    assert!(
        stdout.contains("no validation set:") && stdout.contains("is the last epoch's model"),
        "{stdout}"
    );
    assert!(stdout.contains("no validation  test acc"), "{stdout}");
    assert!(
        fs::read(out.join("model.safetensors")).unwrap()
            == fs::read(out.join("last.safetensors")).unwrap(),
        "model.safetensors is not the last epoch's model"
    );
    assert_eq!(metrics_without_time(&out).len(), 4, "header and 3 epochs");
}

/// The bar: one epoch of default training on the real Fashion-MNIST reaches 85% test
/// accuracy (about half a minute on two cores).
#[test]
fn one_epoch_on_fashion_mnist_reaches_85_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    ok(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let metrics = fs::read_to_string(out.join("metrics.csv")).unwrap();
    let row: Vec<&str> = metrics.lines().nth(1).unwrap().split(',').collect();
    let test_acc: f64 = row[6].parse().unwrap();
    assert!(
        test_acc >= 0.85,
        "test accuracy after one epoch: {test_acc}"
    );
}

/// `mdpn datasets | true`: the program ends when its reader has gone away, without a panic.
#[test]
fn closed_output_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdpn"))
        .arg("datasets")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the program has looked its data sets up and printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}
