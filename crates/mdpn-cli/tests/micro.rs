//! Microcontrollers: an int8 model exported as C (`mdpn export --format c`, compiled by the
//! system's gcc) and as Rust constants for the `no_std` crate `mdpn-micro` (`--format rust`,
//! built for the host) gives the host integer path's scores bit for bit, on real Fashion-MNIST
//! test images with the main job's model and on the RGB fixture model; both test firmwares run
//! on an emulated Cortex-M4 (QEMU's mps2-an386, `scripts/firmware.sh`) and print the same.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mdpn::quantized::{calibrate, QuantizedMdpn};
use mdpn::quantized_file::{self, QuantizedFile};
use mdpn::state_dict::StateDictOptions;
use rand::{Rng, SeedableRng};

use crate::common::{fails, ok, read_gz, succeeds};

const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The main job's model (`mdpn train --protocol paper`, 50 epochs) quantized: the page's model.
const MAIN_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/models/fashion-mnist-int8.safetensors"
);
const RGB_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mdpn/tests/fixtures/rgb_small.safetensors"
);

/// What the firmwares print for each image, from the host's integer path.
fn host_lines(model: &QuantizedMdpn, images: &[u8]) -> Vec<String> {
    let classes = model.config.classes;
    model
        .scores(images)
        .unwrap()
        .chunks_exact(classes)
        .enumerate()
        .map(|(i, s)| {
            let scores: Vec<String> = s.iter().map(|v| v.to_string()).collect();
            let class = mdpn_micro::argmax(s);
            format!("image {i} class {class} scores {}", scores.join(" "))
        })
        .collect()
}

/// The lines of `out` that report an image.
fn image_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("image "))
        .map(str::to_string)
        .collect()
}

/// Exports `model` (an int8 file) as C and as Rust into `dir`, runs both on the host over
/// `images` and checks every score against the host's integer path.
fn c_and_rust_give_the_host_scores(dir: &Path, model: &Path, images: &[u8]) {
    let file = quantized_file::load(&fs::read(model).unwrap()).unwrap();
    let want = host_lines(&file.model, images);
    assert_eq!(want.len() * file.model.config.image_len(), images.len());
    fs::write(dir.join("images.bin"), images).unwrap();
    let m = model.to_str().unwrap();
    let (c, rust) = (dir.join("c"), dir.join("rust"));
    ok(&["export", m, "--format", "c", "--out", c.to_str().unwrap()]);
    ok(&[
        "export",
        m,
        "--format",
        "rust",
        "--out",
        rust.to_str().unwrap(),
    ]);

    // C99, strict, with the system's gcc.
    let host = c.join("host");
    let mut gcc = Command::new("gcc");
    gcc.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-O2",
        "-I",
    ])
    .arg(&c)
    .arg(Path::new(REPOSITORY).join("firmware/c/host.c"))
    .arg(c.join("mdpn.c"))
    .arg("-o")
    .arg(&host);
    succeeds(gcc);
    let mut cmd = Command::new(&host);
    cmd.arg(dir.join("images.bin"));
    assert_eq!(image_lines(&succeeds(cmd)), want, "C on the host");

    // The no_std crate with the generated constants, built for the host.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(Path::new(REPOSITORY).join("firmware/rust"))
        .args(["run", "--quiet", "--release", "--"])
        .arg(dir.join("images.bin"))
        .env("MDPN_FIRMWARE_DIR", &rust)
        .env("CARGO_TARGET_DIR", dir.join("target"));
    assert_eq!(
        image_lines(&succeeds(build)),
        want,
        "mdpn-micro on the host"
    );
}

