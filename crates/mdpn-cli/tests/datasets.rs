//! `mdpn train`, `eval` and `datasets` on small files written here in every format the known
//! sets come in (IDX, EMNIST's gzip.zip, CIFAR's .tar.gz, FER2013's CSV, MedMNIST's .npz) and
//! on an image folder.

use std::fs;
use std::path::Path;

use flate2::write::GzEncoder;
use zip::CompressionMethod;

use std::process::Output;

use crate::common::{
    fails, gzip, idx, idx_files, mdpn, medmnist_npz, npy, npz, ok, pixels, zip_archive,
};

/// `mdpn train` of a tiny model for one epoch on `dataset` under `root`; returns stdout.
fn train(root: &Path, dataset: &str, out: &str, extra: &[&str]) -> String {
    let out = root.join(out);
    let mut args = vec![
        "train",
        "--dataset",
        dataset,
        "--data-dir",
        root.to_str().unwrap(),
        "--epochs",
        "1",
        "--dendrites",
        "2",
        "--hidden",
        "8",
        "--batch-size",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let stdout = ok(&args);
    assert!(out.join("model.safetensors").is_file(), "{stdout}");
    stdout
}

#[test]
fn known_idx_sets_and_emnist_zip_train() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = root.join("mnist");
    fs::create_dir_all(&dir).unwrap();
    let names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];
    for (name, data) in names.iter().zip(idx_files(40, 20, 10, 0)) {
        fs::write(dir.join(format!("{name}.gz")), gzip(&data)).unwrap();
    }
    let stdout = train(root, "mnist", "run-mnist", &[]);
    assert!(
        stdout.contains("on mnist: 36 train / 4 validation / 20 test images"),
        "{stdout}"
    );
    let config = fs::read_to_string(root.join("run-mnist/config.json")).unwrap();
    assert!(
        config.contains("\"mean\": 0.1307"),
        "MNIST normalisation: {config}"
    );
    // The registry knows that a mirrored digit is no digit: flips are refused, and the tuned
    // recipe leaves them out.
    let root_s = root.to_str().unwrap();
    let flip = [
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        root_s,
        "--flip",
        "true",
    ];
    let err = fails(&flip);
    assert!(err.contains("mnist is not mirror-symmetric"), "{err}");
    train(root, "mnist", "run-tuned", &["--recipe", "tuned"]);
    let config = fs::read_to_string(root.join("run-tuned/config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["recipe"]["augment"]["flip"], false, "{config}");
    assert_eq!(config["recipe"]["augment"]["shift"], 1, "{config}");

    // EMNIST letters straight from a gzip.zip laid out as NIST's.
    let emnist = root.join("emnist");
    fs::create_dir_all(&emnist).unwrap();
    let files = idx_files(30, 10, 26, 1);
    let kinds = [
        "train-images-idx3",
        "train-labels-idx1",
        "test-images-idx3",
        "test-labels-idx1",
    ];
    let members: Vec<(String, Vec<u8>)> = kinds
        .iter()
        .zip(&files)
        .map(|(kind, data)| (format!("gzip/emnist-letters-{kind}-ubyte.gz"), gzip(data)))
        .collect();
    fs::write(
        emnist.join("gzip.zip"),
        zip_archive(&members, CompressionMethod::Stored),
    )
    .unwrap();
    let stdout = train(root, "emnist-letters", "run-letters", &[]);
    assert!(
        stdout.contains("27 train / 3 validation / 10 test"),
        "{stdout}"
    );
    // EMNIST digits from the split's files taken out of the zip, raw.
    for (kind, data) in kinds.iter().zip(idx_files(20, 10, 10, 0)) {
        fs::write(emnist.join(format!("emnist-digits-{kind}-ubyte")), data).unwrap();
    }
    let stdout = train(root, "emnist-digits", "run-digits", &[]);
    assert!(
        stdout.contains("18 train / 2 validation / 10 test"),
        "{stdout}"
    );
    let model = root.join("run-letters/model.safetensors");
    let eval = ok(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "emnist-letters",
        "--data-dir",
        root.to_str().unwrap(),
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    let names = eval["class_names"].as_array().unwrap();
    assert_eq!(names.len(), 26);
    assert_eq!(
        (names[0].as_str(), names[25].as_str()),
        (Some("a"), Some("z"))
    );
    assert!(eval["auc"].as_f64().is_some(), "{eval}");
}

fn tar_gz(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn cifar_from_tar_gz_and_fer2013_csv_train() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let batch = |n: usize, seed: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let l = ((i + seed) % 10) as u8;
                let mut r = vec![l];
                r.extend(pixels(1, 3072, |_| l as u32));
                r
            })
            .collect()
    };
    let mut members: Vec<(String, Vec<u8>)> = (1..=5)
        .map(|b| {
            (
                format!("cifar-10-batches-bin/data_batch_{b}.bin"),
                batch(6, b),
            )
        })
        .collect();
    members.push(("cifar-10-batches-bin/test_batch.bin".into(), batch(8, 0)));
    members.push((
        "cifar-10-batches-bin/readme.html".into(),
        b"<html>".to_vec(),
    ));
    fs::create_dir_all(root.join("cifar10")).unwrap();
    let archive = root.join("cifar10/cifar-10-binary.tar.gz");
    fs::write(&archive, tar_gz(&members)).unwrap();
    let stdout = train(root, "cifar10", "run-cifar", &["--val-fraction", "0.2"]);
    assert!(
        stdout.contains("24 train / 6 validation / 8 test"),
        "{stdout}"
    );
    let config = fs::read_to_string(root.join("run-cifar/config.json")).unwrap();
    assert!(config.contains("\"channels\": 3") && config.contains("\"image_size\": 32"));
    assert!(config.contains("\"mean\": 0.5"), "{config}");

    // CIFAR-100 (coarse labels) from the extracted folder.
    let folder = root.join("cifar100/cifar-100-binary");
    fs::create_dir_all(&folder).unwrap();
    let records = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let mut r = vec![(i % 20) as u8, (i % 100) as u8];
                r.extend(pixels(1, 3072, |_| i as u32));
                r
            })
            .collect()
    };
    fs::write(folder.join("train.bin"), records(20)).unwrap();
    fs::write(folder.join("test.bin"), records(6)).unwrap();
    let stdout = train(root, "cifar100-coarse", "run-c100", &[]);
    assert!(
        stdout.contains("18 train / 2 validation / 6 test"),
        "{stdout}"
    );
    let model = root.join("run-c100/model.safetensors");
    let eval = ok(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "cifar100-coarse",
        "--data-dir",
        root.to_str().unwrap(),
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(eval["class_names"].as_array().unwrap().len(), 20);
    assert_eq!(eval["class_names"][19], "vehicles_2");

    // A batch cut short inside the archive: an error naming the file, and no training.
    members[2].1.truncate(3073 * 5 + 100);
    fs::write(&archive, tar_gz(&members)).unwrap();
    let err = fails(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        root.to_str().unwrap(),
        "--out",
        root.join("run-bad").to_str().unwrap(),
    ]);
    assert!(
        err.contains("data_batch_3.bin")
            && err.contains("cifar-10-binary.tar.gz")
            && err.contains("not a whole number"),
        "{err}"
    );
    assert!(!root.join("run-bad/metrics.csv").exists());

    // FER2013 in the icml_face_data.csv layout: Training, PublicTest, PrivateTest.
    let row = |e: usize, usage: &str| {
        let px: Vec<String> = pixels(1, 2304, |_| e as u32)
            .iter()
            .map(|p| p.to_string())
            .collect();
        format!("{e}, {usage}, {}", px.join(" "))
    };
    let mut csv = vec!["emotion, Usage, pixels".to_string()];
    csv.extend((0..14).map(|i| row(i % 7, "Training")));
    csv.extend((0..4).map(|i| row(i % 7, "PublicTest")));
    csv.extend((0..5).map(|i| row(i % 7, "PrivateTest")));
    fs::create_dir_all(root.join("fer2013")).unwrap();
    fs::write(root.join("fer2013/icml_face_data.csv"), csv.join("\n")).unwrap();
    let stdout = train(root, "fer2013", "run-fer", &[]);
    assert!(
        stdout.contains("14 train / 4 validation / 5 test"),
        "{stdout}"
    );
    let config = fs::read_to_string(root.join("run-fer/config.json")).unwrap();
    assert!(config.contains("\"image_size\": 48") && config.contains("\"mean\": 0.1307"));

    // A row with the wrong number of pixels.
    csv[3] = csv[3].rsplit_once(' ').unwrap().0.to_string();
    fs::write(root.join("fer2013/icml_face_data.csv"), csv.join("\n")).unwrap();
    let err = fails(&[
        "train",
        "--dataset",
        "fer2013",
        "--data-dir",
        root.to_str().unwrap(),
    ]);
    assert!(
        err.contains("icml_face_data.csv") && err.contains("line 4: 2303 pixels"),
        "{err}"
    );
}

