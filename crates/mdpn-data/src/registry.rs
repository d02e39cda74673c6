//! The registry of known data sets: for each, its name, the folder its files live in, how they
//! are laid out and read ([`Format`]), the authors' normalisation, and where the official files
//! are published with their md5 sums. Adding a set of a known format is one entry in
//! [`REGISTRY`]; a new format adds its parser module, a [`Format`] variant and the arms that
//! find ([`crate::locate`]) and read ([`crate::load`]) it.

use crate::medmnist::MedInfo;
use crate::{cifar, emnist, medmnist, FASHION_MNIST_CLASSES};

/// One file of a dataset, with the checksums that let us trust a copy whatever
/// its source: the official `.gz`, a re-compressed `.gz` (Debian) or raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    /// Base name, without `.gz` when `gzip`.
    pub name: &'static str,
    /// md5 of the official download (the `.gz` when `gzip`); empty when none is known.
    pub md5_gz: &'static str,
    /// md5 of the decompressed bytes, which survives re-compression; empty when unknown.
    pub md5_raw: &'static str,
    /// Length of the decompressed bytes, a cheap first check.
    pub raw_len: u64,
    /// Whether it is served as `<name>.gz` (IDX files) or under its own name (archives).
    pub gzip: bool,
    /// md5s of earlier official releases of the same file, also accepted.
    pub older_md5: &'static [&'static str],
}

/// How a dataset's files are laid out and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The four MNIST-style IDX files, with the class names.
    Idx(&'static [&'static str]),
    /// One EMNIST split: NIST's `gzip.zip`, or the split's four IDX files taken out of it.
    Emnist(emnist::Split),
    /// `cifar-10-binary.tar.gz`, or its `cifar-10-batches-bin/*.bin`.
    Cifar10,
    /// `cifar-100-binary.tar.gz`, or its `cifar-100-binary/{train,test}.bin`.
    Cifar100(cifar::Labels),
    /// `fer2013.csv` or `icml_face_data.csv`.
    Fer2013,
    /// `<name>.npz`, or `<name>_<size>.npz` for the larger MedMNIST v3 sizes.
    MedMnist(&'static MedInfo),
}

/// A dataset we know how to find and fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownDataset {
    /// Name used on the command line.
    pub name: &'static str,
    /// Folder it lives in under each searched root (EMNIST's splits share `emnist`).
    pub folder: &'static str,
    /// How its files are laid out and read.
    pub format: Format,
    /// Input normalisation (mean, std) the authors used, the default of `mdpn train`.
    pub normalisation: (f32, f32),
    /// Debian package that installs the files, preferred over downloading.
    pub debian_package: Option<&'static str>,
    /// Where that package puts the files.
    pub debian_dir: Option<&'static str>,
    /// Base URLs tried in turn; the file name (with `.gz` when gzip) is appended.
    pub urls: &'static [&'static str],
    /// The official files `mdpn download` fetches.
    pub files: &'static [KnownFile],
}

/// Zalando's Fashion-MNIST; the `.gz` checksums are those torchvision uses,
/// the raw ones were measured from Debian's `dataset-fashion-mnist`.
pub const FASHION_MNIST: KnownDataset = KnownDataset {
    name: "fashion-mnist",
    folder: "fashion-mnist",
    format: Format::Idx(&FASHION_MNIST_CLASSES),
    // The authors used Fashion-MNIST without normalisation.
    normalisation: (0.0, 1.0),
    debian_package: Some("dataset-fashion-mnist"),
    debian_dir: Some("/usr/share/datasets/fashion-mnist"),
    urls: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    files: &[
        KnownFile {
            name: "train-images-idx3-ubyte",
            md5_gz: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            md5_raw: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            raw_len: 47_040_016,
            gzip: true,
            older_md5: &[],
        },
        KnownFile {
            name: "train-labels-idx1-ubyte",
            md5_gz: "25c81989df183df01b3e8a0aad5dffbe",
            md5_raw: "9018921c3c673c538a1fc5bad174d6f9",
            raw_len: 60_008,
            gzip: true,
            older_md5: &[],
        },
        KnownFile {
            name: "t10k-images-idx3-ubyte",
            md5_gz: "bef4ecab320f06d8554ea6380940ec79",
            md5_raw: "8181f5470baa50b63fa0f6fddb340f0a",
            raw_len: 7_840_016,
            gzip: true,
            older_md5: &[],
        },
        KnownFile {
            name: "t10k-labels-idx1-ubyte",
            md5_gz: "bb300cfdad3c16e7a12a480ee83cd310",
            md5_raw: "15d484375f8d13e6eb1aabb0c3f46965",
            raw_len: 10_008,
            gzip: true,
            older_md5: &[],
        },
    ],
};

