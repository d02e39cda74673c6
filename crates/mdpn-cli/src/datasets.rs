//! Data sets on disk: a known name (see `mdpn datasets`), a folder of MNIST-style IDX files, or
//! a folder of images. Known sets are found and read by `mdpn_data` (and fetched when missing);
//! this module reads the folders given by path.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use image::imageops::FilterType;
use image::DynamicImage;
use mdpn::splits::{Protocol, Splits};
use mdpn::Task;
use mdpn::{Dataset, Parts};
use mdpn_data::idx::{self, IDX_FILES};
use mdpn_data::load::{read_idx, read_known};
use mdpn_data::locate::{find_file, locate_source, source};
use mdpn_data::registry::{self, Format};

use crate::obtain::obtain;

/// A data set's training and test sets, with its name and default normalisation.
pub struct Loaded {
    pub name: String,
    pub folder: PathBuf,
    /// Training images, followed by the set's official validation images if it has some.
    pub train: Dataset,
    /// How many images at the end of `train` are the official validation set (0: none).
    pub official_validation: usize,
    pub test: Dataset,
    /// Normalisation the authors used for this set (mean, std).
    pub normalisation: (f32, f32),
}

/// Colour conversion of an image folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Gray,
    Rgb,
}

/// Where to look for data and whether to fetch what is missing.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// A known data set (`mdpn datasets` lists them; MedMNIST sizes as `pathmnist_64`), a folder
    /// of the four MNIST-style IDX files, or an image folder (`root/<class>/*.png|jpg`, optionally
    /// under `train/`, `val/`, `test/`).
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Folder searched first for known data sets (itself and its `<name>/`), and where
    /// downloads go.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Image folders: convert every image to gray or rgb (default: rgb if any image has colour).
    #[arg(long, value_enum)]
    pub color: Option<Color>,
    /// Image folders: the side every image is resized to (from `train --image-size`, or the
    /// model's input when evaluating); by default all images must share one square size.
    #[arg(skip)]
    pub image_size: Option<usize>,
}

/// Normalisation of data sets the authors did not use: MNIST's for IDX folders, 0.5 / 0.5
/// (their choice for colour sets) for image folders.
const IDX_FOLDER_NORM: (f32, f32) = (0.1307, 0.3081);
const IMAGE_FOLDER_NORM: (f32, f32) = (0.5, 0.5);

/// Finds and reads a data set; a known one that is missing is fetched when `fetch_missing`.
pub fn load(args: &DataArgs, fetch_missing: bool) -> anyhow::Result<Loaded> {
    let spec = &args.dataset;
    let data_dir = args.data_dir.as_deref();
    if let Some((ds, size)) = registry::lookup(spec) {
        let (folder, source) = match locate_source(ds, data_dir, size) {
            Ok(found) => found,
            Err(_) if fetch_missing && size == 28 && !ds.urls.is_empty() => {
                let folder = obtain(ds, data_dir, None)?;
                let source = source(ds, &folder, size)
                    .with_context(|| format!("{} is incomplete", folder.display()))?;
                (folder, source)
            }
            Err(not_found) => return Err(not_found.into()),
        };
        let parts = read_known(ds, &source)?;
        return finish(spec, folder, parts, ds.normalisation);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        if IDX_FILES.iter().any(|f| find_file(path, f).is_some()) {
            let parts = read_idx_folder(path, None)?;
            return finish(spec, path.to_path_buf(), parts, IDX_FOLDER_NORM);
        }
        let parts = read_image_folder(path, args.image_size, args.color)?;
        return finish(spec, path.to_path_buf(), parts, IMAGE_FOLDER_NORM);
    }
    bail!(
        "unknown data set `{spec}`: give a known name ({}), a folder holding {}, or an image folder",
        registry::names().join(", "),
        IDX_FILES.map(|f| format!("{f}[.gz]")).join(", ")
    )
}

/// What a data set named on the command line asks of a model, known before reading it: only
/// known MedMNIST sets can be multi-label (ChestMNIST); folders are multi-class.
pub fn task_of(spec: &str) -> Task {
    match registry::lookup(spec).map(|(ds, _)| ds.format) {
        Some(Format::MedMnist(info)) => info.task.task(),
        _ => Task::MultiClass,
    }
}