#[test]
fn medmnist_multi_class_and_multi_label_train_with_acc_and_auc() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::write(
        root.join("pathmnist.npz"),
        medmnist_npz(3, 28, [27, 9, 18], 1, |i| vec![(i % 9) as u8]),
    )
    .unwrap();
    let stdout = train(root, "pathmnist", "run-path", &[]);
    assert!(
        stdout.contains("27 train / 9 validation / 18 test"),
        "official split: {stdout}"
    );
    assert!(stdout.contains("val AUC"), "{stdout}");

    fs::write(
        root.join("chestmnist.npz"),
        medmnist_npz(1, 28, [24, 8, 16], 14, |i| {
            (0..14).map(|l| ((i + l) % 3 == 0) as u8).collect()
        }),
    )
    .unwrap();
    let stdout = train(root, "chestmnist", "run-chest", &[]);
    assert!(
        stdout.contains("24 train / 8 validation / 16 test"),
        "{stdout}"
    );
    assert!(
        stdout.contains("val AUC") && stdout.contains("test AUC"),
        "{stdout}"
    );
    let config = fs::read_to_string(root.join("run-chest/config.json")).unwrap();
    assert!(config.contains("\"task\": \"multi-label\""), "{config}");
    assert!(config.contains("\"classes\": 14"), "{config}");
    let model = root.join("run-chest/model.safetensors");
    let args = [
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "chestmnist",
        "--data-dir",
        root.to_str().unwrap(),
    ];
    let table = ok(&args);
    assert!(
        table.contains("accuracy (ACC)") && table.contains("AUC 0."),
        "{table}"
    );
    assert!(table.contains("hernia"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&[&args[..], &["--json"]].concat())).unwrap();
    let acc = json["accuracy"].as_f64().unwrap();
    let auc = json["auc"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&auc),
        "{json}"
    );
    assert_eq!(json["task"], "multi-label");
    assert_eq!(json["per_class"].as_array().unwrap().len(), 14);

    // A larger MedMNIST v3 size, by its file name.
    fs::write(
        root.join("breastmnist_64.npz"),
        medmnist_npz(1, 64, [6, 2, 4], 1, |i| vec![(i % 2) as u8]),
    )
    .unwrap();
    let stdout = train(root, "breastmnist_64", "run-breast64", &[]);
    assert!(
        stdout.contains("6 train / 2 validation / 4 test"),
        "{stdout}"
    );
    let config = fs::read_to_string(root.join("run-breast64/config.json")).unwrap();
    assert!(config.contains("\"image_size\": 64"), "{config}");
    let err = fails(&[
        "train",
        "--dataset",
        "breastmnist",
        "--data-dir",
        root.to_str().unwrap(),
    ]);
    assert!(
        err.contains("breastmnist.npz"),
        "the 28x28 file is another one: {err}"
    );

    // `mdpn datasets` sees both files, whose checksums are not the official ones.
    let list = ok(&["datasets", "--data-dir", root.to_str().unwrap(), "--json"]);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 25);
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    let chest = row("chestmnist");
    assert_eq!(
        (chest["present"].as_bool(), chest["checksum"].as_str()),
        (Some(true), Some("wrong"))
    );
    assert_eq!(chest["folder"], root.to_str().unwrap());
    assert_eq!(row("octmnist")["present"], false);

    // An .npz without a key, and a truncated one: errors naming the file; no training.
    let images = [("train_images", npy("|u1", &[1, 28, 28], &[0; 784]))];
    fs::write(
        root.join("octmnist.npz"),
        npz(&images, CompressionMethod::Deflated),
    )
    .unwrap();
    let err = fails(&[
        "train",
        "--dataset",
        "octmnist",
        "--data-dir",
        root.to_str().unwrap(),
    ]);
    assert!(
        err.contains("octmnist.npz") && err.contains("no array 'train_labels'"),
        "{err}"
    );
    let whole = fs::read(root.join("pathmnist.npz")).unwrap();
    fs::write(root.join("pathmnist.npz"), &whole[..whole.len() / 2]).unwrap();
    let out = root.join("run-truncated");
    let err = fails(&[
        "train",
        "--dataset",
        "pathmnist",
        "--data-dir",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("pathmnist.npz") && err.contains("not a valid"),
        "{err}"
    );
    assert!(!out.join("metrics.csv").exists());
}