/// MNIST's normalisation, which the authors also used for FER2013 and the other IDX sets.
const MNIST_NORM: (f32, f32) = (0.1307, 0.3081);
/// The authors' normalisation for CIFAR and MedMNIST.
const HALF_NORM: (f32, f32) = (0.5, 0.5);

/// An official `.gz` IDX file whose decompressed checksum we have not measured.
const fn idx_gz(name: &'static str, md5_gz: &'static str) -> KnownFile {
    KnownFile {
        name,
        md5_gz,
        md5_raw: "",
        raw_len: 0,
        gzip: true,
        older_md5: &[],
    }
}

/// An archive downloaded and kept under its own name.
const fn archive(name: &'static str, md5: &'static str) -> KnownFile {
    KnownFile {
        name,
        md5_gz: md5,
        md5_raw: "",
        raw_len: 0,
        gzip: false,
        older_md5: &[],
    }
}

/// One IDX set without a Debian package.
const fn idx_set(
    name: &'static str,
    classes: &'static [&'static str],
    urls: &'static [&'static str],
    files: &'static [KnownFile],
) -> KnownDataset {
    KnownDataset {
        name,
        folder: name,
        format: Format::Idx(classes),
        normalisation: MNIST_NORM,
        debian_package: None,
        debian_dir: None,
        urls,
        files,
    }
}

const DIGITS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

const EMNIST_FILES: &[KnownFile] = &[archive(emnist::ARCHIVE, "58c8d27c78d21e728a6bc7b3cc06412e")];

const fn emnist_set(name: &'static str, split: emnist::Split) -> KnownDataset {
    KnownDataset {
        name,
        folder: "emnist",
        format: Format::Emnist(split),
        normalisation: MNIST_NORM,
        debian_package: None,
        debian_dir: None,
        urls: &["https://biometrics.nist.gov/cs_links/EMNIST/"],
        files: EMNIST_FILES,
    }
}

const CIFAR100_FILES: &[KnownFile] = &[archive(
    cifar::CIFAR100_ARCHIVE,
    "03b5dce01913d631647c71ecec9e9cb8",
)];

const fn cifar100_set(name: &'static str, labels: cifar::Labels) -> KnownDataset {
    KnownDataset {
        name,
        folder: "cifar100",
        format: Format::Cifar100(labels),
        normalisation: HALF_NORM,
        debian_package: None,
        debian_dir: None,
        urls: &["https://www.cs.toronto.edu/~kriz/"],
        files: CIFAR100_FILES,
    }
}

/// MedMNIST's host (v3 record, which also serves the v2 28x28 files).
const MEDMNIST_URLS: &[&str] = &["https://zenodo.org/records/10519652/files/"];

/// One 28x28 MedMNIST set, `MEDMNIST[i]`, and its `.npz` file.
const fn med_set(i: usize, files: &'static [KnownFile]) -> KnownDataset {
    let info = &medmnist::MEDMNIST[i];
    KnownDataset {
        name: info.name,
        folder: info.name,
        format: Format::MedMnist(info),
        normalisation: HALF_NORM,
        debian_package: None,
        debian_dir: None,
        urls: MEDMNIST_URLS,
        files,
    }
}

/// A MedMNIST `.npz`, with the md5 of its current release and of older ones (MedMNIST 2.2.4
/// re-issued organamnist, organcmnist and organsmnist).
const fn npz(
    name: &'static str,
    md5: &'static str,
    older_md5: &'static [&'static str],
) -> KnownFile {
    KnownFile {
        older_md5,
        ..archive(name, md5)
    }
}