/// Joins the official validation images to the training set and checks the parts agree.
fn finish(
    name: &str,
    folder: PathBuf,
    parts: Parts,
    normalisation: (f32, f32),
) -> anyhow::Result<Loaded> {
    let (train, official_validation) = match parts.validation {
        Some(v) => {
            let n = v.len();
            (
                Dataset::concat(vec![parts.train, v])
                    .context("the validation images do not match the training images")?,
                n,
            )
        }
        None => (parts.train, 0),
    };
    let test = parts.test;
    if (train.channels, train.size) != (test.channels, test.size) {
        bail!(
            "training images are {0}x{1}x{1} but test images {2}x{3}x{3}",
            train.channels,
            train.size,
            test.channels,
            test.size
        );
    }
    Ok(Loaded {
        name: name.to_string(),
        folder,
        train,
        official_validation,
        test,
        normalisation,
    })
}

/// Train, validation and test splits of `data`: a set with an official validation split uses
/// it in place of the holdout fraction; the paper's protocol draws from its test set as usual.
pub fn splits(data: &Loaded, protocol: Protocol, seed: u64) -> anyhow::Result<Splits> {
    let train_len = data.train.len() - data.official_validation;
    Ok(match protocol {
        Protocol::Holdout { .. } if data.official_validation > 0 => {
            Splits::official(train_len, data.official_validation, data.test.len())?
        }
        _ => Splits::new(train_len, data.test.len(), protocol, seed)?,
    })
}

/// The four MNIST-style IDX files of `folder`; without class names, labels name themselves.
fn read_idx_folder(folder: &Path, classes: Option<&[&str]>) -> anyhow::Result<Parts> {
    let mut arrays = Vec::new();
    for base in IDX_FILES {
        arrays.push(read_idx(folder, base)?);
    }
    let class_names: Vec<String> = match classes {
        Some(c) => c.iter().map(|s| s.to_string()).collect(),
        None => {
            let mut max = 0;
            for (path, labels) in [&arrays[1], &arrays[3]] {
                let values = labels
                    .labels()
                    .with_context(|| format!("{} holds no class labels", path.display()))?;
                max = values.iter().copied().fold(max, u32::max);
            }
            (0..=max).map(|c| c.to_string()).collect()
        }
    };
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let mut arrays = arrays.into_iter();
    let mut set = |which: &str| -> anyhow::Result<Dataset> {
        let (images_path, images) = arrays.next().expect("four files");
        let (labels_path, labels) = arrays.next().expect("four files");
        idx::dataset(images, labels, &names).with_context(|| {
            format!(
                "{which} set ({} with {})",
                images_path.display(),
                labels_path.display()
            )
        })
    };
    Ok(Parts {
        train: set("training")?,
        validation: None,
        test: set("test")?,
    })
}

/// Images in an image folder, by class: PNG and JPEG files, in name order.
fn class_files(root: &Path) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut classes = Vec::new();
    let entries = fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))?;
    for entry in entries {
        let dir = entry
            .with_context(|| format!("cannot read {}", root.display()))?
            .path();
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str())
                })
            })
            .collect();
        files.sort();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        classes.push((name, files));
    }
    classes.sort();
    Ok(classes)
}

