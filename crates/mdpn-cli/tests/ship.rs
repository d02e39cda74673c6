//! Shipping models: `mdpn quantize` (int8 model files, run by eval, predict and bench) and
//! `mdpn export --format onnx`, checked with the real ONNX Runtime (the tests' Python
//! environment, `scripts/test-venv.sh`) against `mdpn predict --json` on real Fashion-MNIST
//! test images and on the RGB fixture model.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use image::{GrayImage, RgbImage};
use rand::{Rng, SeedableRng};

use crate::common::{mdpn, ok, python, read_gz};

const RGB_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mdpn/tests/fixtures/rgb_small.safetensors"
);

/// The first `n` real Fashion-MNIST test images, 784 bytes each.
fn fashion_test_images(n: usize) -> Vec<u8> {
    read_gz("t10k-images-idx3-ubyte")[16..16 + n * 784].to_vec()
}

/// A model trained for one epoch on 2,000 real Fashion-MNIST images, in `dir`.
fn trained_model(dir: &Path) -> PathBuf {
    trained_model_with(dir, "run", &[])
}

/// [`trained_model`] with other settings, in `dir/name`.
fn trained_model_with(dir: &Path, name: &str, settings: &[&str]) -> PathBuf {
    let run = dir.join(name);
    let run_s = run.to_str().unwrap();
    let mut args = vec!["train", "--limit", "2000", "--epochs", "1", "--out", run_s];
    args.extend(settings);
    ok(&args);
    run.join("model.safetensors")
}

/// Writes `images` `(n, c, side, side)` as PNG files and returns their paths.
fn write_pngs(dir: &Path, images: &[u8], c: usize, side: usize) -> Vec<String> {
    let len = c * side * side;
    let s = side as u32;
    images
        .chunks_exact(len)
        .enumerate()
        .map(|(i, img)| {
            let path = dir.join(format!("{i:03}.png"));
            if c == 1 {
                GrayImage::from_raw(s, s, img.to_vec())
                    .unwrap()
                    .save(&path)
                    .unwrap();
            } else {
                let plane = side * side;
                let rgb = (0..plane).flat_map(|p| (0..3).map(move |ch| img[ch * plane + p]));
                RgbImage::from_raw(s, s, rgb.collect())
                    .unwrap()
                    .save(&path)
                    .unwrap();
            }
            path.to_str().unwrap().to_string()
        })
        .collect()
}

/// The probabilities `mdpn predict --json` gives for each file.
fn predict(model: &Path, files: &[String]) -> Vec<Vec<f64>> {
    let mut args = vec!["predict", "--json", "--model", model.to_str().unwrap()];
    args.extend(files.iter().map(|s| s.as_str()));
    ok(&args)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::from_value(v["probabilities"].clone()).unwrap()
        })
        .collect()
}

/// The probabilities ONNX Runtime computes with `onnx` on `images` `(n, c, side, side)`.
fn onnx_runtime(onnx: &Path, images: &[u8], c: usize, side: usize) -> Vec<Vec<f64>> {
    let pixels = onnx.with_extension("u8");
    fs::write(&pixels, images).unwrap();
    let n = images.len() / (c * side * side);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/run_onnx.py");
    let dims = [n, c, side, side].map(|d| d.to_string());
    let out = Command::new(python())
        .arg(script)
        .arg(onnx)
        .arg(&pixels)
        .args(&dims)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "ONNX Runtime failed on {}:\n{}",
        onnx.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Largest difference between two sets of probabilities of the same shape.
fn max_difference(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f64::max)
}

/// Exports `model` (with `options`), runs it in ONNX Runtime and through `mdpn predict` on the
/// same images, and returns the largest difference of their probabilities and the graph's bytes.
fn export_and_compare(
    dir: &Path,
    model: &Path,
    options: &[&str],
    images: &[u8],
    c: usize,
    side: usize,
) -> (f64, Vec<u8>) {
    let stem = model.file_stem().unwrap().to_string_lossy();
    let onnx = dir.join(format!("{stem}{}.onnx", options.concat()));
    let mut args = vec![
        "export",
        model.to_str().unwrap(),
        "--format",
        "onnx",
        "--out",
        onnx.to_str().unwrap(),
    ];
    args.extend(options);
    ok(&args);
    let pngs = dir.join(format!(
        "{}-png",
        model.file_stem().unwrap().to_string_lossy()
    ));
    fs::create_dir_all(&pngs).unwrap();
    let files = write_pngs(&pngs, images, c, side);
    let want = predict(model, &files);
    let got = onnx_runtime(&onnx, images, c, side);
    assert_eq!(got.len(), files.len());
    // Not a degenerate model: some of its predictions are far from uniform.
    let top: Vec<f64> = want
        .iter()
        .map(|p| p.iter().copied().fold(0.0, f64::max))
        .collect();
    assert!(
        top.iter().any(|&p| p * want[0].len() as f64 > 3.0),
        "{top:?}"
    );
    let diff = max_difference(&want, &got);
    eprintln!(
        "{} {options:?}: ONNX Runtime vs mdpn predict, largest difference {diff:.1e}",
        model.display()
    );
    (diff, fs::read(&onnx).unwrap())
}

