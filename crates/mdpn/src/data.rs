//! Data sets in memory: 8-bit images with labels, splits, and batches.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{Task, MAX_MULTI_LABELS};
use crate::error::{Error, Result};
use crate::idx::Idx;

/// Fashion-MNIST's class names, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Labelled 8-bit images, `(N, C, H, W)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Vec<u8>,
    /// Class of each image; for a multi-label set, a bit mask of the classes present.
    pub labels: Vec<u32>,
    pub channels: usize,
    pub size: usize,
    pub class_names: Vec<String>,
    pub task: Task,
}

/// A data set's parts as its files define them; `validation` where the set has an official one.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    pub test: Dataset,
}

impl Dataset {
    /// A data set from an IDX image array `(N, H, W)` and an IDX label array `(N)`, of any IDX
    /// type ([`Idx::pixels`], [`Idx::labels`]).
    pub fn from_idx(images: Idx, labels: Idx, class_names: &[&str]) -> Result<Dataset> {
        if images.dims.len() != 3 {
            return Err(Error::Format(format!(
                "images: expected an IDX array with 3 dimensions (images, rows, columns), found dimensions {:?}",
                images.dims
            )));
        }
        if labels.dims.len() != 1 {
            return Err(Error::Format(format!(
                "labels: expected an IDX array with 1 dimension, found dimensions {:?}",
                labels.dims
            )));
        }
        let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
        if n != labels.dims[0] {
            return Err(Error::Shape(format!(
                "{n} images but {} labels",
                labels.dims[0]
            )));
        }
        if h != w {
            return Err(Error::Format(format!(
                "images are {h}x{w}; only square images are supported"
            )));
        }
        let labels = labels.labels()?;
        Dataset::new(
            images.pixels()?,
            labels,
            1,
            h,
            class_names.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// A multi-label data set: `labels` are bit masks, bit `c` set when class `c` is present.
    pub fn multi_label(
        images: Vec<u8>,
        labels: Vec<u32>,
        channels: usize,
        size: usize,
        class_names: Vec<String>,
    ) -> Result<Dataset> {
        let classes = class_names.len();
        if classes > MAX_MULTI_LABELS {
            return Err(Error::Shape(format!(
                "{classes} labels; a multi-label set has at most {MAX_MULTI_LABELS}"
            )));
        }
        check_shape(images.len(), labels.len(), channels, size)?;
        let fits = |l: u32| classes >= 32 || l >> classes == 0;
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| !fits(l)) {
            return Err(Error::Format(format!(
                "label mask {l:#b} of image {i} has bits past the {classes} labels"
            )));
        }
        Ok(Dataset {
            images,
            labels,
            channels,
            size,
            class_names,
            task: Task::MultiLabel,
        })
    }

    /// The images of `parts` one after the other; all must have the same shape, classes and task.
    pub fn concat(parts: Vec<Dataset>) -> Result<Dataset> {
        let mut parts = parts.into_iter();
        let mut all = parts
            .next()
            .ok_or_else(|| Error::Shape("no data set to join".into()))?;
        for p in parts {
            if (p.channels, p.size, p.task, &p.class_names)
                != (all.channels, all.size, all.task, &all.class_names)
            {
                return Err(Error::Shape(format!(
                    "cannot join {}x{}x{} images of {} classes to {}x{}x{} images of {} classes",
                    p.channels,
                    p.size,
                    p.size,
                    p.classes(),
                    all.channels,
                    all.size,
                    all.size,
                    all.classes()
                )));
            }
            all.images.extend(p.images);
            all.labels.extend(p.labels);
        }
        Ok(all)
    }

    /// A data set from its parts, checked for consistency.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u32>,
        channels: usize,
        size: usize,
        class_names: Vec<String>,
    ) -> Result<Dataset> {
        check_shape(images.len(), labels.len(), channels, size)?;
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= class_names.len().max(1))
        {
            return Err(Error::Format(format!(
                "label {l} of image {i} is out of range: the data set has {} classes",
                class_names.len()
            )));
        }
        Ok(Dataset {
            images,
            labels,
            channels,
            size,
            class_names,
            task: Task::MultiClass,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Bytes of one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * self.image_len()..][..self.image_len()]
    }