#[test]
fn image_folder_trains_with_resize_and_gray_conversion() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pets");
    for (split, n) in [("train", 6), ("val", 2), ("test", 3)] {
        for (c, class) in ["cat", "dog"].iter().enumerate() {
            let dir = root.join(split).join(class);
            fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                // Colour images of mixed sizes: --image-size makes them one size.
                let side = 20 + 4 * i as u32;
                let img = image::RgbImage::from_fn(side, side, |x, y| {
                    image::Rgb([(x * 10) as u8, (y * 10) as u8, 100 * c as u8])
                });
                img.save(dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
    let dataset = root.to_str().unwrap();
    let err = fails(&["train", "--dataset", dataset, "--epochs", "1"]);
    assert!(err.contains("--image-size"), "{err}");
    let stdout = train(
        tmp.path(),
        dataset,
        "run-pets",
        &["--image-size", "16", "--color", "gray"],
    );
    assert!(
        stdout.contains("12 train / 4 validation / 6 test"),
        "{stdout}"
    );
    let config = fs::read_to_string(tmp.path().join("run-pets/config.json")).unwrap();
    assert!(
        config.contains("\"channels\": 1") && config.contains("\"image_size\": 16"),
        "{config}"
    );
    let model = tmp.path().join("run-pets/model.safetensors");
    let eval = ok(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        dataset,
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(eval["class_names"], serde_json::json!(["cat", "dog"]));
    assert_eq!(eval["images"], 6);

    // Without split folders every fifth image of a class tests; colour is kept by default.
    let flat = tmp.path().join("flat");
    for class in ["a", "b"] {
        fs::create_dir_all(flat.join(class)).unwrap();
        for i in 0..5 {
            let img = image::RgbImage::from_pixel(12, 12, image::Rgb([i * 40, 0, 200]));
            img.save(flat.join(class).join(format!("{i}.png"))).unwrap();
        }
    }
    let stdout = train(
        tmp.path(),
        flat.to_str().unwrap(),
        "run-flat",
        &["--val-fraction", "0.25"],
    );
    assert!(
        stdout.contains("6 train / 2 validation / 2 test"),
        "{stdout}"
    );
    let config = fs::read_to_string(tmp.path().join("run-flat/config.json")).unwrap();
    assert!(
        config.contains("\"channels\": 3") && config.contains("\"image_size\": 12"),
        "{config}"
    );
    let empty = tmp.path().join("empty");
    fs::create_dir_all(empty.join("class")).unwrap();
    let err = fails(&["train", "--dataset", empty.to_str().unwrap()]);
    assert!(
        err.contains("neither MNIST-style IDX files") && err.contains("empty"),
        "{err}"
    );
    fs::write(flat.join("a/9.png"), b"not a png").unwrap();
    let err = fails(&["train", "--dataset", flat.to_str().unwrap()]);
    assert!(err.contains("9.png"), "{err}");
}

/// An IDX folder at `dir` of 28x28 images with these training and test labels.
fn write_idx_folder(dir: &Path, train_labels: &[u8], test_labels: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    for (split, labels) in [("train", train_labels), ("t10k", test_labels)] {
        let n = labels.len();
        let images = pixels(n, 784, |i| labels[i] as u32);
        fs::write(
            dir.join(format!("{split}-images-idx3-ubyte")),
            idx(&[n as u32, 28, 28], &images),
        )
        .unwrap();
        fs::write(
            dir.join(format!("{split}-labels-idx1-ubyte")),
            idx(&[n as u32], labels),
        )
        .unwrap();
    }
}

/// The classes of an IDX folder come from both splits; a class without training images, or a
/// training set of one class, is refused unless `--classes N` says what the classes are.
#[test]
fn idx_folder_classes_come_from_both_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let digits: Vec<u8> = (0..40).map(|i| i % 10).collect();
    let test: Vec<u8> = (0..20).map(|i| i % 10).collect();
    let run = |folder: &Path, extra: &[&str]| -> Output {
        let out = root.join("run");
        let mut args = vec![
            "train",
            "--dataset",
            folder.to_str().unwrap(),
            "--epochs",
            "1",
            "--dendrites",
            "2",
            "--hidden",
            "8",
            "--out",
            out.to_str().unwrap(),
            "--overwrite",
        ];
        args.extend(extra);
        mdpn(&args)
    };
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).to_string();

    // All training labels 200, test labels 0..9: not a 201-class model trained on one class.
    let one = root.join("one-class");
    write_idx_folder(&one, &[200; 40], &test);
    let out = run(&one, &[]);
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(
        err.contains("train-labels-idx1-ubyte: the training labels are {200} but the test labels are {0..=9}")
            && err.contains("at least two classes")
            && err.contains("--classes N"),
        "{err}"
    );
    assert!(!root.join("run/metrics.csv").exists());

    // A class the test set has and the training set lacks.
    let gap = root.join("gap");
    let no_seven: Vec<u8> = digits.iter().map(|&l| if l == 7 { 8 } else { l }).collect();
    write_idx_folder(&gap, &no_seven, &test);
    let err = stderr(&run(&gap, &[]));
    assert!(
        err.contains("the training labels are {0..=6, 8, 9} but the test labels are {0..=9}; class {7} has no training image"),
        "{err}"
    );
    // --classes 10 says so: it trains, with a warning.
    let out = run(&gap, &["--classes", "10"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning:") && err.contains("no training image of class {7} (of 10 classes)"),
        "{err}"
    );
    let config = fs::read_to_string(root.join("run/config.json")).unwrap();
    assert!(config.contains("\"classes\": 10"), "{config}");
    // Labels at or past N, N below 2 or absurd, and --classes where classes are named.
    let err = stderr(&run(&gap, &["--classes", "8"]));
    assert!(
        err.contains("train-labels-idx1-ubyte")
            && err.contains("label 8 of image 7 is out of range: the data set has 8 classes")
            && !err.contains("warning"),
        "{err}"
    );
    for n in ["0", "1", "1000000"] {
        let err = stderr(&run(&gap, &["--classes", n]));
        assert!(
            err.contains(&format!("--classes {n}: expected 2 to 65536 classes")),
            "{err}"
        );
    }
    let err = stderr(&run(Path::new("fashion-mnist"), &["--classes", "10"]));
    assert!(
        err.contains("--classes 10 is for folders of IDX files"),
        "{err}"
    );

    // Labels 0..9 in both splits: 10 classes, no warning.
    let fine = root.join("fine");
    write_idx_folder(&fine, &digits, &test);
    let out = run(&fine, &[]);
    let err = stderr(&out);
    assert!(out.status.success() && !err.contains("warning"), "{err}");
    let config = fs::read_to_string(root.join("run/config.json")).unwrap();
    assert!(config.contains("\"classes\": 10"), "{config}");
}

/// An image's planes as the image-folder reader first made them: the whole image decoded,
/// resized to `side` (triangle filter) when it is another size, then converted.
fn reference_planes(path: &Path, side: u32, rgb: bool) -> Vec<u8> {
    let channels = if rgb { 3 } else { 1 };
    mdpn_data::decoded_image::planes(image::open(path).unwrap(), side, channels)
}

/// An image folder of real PNG and JPEG files of several sizes and colour types reads, one
/// image at a time, into the data set that decoding them all first gave, pixel for pixel,
/// whatever the thread count; `--image-size` is bounded.
#[test]
fn image_folder_reads_each_image_as_before() {
    use mdpn_data::datasets::{load, Color, DataArgs};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mixed");
    // (class, file, image): colour and gray, 8 and 16 bits, with alpha, PNG and JPEG, square
    // and not, smaller and larger than the sizes asked for.
    let texture = |x: u32, y: u32, k: u32| ((x * 37 + y * 11 + k * 53 + x * y) % 256) as u8;
    let mut files: Vec<(&str, String, image::DynamicImage)> = Vec::new();
    for (c, class) in ["cat", "dog"].iter().enumerate() {
        let k = c as u32;
        for i in 0..6u32 {
            let (w, h) = (9 + 7 * i, 31 - 3 * i);
            let img: image::DynamicImage = match i {
                0 => image::RgbImage::from_fn(w, h, |x, y| {
                    image::Rgb([texture(x, y, k), texture(y, x, k), 90])
                })
                .into(),
                1 => image::GrayImage::from_fn(w, h, |x, y| image::Luma([texture(x, y, k)])).into(),
                2 => image::RgbaImage::from_fn(w, h, |x, y| {
                    image::Rgba([texture(x, y, k), 20, texture(y, x, 1), 200])
                })
                .into(),
                3 => image::ImageBuffer::<image::Luma<u16>, _>::from_fn(w, h, |x, y| {
                    image::Luma([texture(x, y, k) as u16 * 257 + x as u16])
                })
                .into(),
                _ => image::RgbImage::from_fn(w, h, |x, y| {
                    image::Rgb([texture(x, y, k), texture(x, y, 3), texture(y, x, k)])
                })
                .into(),
            };
            let ext = if i >= 4 { "jpg" } else { "png" };
            files.push((class, format!("{i}.{ext}"), img));
        }
    }
    for (class, name, img) in &files {
        fs::create_dir_all(root.join(class)).unwrap();
        let img = if name.ends_with("jpg") {
            image::DynamicImage::ImageRgb8(img.to_rgb8())
        } else {
            img.clone()
        };
        img.save(root.join(class).join(name)).unwrap();
    }
    let read = |size: Option<usize>, color: Option<Color>| {
        load(
            &DataArgs {
                dataset: root.to_str().unwrap().into(),
                image_size: size,
                color,
                ..Default::default()
            },
            false,
        )
        .unwrap()
    };
    // Without split folders, the fifth file of each class (in name order) tests.
    let expected = |side: u32, rgb: bool, test: bool| -> Vec<u8> {
        files
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % 6 == 4) == test)
            .flat_map(|(_, (class, name, _))| {
                reference_planes(&root.join(class).join(name), side, rgb)
            })
            .collect()
    };
    for (size, color, rgb) in [
        (13, None, true),
        (24, Some(Color::Gray), false),
        (20, Some(Color::Rgb), true),
    ] {
        let data = read(Some(size), color);
        assert_eq!(
            (data.train.size, data.train.channels),
            (size, 1 + 2 * rgb as usize)
        );
        assert_eq!(data.train.labels, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(data.test.labels, vec![0, 1]);
        assert!(
            data.train.images == expected(size as u32, rgb, false),
            "training images at {size} differ from the reference"
        );
        assert!(
            data.test.images == expected(size as u32, rgb, true),
            "test images at {size} differ from the reference"
        );
        // The same data set on one thread.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| read(Some(size), color));
        assert!(one.train.images == data.train.images && one.test.images == data.test.images);
    }

    // Gray images of one size, read as they are: gray by default.
    let gray = tmp.path().join("gray");
    for class in ["a", "b"] {
        fs::create_dir_all(gray.join(class)).unwrap();
        for i in 0..5u32 {
            image::GrayImage::from_fn(11, 11, |x, y| image::Luma([texture(x, y, i)]))
                .save(gray.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let data = load(
        &DataArgs {
            dataset: gray.to_str().unwrap().into(),
            ..Default::default()
        },
        false,
    )
    .unwrap();
    assert_eq!((data.train.size, data.train.channels), (11, 1));
    assert_eq!(
        &data.test.images[..121],
        &reference_planes(&gray.join("a/4.png"), 11, false)[..]
    );

    // --image-size 0 or absurd is refused with the bound, before any image is decoded.
    let dataset = root.to_str().unwrap();
    for n in ["0", "5000", "18446744073709551615"] {
        let err = fails(&["train", "--dataset", dataset, "--image-size", n]);
        assert!(
            err.contains(&format!(
                "image size {n}: images of an image folder are resized to 1 to 1024 pixels a side"
            )),
            "{err}"
        );
    }
    // Images past the bound need --image-size.
    let big = tmp.path().join("big");
    for class in ["a", "b"] {
        fs::create_dir_all(big.join(class)).unwrap();
        for i in 0..2 {
            image::GrayImage::new(1100, 1100)
                .save(big.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let err = fails(&["train", "--dataset", big.to_str().unwrap()]);
    assert!(
        err.contains("are 1100x1100, larger than 1024 pixels a side; pass --image-size N"),
        "{err}"
    );
}
