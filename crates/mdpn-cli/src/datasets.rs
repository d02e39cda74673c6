//! Data sets on disk: a known name or a folder of MNIST-style IDX files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mdpn::data::{Dataset, FASHION_MNIST_CLASSES};
use mdpn::idx::Idx;

use crate::fetch;

/// The four files of an MNIST-style data set, without the optional `.gz`.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A data set's training and test sets, with its name and default normalisation.
pub struct Loaded {
    pub name: String,
    pub folder: PathBuf,
    pub train: Dataset,
    pub test: Dataset,
    /// Normalisation the authors used for this set (mean, std).
    pub normalisation: (f32, f32),
}

/// Where to look for data and whether to fetch what is missing.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// A known data set (fashion-mnist) or a folder holding the four MNIST-style IDX files.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Folder searched first for known data sets, and where downloads go.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Finds and reads a data set; a known one that is missing is fetched when `fetch_missing`.
pub fn load(args: &DataArgs, fetch_missing: bool) -> anyhow::Result<Loaded> {
    let spec = &args.dataset;
    let (name, folder, classes): (String, PathBuf, Option<&[&str]>) =
        if let Some(known) = fetch::known(spec) {
            let folder = if fetch_missing {
                fetch::obtain(known, args.data_dir.as_deref(), None)?
            } else {
                fetch::locate(known, args.data_dir.as_deref())?
            };
            (
                known.name.to_string(),
                folder,
                Some(&FASHION_MNIST_CLASSES[..]),
            )
        } else if Path::new(spec).is_dir() {
            (spec.clone(), PathBuf::from(spec), None)
        } else {
            bail!(
            "unknown data set `{spec}`: give a known name (fashion-mnist) or a folder holding {}",
            IDX_FILES.map(|f| format!("{f}[.gz]")).join(", ")
        );
        };
    let mut arrays = Vec::new();
    for base in IDX_FILES {
        let path = fetch::find_file(&folder, base)
            .with_context(|| format!("{} has no {base} or {base}.gz", folder.display()))?;
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let idx = Idx::parse(&bytes)
            .with_context(|| format!("{} is not a valid IDX file", path.display()))?;
        arrays.push((path, idx));
    }
    let class_names: Vec<String> = match classes {
        Some(c) => c.iter().map(|s| s.to_string()).collect(),
        None => {
            let max = arrays[1]
                .1
                .data
                .iter()
                .chain(&arrays[3].1.data)
                .copied()
                .max()
                .unwrap_or(0);
            (0..=max).map(|c| c.to_string()).collect()
        }
    };
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let mut arrays = arrays.into_iter();
    let mut set = |which: &str| -> anyhow::Result<Dataset> {
        let (images_path, images) = arrays.next().expect("four files");
        let (labels_path, labels) = arrays.next().expect("four files");
        Dataset::from_idx(images, labels, &names).with_context(|| {
            format!(
                "{which} set ({} with {})",
                images_path.display(),
                labels_path.display()
            )
        })
    };
    let train = set("training")?;
    let test = set("test")?;
    if (train.channels, train.size) != (test.channels, test.size) {
        bail!(
            "training images are {0}x{0} but test images {1}x{1}",
            train.size,
            test.size
        );
    }
    // Fashion-MNIST was used without normalisation by the authors; other IDX sets follow MNIST.
    let normalisation = if name == "fashion-mnist" {
        (0.0, 1.0)
    } else {
        (0.1307, 0.3081)
    };
    Ok(Loaded {
        name,
        folder,
        train,
        test,
        normalisation,
    })
}
