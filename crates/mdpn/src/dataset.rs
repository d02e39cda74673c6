//! Data sets in memory: 8-bit images with labels, and the batches cut from them. The file
//! formats that produce them live in the `mdpn-data` crate.

use crate::config::{Task, MAX_MULTI_LABELS};
use crate::error::{Error, Result};

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

    /// The pixels of the first `n` images (all of them if there are fewer), one after another.
    pub fn first_images(&self, n: usize) -> &[u8] {
        &self.images[..n.min(self.len()) * self.image_len()]
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
