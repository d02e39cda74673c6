//! The twelve 2D MedMNIST sets (v2 and v3): their classes and tasks, and their `.npz` files.

use crate::npy::{Array, Npz};
use mdpn::Task;
use mdpn::{Dataset, Parts};
use mdpn::{Error, Result};

/// MedMNIST's task types, as its `INFO` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MedTask {
    MultiClass,
    Binary,
    OrdinalRegression,
    MultiLabel,
}

impl MedTask {
    /// How the model trains for it: ordinal and binary sets as multi-class, as MedMNIST does.
    pub fn task(self) -> Task {
        match self {
            MedTask::MultiLabel => Task::MultiLabel,
            _ => Task::MultiClass,
        }
    }

    /// MedMNIST's name for the task.
    pub fn name(self) -> &'static str {
        match self {
            MedTask::MultiClass => "multi-class",
            MedTask::Binary => "binary-class",
            MedTask::OrdinalRegression => "ordinal-regression",
            MedTask::MultiLabel => "multi-label, binary-class",
        }
    }
}

/// One MedMNIST set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MedInfo {
    /// Its flag, also the file name stem (`pathmnist`, `pathmnist_64`...).
    pub name: &'static str,
    pub task: MedTask,
    pub channels: usize,
    pub classes: &'static [&'static str],
}

const ORGANS: &[&str] = &[
    "bladder",
    "femur-left",
    "femur-right",
    "heart",
    "kidney-left",
    "kidney-right",
    "liver",
    "lung-left",
    "lung-right",
    "pancreas",
    "spleen",
];

/// The twelve 2D sets, with MedMNIST's class names in label order.
pub const MEDMNIST: [MedInfo; 12] = [
    MedInfo {
        name: "pathmnist",
        task: MedTask::MultiClass,
        channels: 3,
        classes: &[
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ],
    },
    MedInfo {
        name: "chestmnist",
        task: MedTask::MultiLabel,
        channels: 1,
        classes: &[
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
        ],
    },
    MedInfo {
        name: "dermamnist",
        task: MedTask::MultiClass,
        channels: 3,
        classes: &[
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ],
    },
    MedInfo {
        name: "octmnist",
        task: MedTask::MultiClass,
        channels: 1,
        classes: &[
            "choroidal neovascularization",
            "diabetic macular edema",
            "drusen",
            "normal",
        ],
    },
    MedInfo {
        name: "pneumoniamnist",
        task: MedTask::Binary,
        channels: 1,
        classes: &["normal", "pneumonia"],
    },
    MedInfo {
        name: "retinamnist",
        task: MedTask::OrdinalRegression,
        channels: 3,
        classes: &["0", "1", "2", "3", "4"],
    },
    MedInfo {
        name: "breastmnist",
        task: MedTask::Binary,
        channels: 1,
        classes: &["malignant", "normal, benign"],
    },
    MedInfo {
        name: "bloodmnist",
        task: MedTask::MultiClass,
        channels: 3,
        classes: &[
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ],
    },
    MedInfo {
        name: "tissuemnist",
        task: MedTask::MultiClass,
        channels: 1,
        classes: &[
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
        ],
    },
    MedInfo {
        name: "organamnist",
        task: MedTask::MultiClass,
        channels: 1,
        classes: ORGANS,
    },
    MedInfo {
        name: "organcmnist",
        task: MedTask::MultiClass,
        channels: 1,
        classes: ORGANS,
    },
    MedInfo {
        name: "organsmnist",
        task: MedTask::MultiClass,
        channels: 1,
        classes: ORGANS,
    },
];

/// The image sides MedMNIST v3 publishes; 28 is the v2 size and the plain `<name>.npz`.
pub const SIZES: [usize; 4] = [28, 64, 128, 224];

impl MedInfo {
    /// The file of the set at image side `size`: `<name>.npz` for 28, else `<name>_<size>.npz`.
    pub fn file(&self, size: usize) -> String {
        match size {
            28 => format!("{}.npz", self.name),
            s => format!("{}_{s}.npz", self.name),
        }
    }
}