#[test]
fn exported_c_and_rust_give_the_host_scores_on_fashion_mnist_and_the_rgb_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let fashion = tmp.path().join("fashion");
    fs::create_dir_all(&fashion).unwrap();
    let images = read_gz("t10k-images-idx3-ubyte")[16..16 + 1000 * 784].to_vec();
    c_and_rust_give_the_host_scores(&fashion, Path::new(MAIN_MODEL), &images);

    // The authors' RGB state dict (32x32), quantized on random images.
    let rgb = tmp.path().join("rgb");
    fs::create_dir_all(&rgb).unwrap();
    let bytes = fs::read(RGB_FIXTURE).unwrap();
    let file = mdpn::model_file::load(&bytes, &StateDictOptions::default()).unwrap();
    let len = file.model.config.image_len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let random: Vec<u8> = (0..250 * len).map(|_| rng.random()).collect();
    let calibration = calibrate(&file.model, &random[..200 * len]).unwrap();
    let int8 = QuantizedFile {
        model: QuantizedMdpn::new(&file.model, &calibration).unwrap(),
        class_names: file.class_names.clone(),
        dataset: None,
        program: "test".into(),
        quantization: "test".into(),
        format_version: quantized_file::FORMAT_VERSION,
    };
    let path = rgb.join("rgb-int8.safetensors");
    fs::write(&path, quantized_file::save(&int8).unwrap()).unwrap();
    c_and_rust_give_the_host_scores(&rgb, &path, &random[200 * len..]);
}

/// The figures a firmware printed: (images, stack bytes, instructions per image).
fn figures(out: &str) -> (usize, usize, f64) {
    let value = |key: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{out}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let per_tick = 2_000_002.0 / value("known loop");
    let images = value("images ");
    let instructions = value("ticks ") * per_tick / images;
    (
        images as usize,
        value("stack bytes ") as usize,
        instructions,
    )
}

#[test]
fn both_test_firmwares_classify_real_images_on_an_emulated_cortex_m4() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("firmware");
    let mut script = Command::new(Path::new(REPOSITORY).join("scripts/firmware.sh"));
    script
        .arg(MAIN_MODEL)
        .arg(&out)
        .arg("100")
        .env("MDPN", env!("CARGO_BIN_EXE_mdpn"));
    let said = succeeds(script);
    let file = quantized_file::load(&fs::read(MAIN_MODEL).unwrap()).unwrap();
    let images = read_gz("t10k-images-idx3-ubyte")[16..16 + 100 * 784].to_vec();
    let want = host_lines(&file.model, &images);
    for firmware in ["c", "rust"] {
        let printed = fs::read_to_string(out.join(firmware).join("qemu.txt")).unwrap();
        assert_eq!(image_lines(&printed), want, "{firmware} firmware in QEMU");
        let (n, stack, instructions) = figures(&printed);
        assert_eq!(n, 100);
        // A real measurement, and no deep recursion or large frames: well under 1 KiB.
        assert!(
            stack > 16 && stack < 1024,
            "{firmware}: stack {stack} bytes"
        );
        // 720,000 synapse look-ups per image take several instructions each.
        assert!(
            (2e6..1e8).contains(&instructions),
            "{firmware}: {instructions} instructions per image"
        );
    }
    // The classifier alone: weights, tables and code within the 256 KB of flash targeted.
    let size = said.lines().find(|l| l.ends_with("c/mdpn.o")).unwrap();
    let text: usize = size.split_whitespace().next().unwrap().parse().unwrap();
    assert!(text <= 256 * 1024, "{size}");
}

#[test]
fn the_microcontroller_export_says_what_it_cannot_take() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let f32_model = Path::new(RGB_FIXTURE);
    let err = fails(&[
        "export",
        f32_model.to_str().unwrap(),
        "--format",
        "c",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("is an f32 model") && err.contains("run `mdpn quantize"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written for a refused model");
    let damaged: PathBuf = tmp.path().join("damaged.safetensors");
    let mut bytes = fs::read(MAIN_MODEL).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xff;
    fs::write(&damaged, bytes).unwrap();
    let err = fails(&[
        "export",
        damaged.to_str().unwrap(),
        "--format",
        "rust",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("damaged"), "{err}");
    assert!(!out.exists());
}