    /// Copies the images and labels at `indices` into one contiguous batch.
    pub fn batch(&self, indices: &[usize], images: &mut Vec<u8>, labels: &mut Vec<u32>) {
        images.clear();
        labels.clear();
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
    }
}

/// Checks that `bytes` of images hold exactly `labels` images of `channels`x`size`x`size`.
fn check_shape(bytes: usize, labels: usize, channels: usize, size: usize) -> Result<()> {
    let image_len = channels * size * size;
    if image_len == 0 || bytes != labels * image_len {
        return Err(Error::Shape(format!(
            "{labels} labels but {bytes} bytes of images, which is {} images of {channels}x{size}x{size}",
            bytes.checked_div(image_len).unwrap_or(0)
        )));
    }
    Ok(())
}

/// Which file set of a data set a subset draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Train,
    Test,
}

/// Some images of one source, by index.
#[derive(Clone, Debug, PartialEq)]
pub struct Subset {
    pub source: Source,
    pub indices: Vec<usize>,
}

/// How validation images are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    /// Hold out a fraction of the training set, chosen with the seed.
    Holdout { fraction: f64 },
    /// The authors' split: 3,000 random test images for validation, the rest for test.
    Paper,
}

/// Train, validation and test subsets.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Subset,
    pub validation: Subset,
    pub test: Subset,
}

/// Images of the test set that the paper's protocol uses for validation.
pub const PAPER_VALIDATION_IMAGES: usize = 3000;

/// A random number generator for one purpose of one run: the same seed and purpose always give
/// the same stream, whatever else the run did before.
pub fn rng(seed: u64, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(purpose);
    rng
}

/// Stream of the random split.
const SPLIT_STREAM: u64 = 1;

impl Splits {
    /// A set's official split: its own validation images, stored after the first `train_len`
    /// images of the training source, and its whole test set.
    pub fn official(train_len: usize, validation_len: usize, test_len: usize) -> Result<Splits> {
        if train_len == 0 {
            return Err(Error::Config("the split leaves no training image".into()));
        }
        Ok(Splits {
            train: Subset {
                source: Source::Train,
                indices: (0..train_len).collect(),
            },
            validation: Subset {
                source: Source::Train,
                indices: (train_len..train_len + validation_len).collect(),
            },
            test: Subset {
                source: Source::Test,
                indices: (0..test_len).collect(),
            },
        })
    }

    /// Splits `train_len` training and `test_len` test images by `protocol`, with `seed`.
    pub fn new(train_len: usize, test_len: usize, protocol: Protocol, seed: u64) -> Result<Splits> {
        let mut rng = rng(seed, SPLIT_STREAM);
        let (train, validation, test) = match protocol {
            Protocol::Holdout { fraction } => {
                if !(0.0..1.0).contains(&fraction) {
                    return Err(Error::Config(format!(
                        "validation fraction must be in [0, 1), got {fraction}"
                    )));
                }
                let held = (train_len as f64 * fraction).round() as usize;
                let (val, train) = shuffled_split(train_len, held, &mut rng);
                (
                    Subset {
                        source: Source::Train,
                        indices: train,
                    },
                    Subset {
                        source: Source::Train,
                        indices: val,
                    },
                    Subset {
                        source: Source::Test,
                        indices: (0..test_len).collect(),
                    },
                )
            }
            Protocol::Paper => {
                if test_len <= PAPER_VALIDATION_IMAGES {
                    return Err(Error::Config(format!(
                        "the paper protocol takes {PAPER_VALIDATION_IMAGES} test images for validation, but the test set has only {test_len}"
                    )));
                }
                let (val, test) = shuffled_split(test_len, PAPER_VALIDATION_IMAGES, &mut rng);
                (
                    Subset {
                        source: Source::Train,
                        indices: (0..train_len).collect(),
                    },
                    Subset {
                        source: Source::Test,
                        indices: val,
                    },
                    Subset {
                        source: Source::Test,
                        indices: test,
                    },
                )
            }
        };
        if train.indices.is_empty() {
            return Err(Error::Config("the split leaves no training image".into()));
        }
        Ok(Splits {
            train,
            validation,
            test,
        })
    }
}

/// `0..n` shuffled by `rng`, split into its first `held` indices and the rest, each sorted.
fn shuffled_split(n: usize, held: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut rest = order.split_off(held);
    order.sort_unstable();
    rest.sort_unstable();
    (order, rest)
}