/// The set named `name` (`pathmnist`), if it is one of the twelve.
pub fn info(name: &str) -> Option<&'static MedInfo> {
    MEDMNIST.iter().find(|m| m.name == name)
}

/// Reads a MedMNIST `.npz` (`train_images`, `train_labels`, `val_*`, `test_*`) into its official
/// train, validation and test parts. Gray images are `(N, H, W)`, RGB `(N, H, W, 3)`; labels
/// `(N, 1)` class numbers, or `(N, 14)` zeros and ones for ChestMNIST.
pub fn parse(bytes: &[u8], info: &MedInfo) -> Result<Parts> {
    let mut npz = Npz::parse(bytes)?;
    let mut part = |split: &str| -> Result<Dataset> {
        let images = npz.array(&format!("{split}_images"))?;
        let labels = npz.array(&format!("{split}_labels"))?;
        part_from_arrays(images, labels, info)
            .map_err(|e| Error::Format(format!("{split} split: {e}")))
    };
    Ok(Parts {
        train: part("train")?,
        validation: Some(part("val")?),
        test: part("test")?,
    })
}

/// One split from its image and label arrays.
fn part_from_arrays(images: Array, labels: Array, info: &MedInfo) -> Result<Dataset> {
    let shape = &images.shape;
    let ok_shape = match info.channels {
        1 => shape.len() == 3,
        c => shape.len() == 4 && shape[3] == c,
    };
    if !ok_shape {
        return Err(Error::Format(format!(
            "images have shape {shape:?}; {} expects (N, H, W{})",
            info.name,
            if info.channels == 1 { "" } else { ", 3" }
        )));
    }
    let (n, h, w) = (shape[0], shape[1], shape[2]);
    if h == 0 || h != w {
        return Err(Error::Format(format!(
            "images are {h}x{w}; only square images of at least one pixel are supported"
        )));
    }
    let classes = info.classes.len();
    let per_image = if info.task == MedTask::MultiLabel {
        classes
    } else {
        1
    };
    if labels.shape.first() != Some(&n) {
        return Err(Error::Shape(format!(
            "{n} images but labels of shape {:?}",
            labels.shape
        )));
    }
    if labels.len() != n * per_image {
        return Err(Error::Format(format!(
            "labels have shape {:?}; {} expects ({n}, {per_image})",
            labels.shape, info.name
        )));
    }
    let pixels = images.pixels()?;
    // (N, H, W, C) to (N, C, H, W).
    let c = info.channels;
    let pixels = if c == 1 {
        pixels
    } else {
        let mut chw = vec![0u8; pixels.len()];
        for (img, out) in pixels
            .chunks_exact(h * w * c)
            .zip(chw.chunks_exact_mut(h * w * c))
        {
            for (p, rgb) in img.chunks_exact(c).enumerate() {
                for (ch, &v) in rgb.iter().enumerate() {
                    out[ch * h * w + p] = v;
                }
            }
        }
        chw
    };
    let mut values = Vec::with_capacity(n * per_image);
    for i in 0..labels.len() {
        let v = labels.get(i);
        if v.fract() != 0.0 || v < 0.0 {
            return Err(Error::Format(format!(
                "label {v} of image {} is not a class number",
                i / per_image
            )));
        }
        values.push(v as u32);
    }
    let names: Vec<String> = info.classes.iter().map(|s| s.to_string()).collect();
    if info.task == MedTask::MultiLabel {
        let mut masks = Vec::with_capacity(n);
        for (i, row) in values.chunks_exact(classes).enumerate() {
            let mut mask = 0u32;
            for (l, &v) in row.iter().enumerate() {
                if v > 1 {
                    return Err(Error::Format(format!(
                        "label {l} of image {i} is {v}; multi-label labels are 0 or 1"
                    )));
                }
                mask |= v << l;
            }
            masks.push(mask);
        }
        Dataset::multi_label(pixels, masks, c, h, names)
    } else {
        Dataset::new(pixels, values, c, h, names)
    }
}
