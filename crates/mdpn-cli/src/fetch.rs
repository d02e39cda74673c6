//! The registry of known data sets, finding their files on disk, or obtaining them.
//!
//! Debian ships Fashion-MNIST as a package, which is the most trustworthy and
//! offline-friendly source, so it is tried first; otherwise the files are
//! downloaded over HTTP, resumably, and accepted only once their md5 matches.

use std::env;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use mdpn_data::medmnist::{self, MedInfo};
use mdpn_data::FASHION_MNIST_CLASSES;
use mdpn_data::{cifar, emnist};

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

const EMNIST_FILES: &[KnownFile] = &[archive("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e")];

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
    "cifar-100-binary.tar.gz",
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
        name,
        md5_gz: md5,
        md5_raw: "",
        raw_len: 0,
        gzip: false,
        older_md5,
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
            "cifar-10-binary.tar.gz",
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
    let size: usize = size
        .parse()
        .ok()
        .filter(|s| [28, 64, 128, 224].contains(s))?;
    known(base)
        .filter(|ds| matches!(ds.format, Format::MedMnist(_)))
        .map(|ds| (ds, size))
}

/// Where Debian's dataset packages install their files, one folder per set.
const DATASETS_DIR: &str = "/usr/share/datasets";

/// Folders searched, in order: `data_dir` (if given), `$MDPN_DATA`, `./data`,
/// `<user cache dir>/mdpn` (dirs::cache_dir), then the Debian dir (the package's, or
/// `/usr/share/datasets/<folder>`). For each
/// root R except the Debian dir, the dataset lives in `R/<folder>/`; `data_dir`
/// itself is also searched, right after `data_dir/<folder>/`, so that a folder of
/// downloads (such as MedMNIST's `~/.medmnist`) can be named directly.
///
/// An explicit choice wins over the environment, which wins over defaults; the
/// Debian dir comes last because it is shared and read-only.
pub fn search_dirs(ds: &KnownDataset, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = data_dir {
        dirs.push(d.join(ds.folder));
        dirs.push(d.to_path_buf());
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    roots.extend(
        env::var_os("MDPN_DATA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    );
    roots.push(PathBuf::from("data"));
    roots.extend(dirs::cache_dir().map(|c| c.join("mdpn")));
    dirs.extend(roots.into_iter().map(|r| r.join(ds.folder)));
    dirs.push(
        ds.debian_dir
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(DATASETS_DIR).join(ds.folder)),
    );
    dirs
}

/// The file `dir/base` or `dir/base.gz`, whichever exists (raw preferred,
/// since it is what a user who unpacked the files by hand will have).
pub fn find_file(dir: &Path, base: &str) -> Option<PathBuf> {
    [dir.join(base), dir.join(format!("{base}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether `dir` holds every one of `names`, raw or compressed.
fn has_all(dir: &Path, names: &[&str]) -> bool {
    names.iter().all(|n| find_file(dir, n).is_some())
}

/// The IDX files of an MNIST-style set, without `.gz`.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// CIFAR-10's six batch files.
pub const CIFAR10_FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// CIFAR-100's two files.
pub const CIFAR100_FILES_BIN: [&str; 2] = ["train.bin", "test.bin"];

/// The CSV files of FER2013 we read, in order of preference.
pub const FER_FILES: [&str; 2] = ["fer2013.csv", "icml_face_data.csv"];

/// Where in `dir` the data of `ds` is, in whichever form it was left: the folder itself for
/// loose files (IDX, extracted archives), else the archive or file to read. `size` picks a
/// MedMNIST size (28 is the plain `<name>.npz`).
pub fn source(ds: &KnownDataset, dir: &Path, size: usize) -> Option<PathBuf> {
    let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    let folder_with = |sub: &str, names: &[&str]| Some(dir.join(sub)).filter(|d| has_all(d, names));
    match ds.format {
        Format::Idx(_) => {
            let names: Vec<&str> = ds.files.iter().map(|f| f.name).collect();
            has_all(dir, &names).then(|| dir.to_path_buf())
        }
        Format::Emnist(split) => {
            let files = split.files();
            let names: Vec<&str> = files.iter().map(String::as_str).collect();
            has_all(dir, &names)
                .then(|| dir.to_path_buf())
                .or_else(|| file("gzip.zip"))
        }
        Format::Cifar10 => folder_with("cifar-10-batches-bin", &CIFAR10_FILES)
            .or_else(|| has_all(dir, &CIFAR10_FILES).then(|| dir.to_path_buf()))
            .or_else(|| file("cifar-10-binary.tar.gz")),
        Format::Cifar100(_) => folder_with("cifar-100-binary", &CIFAR100_FILES_BIN)
            .or_else(|| has_all(dir, &CIFAR100_FILES_BIN).then(|| dir.to_path_buf()))
            .or_else(|| file("cifar-100-binary.tar.gz")),
        Format::Fer2013 => FER_FILES.iter().find_map(|f| file(f)),
        Format::MedMnist(info) => match size {
            28 => file(&format!("{}.npz", info.name)),
            s => file(&format!("{}_{s}.npz", info.name)),
        },
    }
}

/// First searched folder that holds the dataset in a readable form (see [`source`]);
/// a folder with only some of its files is skipped, so a half download never hides
/// a complete copy further down the list.
pub fn locate(ds: &KnownDataset, data_dir: Option<&Path>) -> Result<PathBuf, NotFound> {
    locate_source(ds, data_dir, 28).map(|(dir, _)| dir)
}

/// Like [`locate`], for a MedMNIST `size`; gives the folder and the [`source`] in it.
pub fn locate_source(
    ds: &KnownDataset,
    data_dir: Option<&Path>,
    size: usize,
) -> Result<(PathBuf, PathBuf), NotFound> {
    let looked = search_dirs(ds, data_dir);
    match looked
        .iter()
        .find_map(|dir| source(ds, dir, size).map(|s| (dir.clone(), s)))
    {
        Some(found) => Ok(found),
        None => Err(NotFound {
            dataset: ds.name.to_string(),
            looked,
        }),
    }
}

/// A dataset is nowhere on disk; its message tells the user how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// Name of the dataset looked for.
    pub dataset: String,
    /// Every folder looked in, in search order.
    pub looked: Vec<PathBuf>,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "dataset {} not found; looked in:", self.dataset)?;
        for dir in &self.looked {
            writeln!(f, "  {}", dir.display())?;
        }
        writeln!(f, "To get it, do one of:")?;
        let ds = known(&self.dataset);
        if let Some(pkg) = ds.and_then(|d| d.debian_package) {
            writeln!(f, "  - sudo apt-get install {pkg}")?;
        }
        writeln!(f, "  - mdpn download {}", self.dataset)?;
        match ds.map(|d| d.format) {
            Some(Format::Idx(_)) => write!(
                f,
                "  - put the 4 files {} (raw or .gz) in one of the folders above",
                IDX_FILES.join(", ")
            ),
            Some(Format::Emnist(split)) => write!(
                f,
                "  - put NIST's gzip.zip, or its files {} (raw or .gz), in one of the folders above",
                split.files().join(", ")
            ),
            Some(Format::Cifar10) => write!(
                f,
                "  - put cifar-10-binary.tar.gz, or its folder cifar-10-batches-bin, in one of the folders above"
            ),
            Some(Format::Cifar100(_)) => write!(
                f,
                "  - put cifar-100-binary.tar.gz, or its folder cifar-100-binary, in one of the folders above"
            ),
            Some(Format::Fer2013) => write!(
                f,
                "  - put Kaggle's {} in one of the folders above",
                FER_FILES.join(" or ")
            ),
            Some(Format::MedMnist(info)) => write!(
                f,
                "  - put {}.npz (or {0}_64.npz, _128, _224) in one of the folders above",
                info.name
            ),
            None => write!(f, "  - put its files in one of the folders above"),
        }
    }
}

impl std::error::Error for NotFound {}

/// md5 (lower-case hex) and length of everything `reader` yields.
fn md5_of(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Md5::new();
    let len = io::copy(&mut reader, &mut hasher)?;
    Ok((format!("{:x}", hasher.finalize()), len))
}

fn md5_of_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    md5_of(file).with_context(|| format!("cannot read {}", path.display()))
}

/// Checks a file against the known checksums: md5 of the file equals md5_gz
/// (official download) or one of older_md5 or, for raw or re-compressed files, the md5 of its
/// decompressed content equals md5_raw. Both are accepted because Debian
/// re-compresses the files, changing the `.gz` bytes but not their content.
pub fn verify(file: &KnownFile, path: &Path) -> anyhow::Result<bool> {
    let (md5, len) = md5_of_file(path)?;
    if md5 == file.md5_gz || file.older_md5.contains(&md5.as_str()) {
        return Ok(true);
    }
    let mut magic = Vec::with_capacity(2);
    File::open(path)
        .and_then(|f| f.take(2).read_to_end(&mut magic))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if magic != [0x1f, 0x8b] {
        return Ok(len == file.raw_len && md5 == file.md5_raw);
    }
    let gz = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match md5_of(MultiGzDecoder::new(gz)) {
        Ok((md5, len)) => Ok(len == file.raw_len && md5 == file.md5_raw),
        // A corrupt or truncated archive is a bad copy, not a failure to check.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Downloads every file missing from `dest` (= the dataset folder itself),
/// from `mirror` (a base URL) if given, else `$MDPN_MIRROR` if set, else each
/// of ds.urls in turn. Each file goes through [`fetch_file`], so it is resumed,
/// retried and checked against md5_gz before it appears under its final name.
pub fn download(
    ds: &KnownDataset,
    dest: &Path,
    mirror: Option<&str>,
    progress: bool,
) -> anyhow::Result<()> {
    let env_mirror = env::var("MDPN_MIRROR").ok().filter(|m| !m.is_empty());
    let bases: Vec<&str> = match mirror.or(env_mirror.as_deref()) {
        Some(m) => vec![m],
        None => ds.urls.to_vec(),
    };
    if bases.is_empty() {
        bail!(
            "no download address is known for {}; pass a mirror URL (--mirror or $MDPN_MIRROR)",
            ds.name
        );
    }
    fs::create_dir_all(dest).with_context(|| {
        format!(
            "cannot create {}; choose a writable folder with --data-dir",
            dest.display()
        )
    })?;
    for file in ds.files {
        if find_file(dest, file.name).is_some() {
            continue;
        }
        if file.md5_gz.is_empty() {
            bail!(
                "no checksum is known for {} of {}, so it cannot be downloaded safely; put it in {} by hand",
                file.name,
                ds.name,
                dest.display()
            );
        }
        let gz = if file.gzip {
            format!("{}.gz", file.name)
        } else {
            file.name.to_string()
        };
        let target = dest.join(&gz);
        let mut errors = Vec::new();
        for base in &bases {
            let url = format!("{}/{gz}", base.trim_end_matches('/'));
            match fetch_file(&url, &target, file.md5_gz, progress) {
                Ok(()) => break,
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if errors.len() == bases.len() {
            let hint = match ds.debian_package {
                Some(pkg) => format!(", or install it with `sudo apt-get install {pkg}`"),
                None => String::new(),
            };
            bail!(
                "could not download {gz} of {}:\n  {}\nCheck the network, or pass a mirror URL \
                 (--mirror or $MDPN_MIRROR) that serves the official .gz files{hint}",
                ds.name,
                errors.join("\n  ")
            );
        }
    }
    Ok(())
}

/// How many times one file is requested before giving up on a flaky link.
const ATTEMPTS: u32 = 3;

/// Why one request failed: worth another try (the link), or not (the rest).
enum Failure {
    Retry(anyhow::Error),
    Fatal(anyhow::Error),
}

/// Downloads `url` into `dest`, through `<dest>.part` so that a half file never
/// carries the final name. An existing `.part` is resumed with an HTTP Range
/// request, a dropped connection is retried, resuming, for 3 tries in all, and the
/// file is renamed into place only once its md5 equals `expected_md5`; on a
/// mismatch the `.part` is deleted, since resuming it could never succeed.
pub fn fetch_file(
    url: &str,
    dest: &Path,
    expected_md5: &str,
    progress: bool,
) -> anyhow::Result<()> {
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let bar = if progress {
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let name = dest.file_name().unwrap_or(dest.as_os_str());
        ProgressBar::new(0)
            .with_style(style)
            .with_message(name.to_string_lossy().into_owned())
    } else {
        ProgressBar::hidden()
    };
    let mut attempt = 1;
    loop {
        match fetch_once(&agent, url, &part, &bar) {
            Ok(()) => break,
            Err(Failure::Retry(e)) if attempt < ATTEMPTS => {
                bar.suspend(|| eprintln!("{e:#}; retrying ({attempt}/{ATTEMPTS})"));
                thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
                attempt += 1;
            }
            Err(Failure::Retry(e)) => {
                bar.abandon();
                bail!(
                    "{e:#}; gave up after {ATTEMPTS} tries. What arrived is kept in {}; \
                     run the same command again to resume",
                    part.display()
                );
            }
            Err(Failure::Fatal(e)) => {
                bar.abandon();
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    let (found, _) = md5_of_file(&part)?;
    if found != expected_md5 {
        fs::remove_file(&part)
            .with_context(|| format!("cannot delete the bad download {}", part.display()))?;
        bail!(
            "{url} sent a file with the wrong checksum: expected md5 {expected_md5}, found {found}. \
             The download was deleted; try again, or use another mirror (--mirror or $MDPN_MIRROR)"
        );
    }
    fs::rename(&part, dest)
        .with_context(|| format!("cannot rename {} to {}", part.display(), dest.display()))
}

/// One request for `url`, appending to `part` from where it ends.
fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let offset = match fs::metadata(part) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => {
            return Err(Failure::Fatal(
                anyhow!(e).context(format!("cannot read {}", part.display())),
            ))
        }
    };
    let mut request = agent.get(url);
    if offset > 0 {
        request = request.set("Range", &format!("bytes={offset}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        // Nothing left past the end of the `.part`: it is complete (or too
        // long, which the checksum will tell).
        Err(ureq::Error::Status(416, _)) if offset > 0 => return Ok(()),
        Err(ureq::Error::Status(code, r)) => {
            let e = anyhow!("{url} answered HTTP {code} {}", r.status_text());
            return Err(if code >= 500 || code == 429 {
                Failure::Retry(e)
            } else {
                Failure::Fatal(e)
            });
        }
        Err(e) => return Err(Failure::Retry(anyhow!("cannot fetch {url}: {e}"))),
    };
    let resumed = response.status() == 206;
    if resumed {
        let expected = format!("bytes {offset}-");
        let range = response.header("Content-Range").unwrap_or("");
        if !range.starts_with(&expected) {
            // The server sent some other piece; start over rather than splice.
            fs::remove_file(part).map_err(|e| {
                Failure::Fatal(anyhow!(e).context(format!("cannot delete {}", part.display())))
            })?;
            return Err(Failure::Retry(anyhow!(
                "{url} answered Range bytes={offset}- with Content-Range {range:?}"
            )));
        }
    }
    let start = if resumed { offset } else { 0 };
    let opened = if resumed {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    };
    let mut out = opened.map_err(|e| {
        Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display())))
    })?;
    if let Some(len) = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        bar.set_length(start + len);
    }
    bar.set_position(start);
    let mut body = response.into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = start;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Retry(anyhow!(
                    "connection to {url} lost after {received} bytes: {e}"
                )))
            }
        };
        out.write_all(&buf[..n]).map_err(|e| {
            Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display())))
        })?;
        received += n as u64;
        bar.inc(n as u64);
    }
    out.sync_all()
        .map_err(|e| Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display()))))
}

