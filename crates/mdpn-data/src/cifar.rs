//! CIFAR-10 and CIFAR-100 in their binary versions: fixed-size records of label byte(s) then
//! 3,072 bytes of 32x32 R, G and B planes, which is already the model's (C, H, W) order.

use mdpn::Dataset;
use mdpn::{Error, Result};

/// CIFAR-10's official download, and the folder it unpacks to with its six batch files.
pub const CIFAR10_ARCHIVE: &str = "cifar-10-binary.tar.gz";
pub const CIFAR10_FOLDER: &str = "cifar-10-batches-bin";
pub const CIFAR10_FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// CIFAR-100's official download, and the folder it unpacks to with its two files.
pub const CIFAR100_ARCHIVE: &str = "cifar-100-binary.tar.gz";
pub const CIFAR100_FOLDER: &str = "cifar-100-binary";
pub const CIFAR100_FILES: [&str; 2] = ["train.bin", "test.bin"];

/// Bytes of one image's pixels.
const PIXELS: usize = 3 * 32 * 32;

/// CIFAR-10's classes, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// CIFAR-100's 20 coarse classes (superclasses), in label order.
pub const CIFAR100_COARSE: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

/// CIFAR-100's 100 fine classes, in label order.
pub const CIFAR100_FINE: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// Which CIFAR-100 labels to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    Fine,
    Coarse,
}

/// Parses a CIFAR-10 batch file (`data_batch_1.bin`... `test_batch.bin`): records of one label
/// byte and 3,072 pixel bytes.
pub fn parse_cifar10(bytes: &[u8]) -> Result<Dataset> {
    let (images, labels) = records(bytes, 1, 0, "CIFAR-10")?;
    Dataset::new(images, labels, 3, 32, names(&CIFAR10_CLASSES))
}

/// Parses a CIFAR-100 file (`train.bin`, `test.bin`): records of a coarse label byte, a fine
/// label byte and 3,072 pixel bytes.
pub fn parse_cifar100(bytes: &[u8], which: Labels) -> Result<Dataset> {
    let (at, classes): (usize, &[&str]) = match which {
        Labels::Coarse => (0, &CIFAR100_COARSE),
        Labels::Fine => (1, &CIFAR100_FINE),
    };
    let (images, labels) = records(bytes, 2, at, "CIFAR-100")?;
    Dataset::new(images, labels, 3, 32, names(classes))
}

fn names(classes: &[&str]) -> Vec<String> {
    classes.iter().map(|s| s.to_string()).collect()
}

/// Splits fixed-size records of `head` label bytes and the pixels; the label is byte `at`.
fn records(bytes: &[u8], head: usize, at: usize, what: &str) -> Result<(Vec<u8>, Vec<u32>)> {
    let record = head + PIXELS;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(Error::Format(format!(
            "{} bytes is not a whole number of {record}-byte {what} records ({} whole, {} bytes over): truncated or not a {what} binary file",
            bytes.len(),
            bytes.len() / record,
            bytes.len() % record
        )));
    }
    let n = bytes.len() / record;
    let mut images = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for r in bytes.chunks_exact(record) {
        labels.push(r[at] as u32);
        images.extend_from_slice(&r[head..]);
    }
    Ok((images, labels))
}
