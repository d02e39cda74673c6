//! Data set files written by the tests: gzip, IDX, NumPy `.npy` and MedMNIST `.npz`, and a
//! small IDX folder cut from the real Fashion-MNIST (Debian's `dataset-fashion-mnist`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use zip::CompressionMethod;

#[path = "../../../mdpn-data/tests/common/file_bytes.rs"]
mod file_bytes;
pub use file_bytes::{gzip, idx, npy, npz, zip_archive};

/// Where Debian's `dataset-fashion-mnist` puts Fashion-MNIST.
pub const FASHION: &str = "/usr/share/datasets/fashion-mnist";

/// Pixels that depend on the label, so that the sets are not pure noise.
pub fn pixels(n: usize, len: usize, label: impl Fn(usize) -> u32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let l = label(i);
            (0..len).map(move |p| ((p as u32 * (l + 1) + i as u32 * 7) % 256) as u8)
        })
        .collect()
}

/// The four IDX files of `n_train` and `n_test` 28x28 images with labels `i % classes`.
pub fn idx_files(n_train: usize, n_test: usize, classes: u32, first: u32) -> [Vec<u8>; 4] {
    let lab =
        |n: usize| -> Vec<u8> { (0..n).map(|i| (i as u32 % classes + first) as u8).collect() };
    [
        idx(
            &[n_train as u32, 28, 28],
            &pixels(n_train, 784, |i| i as u32 % classes),
        ),
        idx(&[n_train as u32], &lab(n_train)),
        idx(
            &[n_test as u32, 28, 28],
            &pixels(n_test, 784, |i| i as u32 % classes),
        ),
        idx(&[n_test as u32], &lab(n_test)),
    ]
}

/// A MedMNIST `.npz` of `side`×`side` images (`channels` 1 or 3), `counts` images per official
/// split (train, val, test), label rows of `width` bytes from `label(i)`; the pixels follow the
/// first label.
pub fn medmnist_npz(
    channels: usize,
    side: usize,
    counts: [usize; 3],
    width: usize,
    label: impl Fn(usize) -> Vec<u8>,
) -> Vec<u8> {
    let mut members = Vec::new();
    for (split, n) in ["train", "val", "test"].iter().zip(counts) {
        let mut shape = vec![n, side, side];
        if channels == 3 {
            shape.push(3);
        }
        let labels: Vec<u8> = (0..n).flat_map(&label).collect();
        let px = pixels(n, side * side * channels, |i| labels[i * width] as u32);
        members.push((format!("{split}_images"), npy("|u1", &shape, &px)));
        members.push((format!("{split}_labels"), npy("|u1", &[n, width], &labels)));
    }
    npz(&members, CompressionMethod::Deflated)
}

/// One of the real Fashion-MNIST files, decompressed.
pub fn read_gz(name: &str) -> Vec<u8> {
    let path = Path::new(FASHION).join(format!("{name}.gz"));
    let bytes = fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)", path.display())
    });
    let mut out = Vec::new();
    GzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
    out
}

/// Writes the first `train` and `test` real Fashion-MNIST images as an IDX folder
/// `dir/small-fashion` (test labels gzipped, the rest raw).
pub fn small_fashion(dir: &Path, train: u32, test: u32) -> PathBuf {
    let folder = dir.join("small-fashion");
    fs::create_dir_all(&folder).unwrap();
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let images = read_gz(&format!("{prefix}-images-idx3-ubyte"));
        let labels = read_gz(&format!("{prefix}-labels-idx1-ubyte"));
        let im = idx(&[n, 28, 28], &images[16..16 + 784 * n as usize]);
        fs::write(folder.join(format!("{prefix}-images-idx3-ubyte")), im).unwrap();
        let lb = idx(&[n], &labels[8..8 + n as usize]);
        if prefix == "t10k" {
            fs::write(folder.join("t10k-labels-idx1-ubyte.gz"), gzip(&lb)).unwrap();
        } else {
            fs::write(folder.join("train-labels-idx1-ubyte"), lb).unwrap();
        }
    }
    folder
}
