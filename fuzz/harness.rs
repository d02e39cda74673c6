//! What each fuzz target feeds its parser, shared by the targets (`fuzz_targets/`) and by the
//! regression test that replays `fuzz/regressions/<target>/` in `cargo test`
//! (`crates/mdpn-cli/tests/fuzz_regressions.rs`). A new parser is one line in [`TARGETS`], one
//! target file and one folder. A parser may return any error; it must not panic, hang, or
//! allocate much more than its input's size.

use mdpn::any_model::AnyModel;
use mdpn::model_file;
use mdpn::state_dict::StateDictOptions;
use mdpn_data::cifar::{self, Labels};
use mdpn_data::datasets::decode_image;
use mdpn_data::decoded_image::planes;
use mdpn_data::emnist::{self, SPLITS};
use mdpn_data::idx::{self, Idx};
use mdpn_data::medmnist::{self, MEDMNIST};
use mdpn_data::npy::{self, Npz};

/// Runs one input through a parser.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name, with the function that runs one input through its parser.
pub const TARGETS: &[(&str, Harness)] = &[
    ("idx", idx),
    ("model_file", model_file),
    ("baseline_file", baseline_file),
    ("state_dict", state_dict),
    ("checkpoint", checkpoint),
    ("idx_dataset", idx_dataset),
    ("emnist_zip", emnist_zip),
    ("cifar10", cifar10),
    ("cifar100", cifar100),
    ("fer2013", fer2013),
    ("npy", npy),
    ("npz", npz),
    ("medmnist", medmnist),
    ("image", image),
];

/// IDX arrays, raw or gzipped, then as images and labels of a data set.
pub fn idx(data: &[u8]) {
    if let Ok(idx) = Idx::parse(data) {
        let labels = Idx {
            dims: vec![idx.dims[0]],
            type_code: 0x08,
            data: vec![0; idx.dims[0].min(data.len())],
        };
        let _ = idx::dataset(idx, labels, &["a", "b"]);
    }
}

/// Our model files, f32 and int8, read as `mdpn eval` and `mdpn predict` read them.
pub fn model_file(data: &[u8]) {
    let _ = AnyModel::load(data, &StateDictOptions::default());
}

/// The baselines' f32 and int8 model files, read as `mdpn eval` and `mdpn quantize` read them.
pub fn baseline_file(data: &[u8]) {
    let _ = mdpn::baselines::baseline_file::load(data);
}

/// PyTorch state dicts: the first byte picks the `--image-size` option (0: none).
pub fn state_dict(data: &[u8]) {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let options = StateDictOptions {
        image_size: (size > 0).then_some(size as usize),
        ..Default::default()
    };
    let _ = model_file::load(rest, &options);
}

/// Training checkpoints, as `mdpn train --resume` reads them.
pub fn checkpoint(data: &[u8]) {
    let _ = mdpn::checkpoint::load(data);
}

/// An IDX images file and an IDX labels file into a data set. Byte 0 picks the reader (an
/// EMNIST split, or else plain [`idx::dataset`]), bytes 1-2 (little-endian) the length of
/// the images file; the labels file is the rest.
pub fn idx_dataset(data: &[u8]) {
    let [mode, a, b, rest @ ..] = data else {
        return;
    };
    let (images, labels) = rest.split_at((u16::from_le_bytes([*a, *b]) as usize).min(rest.len()));
    let (Ok(images), Ok(labels)) = (Idx::parse(images), Idx::parse(labels)) else {
        return;
    };
    match SPLITS.get(*mode as usize) {
        Some(&split) => drop(emnist::dataset(images, labels, split)),
        None => drop(idx::dataset(images, labels, &["a", "b", "c"])),
    }
}

/// NIST's EMNIST `gzip.zip`: byte 0 picks the split.
pub fn emnist_zip(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let _ = emnist::parse_zip(rest, SPLITS[split as usize % SPLITS.len()]);
}

/// A CIFAR-10 batch file.
pub fn cifar10(data: &[u8]) {
    let _ = cifar::parse_cifar10(data);
}

/// A CIFAR-100 file: byte 0 picks fine (even) or coarse (odd) labels.
pub fn cifar100(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let labels = if which % 2 == 0 {
        Labels::Fine
    } else {
        Labels::Coarse
    };
    let _ = cifar::parse_cifar100(rest, labels);
}

/// Kaggle's FER2013 CSV.
pub fn fer2013(data: &[u8]) {
    let _ = mdpn_data::fer2013::parse(data);
}

/// One `.npy` array, then each of its values.
pub fn npy(data: &[u8]) {
    if let Ok(array) = npy::parse_npy(data) {
        for i in 0..array.len() {
            let _ = array.get(i);
        }
    }
}

/// An `.npz` archive, then each of its arrays.
pub fn npz(data: &[u8]) {
    if let Ok(mut npz) = Npz::parse(data) {
        for key in npz.keys() {
            let _ = npz.array(&key);
        }
    }
}

/// A MedMNIST `.npz`: byte 0 picks the set.
pub fn medmnist(data: &[u8]) {
    let Some((&set, rest)) = data.split_first() else {
        return;
    };
    let _ = medmnist::parse(rest, &MEDMNIST[set as usize % MEDMNIST.len()]);
}

/// PNG and JPEG files of an image folder, decoded and converted as `mdpn train` does.
pub fn image(data: &[u8]) {
    if let Ok(img) = decode_image(data) {
        let _ = planes(img, 8, 3);
    }
}