/// A folder of images: `root/<class>/*` with `train/` and `test/` (and optionally `val/`)
/// subfolders, or without them, when every fifth image of each class (in name order) tests.
/// Images are resized to `size` if given (else they must all share one square size) and
/// converted to `color` (default: rgb if any has colour).
fn read_image_folder(
    root: &Path,
    size: Option<usize>,
    color: Option<Color>,
) -> anyhow::Result<Parts> {
    let split_dirs = ["train", "val", "test"].map(|s| root.join(s));
    // (split, class name, file) with split 0 train, 1 validation, 2 test.
    let mut files: Vec<(usize, String, PathBuf)> = Vec::new();
    if split_dirs[0].is_dir() && split_dirs[2].is_dir() {
        for (split, dir) in split_dirs.iter().enumerate() {
            if dir.is_dir() {
                for (class, paths) in class_files(dir)? {
                    files.extend(paths.into_iter().map(|p| (split, class.clone(), p)));
                }
            }
        }
    } else {
        for (class, paths) in class_files(root)? {
            for (i, p) in paths.into_iter().enumerate() {
                files.push((if i % 5 == 4 { 2 } else { 0 }, class.clone(), p));
            }
        }
    }
    if files.is_empty() {
        bail!(
            "{} holds neither MNIST-style IDX files ({}) nor PNG or JPEG images in class folders (root/<class>/*.png, optionally under train/ and test/)",
            root.display(),
            IDX_FILES.join(", ")
        );
    }
    let mut class_names: Vec<String> = files.iter().map(|(_, c, _)| c.clone()).collect();
    class_names.sort();
    class_names.dedup();
    let mut decoded = Vec::with_capacity(files.len());
    for (_, _, path) in &files {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let img = decode_image(&bytes)
            .with_context(|| format!("{} is not a readable PNG or JPEG image", path.display()))?;
        decoded.push(img);
    }
    let side = match size {
        Some(s) => s,
        None => {
            let (w, h) = (decoded[0].width(), decoded[0].height());
            if let Some((img, (_, _, path))) = decoded
                .iter()
                .zip(&files)
                .find(|(img, _)| (img.width(), img.height()) != (w, w))
            {
                bail!(
                    "{} is {}x{} but {} is {w}x{h}; images must share one square size, or pass --image-size N to resize them",
                    path.display(),
                    img.width(),
                    img.height(),
                    files[0].2.display()
                );
            }
            w as usize
        }
    };
    let color = color.unwrap_or(if decoded.iter().any(|i| i.color().has_color()) {
        Color::Rgb
    } else {
        Color::Gray
    });
    let channels = if color == Color::Rgb { 3 } else { 1 };
    let mut parts: [(Vec<u8>, Vec<u32>); 3] = Default::default();
    for (img, (split, class, _)) in decoded.into_iter().zip(&files) {
        let (images, labels) = &mut parts[*split];
        images.extend(planes(img, side as u32, color));
        labels.push(class_names.binary_search(class).expect("listed") as u32);
    }
    let [train, val, test] = parts;
    let set = |(images, labels): (Vec<u8>, Vec<u32>), which: &str| -> anyhow::Result<Dataset> {
        if labels.is_empty() {
            bail!("{} has no {which} image", root.display());
        }
        Ok(Dataset::new(
            images,
            labels,
            channels,
            side,
            class_names.clone(),
        )?)
    };
    let validation = if val.1.is_empty() {
        None
    } else {
        Some(set(val, "validation")?)
    };
    Ok(Parts {
        train: set(train, "training")?,
        validation,
        test: set(test, "test")?,
    })
}

/// Largest side of an image file that is decoded, and most bytes its decoding may allocate: a
/// small file cannot claim gigabytes (a 16384x16384 RGBA image is 1 GiB).
const IMAGE_MAX_SIDE: u32 = 8192;
const IMAGE_MAX_ALLOC: u64 = 256 << 20;

/// Decodes a PNG or JPEG file's bytes, within [`IMAGE_MAX_SIDE`] and [`IMAGE_MAX_ALLOC`].
pub fn decode_image(bytes: &[u8]) -> image::ImageResult<DynamicImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(IMAGE_MAX_SIDE);
    limits.max_image_height = Some(IMAGE_MAX_SIDE);
    limits.max_alloc = Some(IMAGE_MAX_ALLOC);
    reader.limits(limits);
    reader.decode()
}

/// An image as the model takes it: `side`x`side`, planes in (channel, row, column) order.
pub fn planes(img: DynamicImage, side: u32, color: Color) -> Vec<u8> {
    let img = if (img.width(), img.height()) != (side, side) {
        img.resize_exact(side, side, FilterType::Triangle)
    } else {
        img
    };
    match color {
        Color::Gray => img.to_luma8().into_raw(),
        Color::Rgb => {
            let rgb = img.to_rgb8();
            (0..3)
                .flat_map(|ch| rgb.pixels().map(move |p| p[ch]))
                .collect()
        }
    }
}
