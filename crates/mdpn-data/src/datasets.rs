//! Opening a data set, the same for every front end: a known name (see `mdpn datasets`), a
//! folder of MNIST-style IDX files, or a folder of images. Known sets are found by [`locate`]
//! and read by [`load`](crate::load) (and, with the `network` feature, fetched when missing);
//! this module reads the folders given by path, and decodes PNG and JPEG files.
//!
//! [`locate`]: crate::locate

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::{Path, PathBuf};

use crate::decoded_image::planes;
use crate::idx::{self, Idx, IDX_FILES};
use crate::load::{idx_parts, read_idx_files, read_known};
use crate::locate::{find_file, locate_source, source};
use crate::registry::{self, Format};
use anyhow::{bail, Context};
use image::{DynamicImage, ImageDecoder, ImageReader};
use mdpn::splits::{Protocol, Splits};
use mdpn::Task;
use mdpn::{Dataset, Parts};
use rayon::prelude::*;

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
    /// Whether mirror images keep their classes, where the registry knows the set.
    pub mirror_symmetric: Option<bool>,
}

/// Colour conversion of an image folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Color {
    Gray,
    Rgb,
}

/// Where to look for data and whether to fetch what is missing.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DataArgs {
    /// A known data set (`mdpn datasets` lists them; MedMNIST sizes as `pathmnist_64`), a folder
    /// of the four MNIST-style IDX files, or an image folder (`root/<class>/*.png|jpg`, optionally
    /// under `train/`, `val/`, `test/`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "fashion-mnist"))]
    pub dataset: String,
    /// Folder searched first for known data sets (itself and its `<name>/`), and where
    /// downloads go.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Image folders: convert every image to gray or rgb (default: rgb if any image has colour).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub color: Option<Color>,
    /// Image folders: the side every image is resized to (from `train --image-size`, or the
    /// model's input when evaluating); by default all images must share one square size.
    #[cfg_attr(feature = "clap", arg(skip))]
    pub image_size: Option<usize>,
    /// IDX folders: N classes, labels 0..N-1, some of which may have no training image (by
    /// default the classes are 0 to the largest label, and each needs training images).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub classes: Option<usize>,
}

/// Most classes `--classes` may declare (ImageNet-21k has 21,841).
const MAX_CLASSES: usize = 1 << 16;

/// Normalisation of data sets the authors did not use: MNIST's for IDX folders, 0.5 / 0.5
/// (their choice for colour sets) for image folders.
const IDX_FOLDER_NORM: (f32, f32) = (0.1307, 0.3081);
const IMAGE_FOLDER_NORM: (f32, f32) = (0.5, 0.5);

/// Whether this build fetches missing known sets (the `network` feature).
const FETCHES: bool = cfg!(feature = "network");

/// Fetches a missing known set into `data_dir` (or the cache): through apt, else by download.
#[cfg(feature = "network")]
fn fetch(ds: &registry::KnownDataset, data_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    crate::obtain::obtain(ds, data_dir, None)
}

#[cfg(not(feature = "network"))]
fn fetch(ds: &registry::KnownDataset, _: Option<&Path>) -> anyhow::Result<PathBuf> {
    bail!(
        "{} is missing and this build cannot fetch it (mdpn-data without its `network` feature): put its files in place",
        ds.name
    )
}