/// Whether `needle` occurs in `bytes` (an operator or initializer name in a graph).
fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Both f32 graphs, the synapse tables (the default) and the formulas, on a trained model, on
/// one whose pool leaves windows out (24 = 4·5 + 4) and whose last group of 8 dendrites is
/// partial, and on the RGB fixture.
#[test]
fn onnx_export_matches_predict_on_fashion_mnist_and_the_rgb_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let model = trained_model(tmp.path());
    let settings = ["--pool", "5", "--dendrites", "13"];
    let odd = trained_model_with(tmp.path(), "odd", &settings);
    let images = fashion_test_images(100);
    // The authors' RGB state dict, exported as it is (32x32, normalisation 0.5 / 0.5).
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let rgb: Vec<u8> = (0..20 * 3 * 32 * 32).map(|_| rng.random()).collect();
    let cases = [
        ("Fashion-MNIST", model.as_path(), &images, 1, 28),
        ("pool 5, M = 13", odd.as_path(), &images, 1, 28),
        ("RGB fixture", Path::new(RGB_FIXTURE), &rgb, 3, 32),
    ];
    for (name, model, images, c, side) in cases {
        let (diff, tables) = export_and_compare(tmp.path(), model, &[], images, c, side);
        assert!(
            diff <= 1e-5,
            "{name}, tables: ONNX Runtime and mdpn predict differ by {diff}"
        );
        assert!(contains(&tables, "synapse_tables") && !contains(&tables, "Atan"));
        let options = ["--synapses", "formulas"];
        let (diff, formulas) = export_and_compare(tmp.path(), model, &options, images, c, side);
        assert!(
            diff <= 1e-5,
            "{name}, formulas: ONNX Runtime and mdpn predict differ by {diff}"
        );
        assert!(contains(&formulas, "Atan") && !contains(&formulas, "synapse_tables"));
    }
}

#[test]
fn int8_model_runs_everywhere_a_model_does() {
    let tmp = tempfile::tempdir().unwrap();
    let model = trained_model(tmp.path());
    let int8 = tmp.path().join("int8.safetensors");
    let (m, q) = (model.to_str().unwrap(), int8.to_str().unwrap());
    let said = ok(&["quantize", m, "--out", q, "--calibration-images", "2000"]);
    assert!(
        said.contains("calibrated on 2000 training images"),
        "{said}"
    );
    let (f32_size, int8_size) = (
        fs::metadata(&model).unwrap().len(),
        fs::metadata(&int8).unwrap().len(),
    );
    assert!(
        int8_size <= 265_000 && int8_size * 3 < f32_size,
        "{int8_size} vs {f32_size} bytes"
    );

    let accuracy = |model: &str| -> f64 {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&["eval", "--model", model, "--json"])).unwrap();
        v["accuracy"].as_f64().unwrap()
    };
    let (a32, a8) = (accuracy(m), accuracy(q));
    assert!(a32 > 0.6, "f32 accuracy {a32}");
    assert!((a32 - a8).abs() <= 0.005, "f32 accuracy {a32}, int8 {a8}");

    let bench: serde_json::Value = serde_json::from_str(&ok(&[
        "bench",
        "--model",
        q,
        "--rounds",
        "1",
        "--infer-batches",
        "2",
        "--json",
    ]))
    .unwrap();
    assert!(
        bench["infer_images_per_s"].as_f64().unwrap() > 0.0,
        "{bench}"
    );
    assert!(bench["train_images_per_s"].is_null(), "{bench}");

    // Predict agrees with the f32 model on most images, and the int8 ONNX graph (QDQ) with
    // predict on the int8 model.
    let images = fashion_test_images(100);
    let files = write_pngs(tmp.path(), &images, 1, 28);
    let argmax = |p: &Vec<f64>| (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    let (p32, p8) = (predict(&model, &files), predict(&int8, &files));
    let same = p32
        .iter()
        .zip(&p8)
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
    assert!(same >= 97, "int8 and f32 agree on {same} of 100 images");
    // The int8 ONNX graph (QDQ) computes the synapses from their f32 weights in floats, where
    // the int8 model looks them up in its fixed-point table: close, not the same bits.
    let (diff, graph) = export_and_compare(tmp.path(), &int8, &[], &images, 1, 28);
    assert!(
        diff <= 2e-2,
        "int8: ONNX Runtime and mdpn predict differ by {diff}"
    );
    assert!(contains(&graph, "QuantizeLinear") && contains(&graph, "Atan"));
    let onnx = tmp.path().join("int8-tables.onnx");
    let out = mdpn(&[
        "export",
        q,
        "--synapses",
        "tables",
        "--out",
        onnx.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("for f32 models"),
        "{err}"
    );

    // Commands that write f32 models say that this one is int8.
    let out = mdpn(&[
        "import",
        "--model",
        q,
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is an int8 model"),
        "{err}"
    );
}
