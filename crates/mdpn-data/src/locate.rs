//! Where the files of a known data set are on disk: the folders searched, in order, and the
//! form the files were left in (official archives, unpacked folders, raw or gzipped IDX files).
//! Shared by every front end, so that they all find the same copy.

use std::env;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::registry::{known, Format, KnownDataset};
use crate::{cifar, emnist, fer2013, idx};

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
    roots.extend(cache_root());
    dirs.extend(roots.into_iter().map(|r| r.join(ds.folder)));
    dirs.push(
        ds.debian_dir
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(DATASETS_DIR).join(ds.folder)),
    );
    dirs
}

/// `<user cache dir>/mdpn`, where downloads go by default; None where no cache dir is known.
pub fn cache_root() -> Option<PathBuf> {
    dirs::cache_dir().map(|c| c.join("mdpn"))
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

/// Where in `dir` the data of `ds` is, in whichever form it was left: the folder itself for
/// loose files (IDX, extracted archives), else the archive or file to read. `size` picks a
/// MedMNIST size (28 is the plain `<name>.npz`).
pub fn source(ds: &KnownDataset, dir: &Path, size: usize) -> Option<PathBuf> {
    let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    let folder_with = |sub: &str, names: &[&str]| Some(dir.join(sub)).filter(|d| has_all(d, names));
    let loose = |names: &[&str]| has_all(dir, names).then(|| dir.to_path_buf());
    match ds.format {
        Format::Idx(_) => loose(&ds.files.iter().map(|f| f.name).collect::<Vec<_>>()),
        Format::Emnist(split) => {
            loose(&split.files().each_ref().map(String::as_str)).or_else(|| file(emnist::ARCHIVE))
        }
        Format::Cifar10 => folder_with(cifar::CIFAR10_FOLDER, &cifar::CIFAR10_FILES)
            .or_else(|| loose(&cifar::CIFAR10_FILES))
            .or_else(|| file(cifar::CIFAR10_ARCHIVE)),
        Format::Cifar100(_) => folder_with(cifar::CIFAR100_FOLDER, &cifar::CIFAR100_FILES)
            .or_else(|| loose(&cifar::CIFAR100_FILES))
            .or_else(|| file(cifar::CIFAR100_ARCHIVE)),
        Format::Fer2013 => fer2013::FILES.iter().find_map(|f| file(f)),
        Format::MedMnist(info) => file(&info.file(size)),
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
        let what = match ds.map(|d| d.format) {
            Some(Format::Idx(_)) => {
                format!("the 4 files {} (raw or .gz)", idx::IDX_FILES.join(", "))
            }
            Some(Format::Emnist(split)) => format!(
                "NIST's {}, or its files {} (raw or .gz),",
                emnist::ARCHIVE,
                split.files().join(", ")
            ),
            Some(Format::Cifar10) => format!(
                "{}, or its folder {},",
                cifar::CIFAR10_ARCHIVE,
                cifar::CIFAR10_FOLDER
            ),
            Some(Format::Cifar100(_)) => format!(
                "{}, or its folder {},",
                cifar::CIFAR100_ARCHIVE,
                cifar::CIFAR100_FOLDER
            ),
            Some(Format::Fer2013) => format!("Kaggle's {}", fer2013::FILES.join(" or ")),
            Some(Format::MedMnist(info)) => {
                format!("{} (or {}, _128, _224)", info.file(28), info.file(64))
            }
            None => "its files".to_string(),
        };
        write!(f, "  - put {what} in one of the folders above")
    }
}

impl std::error::Error for NotFound {}
