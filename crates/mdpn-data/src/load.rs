//! Reading a known data set from the files [`crate::locate`] found: every format's files, in
//! every form they may have been left (archive, unpacked folder, raw or gzipped), into its
//! official parts. Only `std::fs`; errors name the file and what is wrong with it.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use mdpn::{Dataset, Parts};

use crate::idx::{self, Idx, IDX_FILES};
use crate::locate::find_file;
use crate::registry::{Format, KnownDataset};
use crate::{cifar, emnist, fer2013, medmnist};

/// Why a known set's files could not be read; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// A file was read but does not hold what its format says.
    #[error("{what}")]
    Format {
        what: String,
        #[source]
        source: mdpn::Error,
    },
    /// A file or archive member the set needs is absent.
    #[error("{0}")]
    Missing(String),
    /// The parts read do not fit together.
    #[error(transparent)]
    Data(#[from] mdpn::Error),
}

/// Adds the file (or part) a library error is about.
trait Context<T> {
    fn about(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for mdpn::Result<T> {
    fn about(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Format {
            what: what(),
            source,
        })
    }
}

impl<T> Context<T> for io::Result<T> {
    fn about(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            what: what(),
            source,
        })
    }
}

/// Reads a known set from the [`crate::locate::source`] found for it.
pub fn read_known(ds: &KnownDataset, source: &Path) -> Result<Parts, Error> {
    let name = source.display();
    match ds.format {
        Format::Idx(classes) => idx_parts(read_idx_files(source, &IDX_FILES)?, |images, labels| {
            idx::dataset(images, labels, classes)
        }),
        Format::Emnist(split) if source.is_dir() => {
            idx_parts(read_idx_files(source, &split.files())?, |images, labels| {
                emnist::dataset(images, labels, split)
            })
        }
        Format::Emnist(split) => emnist::parse_zip(&read(source)?, split)
            .about(|| format!("{name} is not a valid EMNIST {}", emnist::ARCHIVE)),
        Format::Cifar10 => {
            let files = cifar_files(source, &cifar::CIFAR10_FILES)?;
            let mut sets = Vec::new();
            for (file, bytes) in cifar::CIFAR10_FILES.iter().zip(&files) {
                sets.push(
                    cifar::parse_cifar10(bytes)
                        .about(|| format!("{file} in {name} is not a CIFAR-10 batch"))?,
                );
            }
            let test = sets.pop().expect("six files");
            Ok(Parts {
                train: Dataset::concat(sets)?,
                validation: None,
                test,
            })
        }
        Format::Cifar100(labels) => {
            let files = cifar_files(source, &cifar::CIFAR100_FILES)?;
            let parse = |i: usize| {
                cifar::parse_cifar100(&files[i], labels).about(|| {
                    format!(
                        "{} in {name} is not a CIFAR-100 file",
                        cifar::CIFAR100_FILES[i]
                    )
                })
            };
            Ok(Parts {
                train: parse(0)?,
                validation: None,
                test: parse(1)?,
            })
        }
        Format::Fer2013 => {
            fer2013::parse(&read(source)?).about(|| format!("{name} is not a valid FER2013 CSV"))
        }
        Format::MedMnist(info) => medmnist::parse(&read(source)?, info)
            .about(|| format!("{name} is not a valid {} .npz", info.name)),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).about(|| format!("cannot read {}", path.display()))
}

/// Reads one IDX file `dir/base[.gz]`.
fn read_idx(dir: &Path, base: &str) -> Result<(PathBuf, Idx), Error> {
    let path = find_file(dir, base)
        .ok_or_else(|| Error::Missing(format!("{} has no {base} or {base}.gz", dir.display())))?;
    let idx = Idx::parse(&read(&path)?)
        .about(|| format!("{} is not a valid IDX file", path.display()))?;
    Ok((path, idx))
}

/// Four IDX files of an MNIST-style folder, each with the path it was read from: training
/// images, training labels, test images, test labels.
pub type IdxFiles = [(PathBuf, Idx); 4];

/// Reads the four IDX files `dir/<name>[.gz]` of `names`, in [`IdxFiles`] order.
pub fn read_idx_files(dir: &Path, names: &[impl AsRef<str>; 4]) -> Result<IdxFiles, Error> {
    let [a, b, c, d] = names;
    Ok([
        read_idx(dir, a.as_ref())?,
        read_idx(dir, b.as_ref())?,
        read_idx(dir, c.as_ref())?,
        read_idx(dir, d.as_ref())?,
    ])
}

/// The training and test sets of four IDX files, each pair of images and labels made into a
/// data set by `set`; an error names both files of the pair.
pub fn idx_parts(
    files: IdxFiles,
    set: impl Fn(Idx, Idx) -> mdpn::Result<Dataset>,
) -> Result<Parts, Error> {
    let [train_images, train_labels, test_images, test_labels] = files;
    let part = |which: &str,
                (images_path, images): (PathBuf, Idx),
                (labels_path, labels): (PathBuf, Idx)| {
        set(images, labels).about(|| {
            format!(
                "{which} set ({} with {})",
                images_path.display(),
                labels_path.display()
            )
        })
    };
    Ok(Parts {
        train: part("training", train_images, train_labels)?,
        validation: None,
        test: part("test", test_images, test_labels)?,
    })
}

/// The bytes of CIFAR's `names`, from a folder or from inside the `.tar.gz` at `source`.
fn cifar_files(source: &Path, names: &[&str]) -> Result<Vec<Vec<u8>>, Error> {
    if source.is_dir() {
        return names.iter().map(|n| read(&source.join(n))).collect();
    }
    let file = File::open(source).about(|| format!("cannot open {}", source.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; names.len()];
    let bad = || format!("{} is not a readable .tar.gz archive", source.display());
    for entry in archive.entries().about(bad)? {
        let mut entry = entry.about(bad)?;
        let path = entry.path().about(bad)?.into_owned();
        let Some(i) = path
            .file_name()
            .and_then(|f| names.iter().position(|n| f == *n))
        else {
            continue;
        };
        // Grows with what the archive really holds, whatever its header claims.
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).about(bad)?;
        found[i] = Some(bytes);
    }
    names
        .iter()
        .zip(found)
        .map(|(n, f)| {
            f.ok_or_else(|| Error::Missing(format!("{} has no member {n}", source.display())))
        })
        .collect()
}