/// Finds and reads a data set; a known one that is missing is fetched when `fetch_missing`
/// (and the `network` feature is on).
pub fn load(args: &DataArgs, fetch_missing: bool) -> anyhow::Result<Loaded> {
    let spec = &args.dataset;
    let data_dir = args.data_dir.as_deref();
    let known = registry::lookup(spec);
    let idx_folder = known.is_none()
        && IDX_FILES
            .iter()
            .any(|f| find_file(Path::new(spec), f).is_some());
    if let (Some(n), false) = (args.classes, idx_folder) {
        bail!("--classes {n} is for folders of IDX files; {spec} names its own classes");
    }
    if let Some((ds, size)) = known {
        let (folder, source) = match locate_source(ds, data_dir, size) {
            Ok(found) => found,
            Err(_) if fetch_missing && FETCHES && size == 28 && !ds.urls.is_empty() => {
                let folder = fetch(ds, data_dir)?;
                let source = source(ds, &folder, size)
                    .with_context(|| format!("{} is incomplete", folder.display()))?;
                (folder, source)
            }
            Err(not_found) => return Err(not_found.into()),
        };
        let parts = read_known(ds, &source)?;
        let mut loaded = finish(spec, folder, parts, ds.normalisation)?;
        loaded.mirror_symmetric = Some(ds.mirror_symmetric());
        return Ok(loaded);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        if idx_folder {
            let names = args.classes.map(class_numbers).transpose()?;
            let names: Option<Vec<&str>> = names
                .as_ref()
                .map(|n| n.iter().map(String::as_str).collect());
            let parts = read_idx_folder(path, names.as_deref())?;
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

/// The class names `0`..`n-1` of `--classes n`.
fn class_numbers(n: usize) -> anyhow::Result<Vec<String>> {
    if !(2..=MAX_CLASSES).contains(&n) {
        bail!("--classes {n}: expected 2 to {MAX_CLASSES} classes");
    }
    Ok((0..n).map(|c| c.to_string()).collect())
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
        mirror_symmetric: None,
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

/// The four MNIST-style IDX files of `folder`. With class names (a known set, or `--classes`),
/// labels must be below their count, and a class without training images is only warned
/// about. Without, the classes are 0..=the largest label of either split, and every one of them
/// needs training images: a training set of one class, or labels the test set has and the
/// training set lacks, mean the files do not go together.
fn read_idx_folder(folder: &Path, classes: Option<&[&str]>) -> anyhow::Result<Parts> {
    let arrays = read_idx_files(folder, &IDX_FILES)?;
    let label_set = |(path, labels): &(PathBuf, Idx)| -> anyhow::Result<BTreeSet<u32>> {
        Ok(labels
            .labels()
            .with_context(|| format!("{} holds no class labels", path.display()))?
            .into_iter()
            .collect())
    };
    let (train, test) = (label_set(&arrays[1])?, label_set(&arrays[3])?);
    let train_path = arrays[1].0.display();
    let mut warning = None;
    let class_names: Vec<String> = match classes {
        Some(c) => {
            let absent: Vec<u32> = (0..c.len() as u32).filter(|l| !train.contains(l)).collect();
            if !absent.is_empty() {
                warning = Some(format!(
                    "{train_path}: no training image of class {} (of {} classes)",
                    label_list(&absent),
                    c.len()
                ));
            }
            c.iter().map(|s| s.to_string()).collect()
        }
        None => {
            let max = train.iter().chain(&test).copied().max().unwrap_or(0);
            let absent: Vec<u32> = (0..=max).filter(|l| !train.contains(l)).collect();
            if train.len() < 2 || !absent.is_empty() {
                let problem = if train.len() < 2 {
                    "a classifier needs training images of at least two classes".to_string()
                } else {
                    let (noun, verb) = if absent.len() == 1 {
                        ("class", "has")
                    } else {
                        ("classes", "have")
                    };
                    format!("{noun} {} {verb} no training image", label_list(&absent))
                };
                let train_list = label_list(&train.iter().copied().collect::<Vec<_>>());
                let test_list = label_list(&test.iter().copied().collect::<Vec<_>>());
                bail!(
                    "{train_path}: the training labels are {train_list} {} the test labels are {test_list}; {problem}. \
                     The classes were inferred from both label files as 0..={max}; if they are 0..N-1 \
                     and some have no training image, pass --classes N",
                    if train == test { "and" } else { "but" }
                );
            }
            (0..=max).map(|c| c.to_string()).collect()
        }
    };
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let parts = idx_parts(arrays, |images, labels| {
        idx::dataset(images, labels, &names)
    })?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(parts)
}

/// Sorted labels as a short set, runs written as ranges: `{0..=9, 200}`.
fn label_list(sorted: &[u32]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut rest = sorted;
    while let Some(&first) = rest.first() {
        let len = 1 + rest
            .windows(2)
            .take_while(|pair| pair[0].checked_add(1) == Some(pair[1]))
            .count();
        let last = rest[len - 1];
        runs.push(match len {
            1 => first.to_string(),
            2 => format!("{first}, {last}"),
            _ => format!("{first}..={last}"),
        });
        rest = &rest[len..];
    }
    const SHOWN: usize = 12;
    if runs.len() > SHOWN {
        let more = runs.len() - SHOWN;
        runs.truncate(SHOWN);
        runs.push(format!("... ({more} more runs)"));
    }
    format!("{{{}}}", runs.join(", "))
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
///
/// The files' headers are read first, for their sizes and colours; then each image is decoded,
/// resized and converted on its own (in parallel) straight into its place in the data set, so
/// memory holds the resized data set and one full-size image per thread, never every image at
/// full size.
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
    if let Some(n) = size {
        if !(1..=MAX_IMAGE_FOLDER_SIDE).contains(&n) {
            bail!(
                "image size {n}: images of an image folder are resized to 1 to {MAX_IMAGE_FOLDER_SIDE} pixels a side (--image-size N)"
            );
        }
    }
    let headers: Vec<anyhow::Result<ImageHeader>> = files
        .par_iter()
        .map(|(_, _, path)| {
            image_header(path)
                .with_context(|| format!("{} is not a readable PNG or JPEG image", path.display()))
        })
        .collect();
    let headers = headers.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let side = match size {
        Some(s) => s,
        None => {
            let (w, h) = (headers[0].width, headers[0].height);
            if let Some((img, (_, _, path))) = headers
                .iter()
                .zip(&files)
                .find(|(img, _)| (img.width, img.height) != (w, w))
            {
                bail!(
                    "{} is {}x{} but {} is {w}x{h}; images must share one square size, or pass --image-size N to resize them",
                    path.display(),
                    img.width,
                    img.height,
                    files[0].2.display()
                );
            }
            if w as usize > MAX_IMAGE_FOLDER_SIDE {
                bail!(
                    "the images of {} are {w}x{w}, larger than {MAX_IMAGE_FOLDER_SIDE} pixels a side; pass --image-size N to resize them",
                    root.display()
                );
            }
            w as usize
        }
    };
    let color = color.unwrap_or(if headers.iter().any(|h| h.color) {
        Color::Rgb
    } else {
        Color::Gray
    });
    let channels = if color == Color::Rgb { 3 } else { 1 };
    let image_len = channels * side * side;
    let mut parts: [(Vec<u8>, Vec<u32>); 3] = Default::default();
    for (split, (images, labels)) in parts.iter_mut().enumerate() {
        labels.extend(
            files
                .iter()
                .filter(|(s, _, _)| *s == split)
                .map(|(_, class, _)| class_names.binary_search(class).expect("listed") as u32),
        );
        *images = vec![0; labels.len() * image_len];
    }
    // Each file's place in its split's images, in file order.
    let mut places: [_; 3] = parts
        .each_mut()
        .map(|(images, _)| images.chunks_exact_mut(image_len));
    let slots: Vec<&mut [u8]> = files
        .iter()
        .map(|(split, _, _)| places[*split].next().expect("one place per file"))
        .collect();
    let done: Vec<anyhow::Result<()>> = slots
        .into_par_iter()
        .zip(&files)
        .map(|(slot, (_, _, path))| {
            let bytes =
                fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let img = decode_image(&bytes).with_context(|| {
                format!("{} is not a readable PNG or JPEG image", path.display())
            })?;
            slot.copy_from_slice(&planes(img, side as u32, channels));
            Ok(())
        })
        .collect();
    done.into_iter().collect::<anyhow::Result<()>>()?;
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

/// Largest side of the images of a data set read from an image folder, resized or not: past
/// it a data set of a few thousand images no longer fits in memory, and the model would have
/// billions of parameters.
const MAX_IMAGE_FOLDER_SIDE: usize = 1024;

/// A reader of PNG or JPEG bytes, its format guessed from them, within [`IMAGE_MAX_SIDE`] and
/// [`IMAGE_MAX_ALLOC`].
fn image_reader<R: BufRead + Seek>(bytes: R) -> image::ImageResult<ImageReader<R>> {
    let mut reader = ImageReader::new(bytes).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(IMAGE_MAX_SIDE);
    limits.max_image_height = Some(IMAGE_MAX_SIDE);
    limits.max_alloc = Some(IMAGE_MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// Decodes a PNG or JPEG file's bytes, within [`IMAGE_MAX_SIDE`] and [`IMAGE_MAX_ALLOC`].
pub fn decode_image(bytes: &[u8]) -> image::ImageResult<DynamicImage> {
    image_reader(Cursor::new(bytes))?.decode()
}

/// What an image file's header says: its size, and whether it has colour (as the decoded
/// image's [`DynamicImage::color`] will).
struct ImageHeader {
    width: u32,
    height: u32,
    color: bool,
}

/// Reads the header of the PNG or JPEG file at `path`, not its pixels.
fn image_header(path: &Path) -> anyhow::Result<ImageHeader> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let decoder = image_reader(BufReader::new(file))?.into_decoder()?;
    let (width, height) = decoder.dimensions();
    Ok(ImageHeader {
        width,
        height,
        color: decoder.color_type().has_color(),
    })
}