/// Every known dataset, in the order `mdpn datasets` lists them.
pub const REGISTRY: &[KnownDataset] = &[
    idx_set(
        "mnist",
        DIGITS,
        &[
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        &[
            idx_gz(
                "train-images-idx3-ubyte",
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            ),
            idx_gz(
                "train-labels-idx1-ubyte",
                "d53e105ee54ea40749a09fcbcd1e9432",
            ),
            idx_gz("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
            idx_gz("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
        ],
    ),
    FASHION_MNIST,
    idx_set(
        "kmnist",
        &["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
        &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
        &[
            idx_gz(
                "train-images-idx3-ubyte",
                "bdb82020997e1d708af4cf47b453dcf7",
            ),
            idx_gz(
                "train-labels-idx1-ubyte",
                "e144d726b3acfaa3e44228e80efcd344",
            ),
            idx_gz("t10k-images-idx3-ubyte", "5c965bf0a639b31b8f53240b1b52f4d7"),
            idx_gz("t10k-labels-idx1-ubyte", "7320c461ea6c1c855c0b718fb2a4b134"),
        ],
    ),
    emnist_set("emnist-byclass", emnist::Split::ByClass),
    emnist_set("emnist-bymerge", emnist::Split::ByMerge),
    emnist_set("emnist-balanced", emnist::Split::Balanced),
    emnist_set("emnist-letters", emnist::Split::Letters),
    emnist_set("emnist-digits", emnist::Split::Digits),
    emnist_set("emnist-mnist", emnist::Split::Mnist),
    KnownDataset {
        name: "cifar10",
        folder: "cifar10",
        format: Format::Cifar10,
        normalisation: HALF_NORM,
        debian_package: None,
        debian_dir: None,
        urls: &["https://www.cs.toronto.edu/~kriz/"],
        files: &[archive(
            cifar::CIFAR10_ARCHIVE,
            "c32a1d4ab5d03f1284b67883e8d87530",
        )],
    },
    cifar100_set("cifar100", cifar::Labels::Fine),
    cifar100_set("cifar100-coarse", cifar::Labels::Coarse),
    KnownDataset {
        name: "fer2013",
        folder: "fer2013",
        format: Format::Fer2013,
        normalisation: MNIST_NORM,
        debian_package: None,
        debian_dir: None,
        // Kaggle needs a login: there is no public address to download from.
        urls: &[],
        files: &[archive("fer2013.csv", "f8428a1edbd21e88f42c73edd2a14f95")],
    },
    med_set(
        0,
        &[npz(
            "pathmnist.npz",
            "a8b06965200029087d5bd730944a56c1",
            &[],
        )],
    ),
    med_set(
        1,
        &[npz(
            "chestmnist.npz",
            "02c8a6516a18b556561a56cbdd36c4a8",
            &[],
        )],
    ),
    med_set(
        2,
        &[npz(
            "dermamnist.npz",
            "0744692d530f8e62ec473284d019b0c7",
            &[],
        )],
    ),
    med_set(
        3,
        &[npz("octmnist.npz", "c68d92d5b585d8d81f7112f81e2d0842", &[])],
    ),
    med_set(
        4,
        &[npz(
            "pneumoniamnist.npz",
            "28209eda62fecd6e6a2d98b1501bb15f",
            &[],
        )],
    ),
    med_set(
        5,
        &[npz(
            "retinamnist.npz",
            "bd4c0672f1bba3e3a89f0e4e876791e4",
            &[],
        )],
    ),
    med_set(
        6,
        &[npz(
            "breastmnist.npz",
            "750601b1f35ba3300ea97c75c52ff8f6",
            &[],
        )],
    ),
    med_set(
        7,
        &[npz(
            "bloodmnist.npz",
            "7053d0359d879ad8a5505303e11de1dc",
            &[],
        )],
    ),
    med_set(
        8,
        &[npz(
            "tissuemnist.npz",
            "ebe78ee8b05294063de985d821c1c34b",
            &[],
        )],
    ),
    med_set(
        9,
        &[npz(
            "organamnist.npz",
            "68e3f8846a6bd62f0c9bf841c0d9eacc",
            &["866b832ed4eeba67bfb9edee1d5544e6"],
        )],
    ),
    med_set(
        10,
        &[npz(
            "organcmnist.npz",
            "b9ceb9546e10131b32923c5bbeaea2b1",
            &["0afa5834fb105f7705a7d93372119a21"],
        )],
    ),
    med_set(
        11,
        &[npz(
            "organsmnist.npz",
            "9ab87b696fb54e2a387ebe992d6ed5f1",
            &["e5c39f1af030238290b9557d9503af9d"],
        )],
    ),
];

/// Looks a dataset up by its command-line name, so callers need not list them.
pub fn known(name: &str) -> Option<&'static KnownDataset> {
    REGISTRY.iter().find(|ds| ds.name == name)
}

/// A MedMNIST v3 name with a size (`pathmnist_64`): the 28x28 set it comes from and the size.
/// The larger files have no checksum here, so they are read but not verified or downloaded.
pub fn medmnist_size(name: &str) -> Option<(&'static KnownDataset, usize)> {
    let (base, size) = name.rsplit_once('_')?;
    let size: usize = size.parse().ok().filter(|s| medmnist::SIZES.contains(s))?;
    known(base)
        .filter(|ds| matches!(ds.format, Format::MedMnist(_)))
        .map(|ds| (ds, size))
}

/// A known set named on the command line, with its image side: a registry name (side 28), or a
/// MedMNIST name with a size (`pathmnist_64`, see [`medmnist_size`]).
pub fn lookup(spec: &str) -> Option<(&'static KnownDataset, usize)> {
    known(spec)
        .map(|ds| (ds, 28))
        .or_else(|| medmnist_size(spec))
}

/// Every known name, for messages that list them.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|d| d.name).collect()
}
