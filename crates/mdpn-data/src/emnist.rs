//! EMNIST: its six splits, their class names, and NIST's `gzip.zip`. EMNIST's IDX files store
//! every image transposed; these functions return them upright, and shift the `letters`
//! labels, which run 1..=26, to 0..=25.

use crate::idx::Idx;
use crate::npy::{open_zip, read_member};
use mdpn::{Dataset, Parts};
use mdpn::{Error, Result};

/// NIST's download, holding every split's IDX files.
pub const ARCHIVE: &str = "gzip.zip";

/// The six EMNIST splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    ByClass,
    ByMerge,
    Balanced,
    Letters,
    Digits,
    Mnist,
}

/// Every split, in NIST's order.
pub const SPLITS: [Split; 6] = [
    Split::ByClass,
    Split::ByMerge,
    Split::Balanced,
    Split::Letters,
    Split::Digits,
    Split::Mnist,
];

const DIGITS: &str = "0123456789";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
/// Lower-case letters that bymerge and balanced merge into their upper case.
const MERGED: &str = "cijklmopsuvwxyz";

impl Split {
    /// NIST's name for it, as in `emnist-<name>-train-images-idx3-ubyte`.
    pub fn name(self) -> &'static str {
        match self {
            Split::ByClass => "byclass",
            Split::ByMerge => "bymerge",
            Split::Balanced => "balanced",
            Split::Letters => "letters",
            Split::Digits => "digits",
            Split::Mnist => "mnist",
        }
    }

    /// Class names in label order (after the `letters` shift).
    pub fn class_names(self) -> Vec<String> {
        let chars: String = match self {
            Split::ByClass => format!("{DIGITS}{UPPER}{LOWER}"),
            Split::ByMerge | Split::Balanced => format!(
                "{DIGITS}{UPPER}{}",
                LOWER
                    .chars()
                    .filter(|c| !MERGED.contains(*c))
                    .collect::<String>()
            ),
            Split::Letters => LOWER.into(),
            Split::Digits | Split::Mnist => DIGITS.into(),
        };
        chars.chars().map(String::from).collect()
    }

    /// Base names (without `.gz`) of its four IDX files: train images, train labels, test
    /// images, test labels.
    pub fn files(self) -> [String; 4] {
        let n = self.name();
        [
            format!("emnist-{n}-train-images-idx3-ubyte"),
            format!("emnist-{n}-train-labels-idx1-ubyte"),
            format!("emnist-{n}-test-images-idx3-ubyte"),
            format!("emnist-{n}-test-labels-idx1-ubyte"),
        ]
    }
}

/// One EMNIST part from its IDX image and label arrays: images transposed upright, labels
/// shifted for `letters`.
pub fn dataset(images: Idx, labels: Idx, split: Split) -> Result<Dataset> {
    let names = split.class_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut labels = labels;
    if split == Split::Letters {
        let values = labels.labels()?;
        if let Some((i, &l)) = values
            .iter()
            .enumerate()
            .find(|(_, &l)| !(1..=26).contains(&l))
        {
            return Err(Error::Format(format!(
                "letters label {l} of image {i} is outside 1..=26"
            )));
        }
        labels = Idx {
            dims: labels.dims,
            type_code: 0x08,
            data: values.iter().map(|&l| (l - 1) as u8).collect(),
        };
    }
    let mut set = crate::idx::dataset(images, labels, &names)?;
    let s = set.size;
    for img in set.images.chunks_exact_mut(s * s) {
        for r in 0..s {
            for c in r + 1..s {
                img.swap(r * s + c, c * s + r);
            }
        }
    }
    Ok(set)
}

/// Reads one split straight from NIST's `gzip.zip` (members `gzip/emnist-*-idx?-ubyte.gz`).
pub fn parse_zip(bytes: &[u8], split: Split) -> Result<Parts> {
    let mut zip = open_zip(bytes)?;
    let mut arrays = Vec::new();
    for base in split.files() {
        let want = format!("{base}.gz");
        let name = zip
            .file_names()
            .filter_map(|n| n.ok())
            .find(|n| n.rsplit('/').next() == Some(want.as_str()))
            .map(|n| n.into_owned())
            .ok_or_else(|| Error::Format(format!("the archive has no member {want}")))?;
        let gz = read_member(&mut zip, &name)?;
        arrays.push(Idx::parse(&gz).map_err(|e| Error::Format(format!("{name}: {e}")))?);
    }
    let mut arrays = arrays.into_iter();
    let mut next = || arrays.next().expect("four arrays");
    let train = dataset(next(), next(), split).map_err(|e| Error::Format(format!("train: {e}")))?;
    let test = dataset(next(), next(), split).map_err(|e| Error::Format(format!("test: {e}")))?;
    Ok(Parts {
        train,
        validation: None,
        test,
    })
}