/// Whether we run as root, the only case where apt-get can install anything.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs apt-get non-interactively, its output on our stderr so that stdout
/// stays clean for the command's own results.
fn apt_get(args: &[&str]) -> anyhow::Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .status()
        .with_context(|| format!("cannot run apt-get {}", args.join(" ")))?;
    Ok(status.success())
}

/// Tries Debian's package: only when running as root and `apt-get` exists;
/// runs `apt-get install -y <pkg>` and, if that fails (stale package lists),
/// `apt-get update` then install again. Returns Ok(true) if the Debian dir then
/// holds the files. Output of apt goes to the user's stderr.
pub fn install_debian(ds: &KnownDataset) -> anyhow::Result<bool> {
    let (Some(pkg), Some(dir)) = (ds.debian_package, ds.debian_dir) else {
        return Ok(false);
    };
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_apt || !is_root() {
        return Ok(false);
    }
    eprintln!("{} not found; installing Debian package {pkg}", ds.name);
    if !apt_get(&["install", "-y", pkg])? {
        apt_get(&["update"])?;
        apt_get(&["install", "-y", pkg])?;
    }
    Ok(source(ds, Path::new(dir), 28).is_some())
}

/// locate(); if missing: install_debian() unless `$MDPN_NO_APT` is set; else
/// download() into `<data_dir or user cache dir/mdpn>/<name>/`; then locate
/// again. The user gets the data with one command whatever their setup.
pub fn obtain(
    ds: &KnownDataset,
    data_dir: Option<&Path>,
    mirror: Option<&str>,
) -> anyhow::Result<PathBuf> {
    if let Ok(dir) = locate(ds, data_dir) {
        return Ok(dir);
    }
    if env::var_os("MDPN_NO_APT").is_none() {
        match install_debian(ds) {
            Ok(true) => return Ok(locate(ds, data_dir)?),
            Ok(false) => {}
            Err(e) => eprintln!("{e:#}; downloading instead"),
        }
    }
    let root = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => dirs::cache_dir()
            .context("no user cache folder is known here; pass --data-dir DIR")?
            .join("mdpn"),
    };
    let dest = root.join(ds.folder);
    eprintln!("downloading {} into {}", ds.name, dest.display());
    download(ds, &dest, mirror, true)?;
    Ok(locate(ds, data_dir)?)
}
