//! Every constant of the model, with the paper's values as defaults.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::input::Images;

/// Most parameters a model may have (16 GiB of f32): larger settings are refused.
pub const MAX_PARAMETERS: u64 = 1 << 32;

/// The shape and constants of one MDPN model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Colour channels: 1 (gray) or 3 (RGB, one set of dendrites per channel).
    pub channels: usize,
    /// Side of the square input image, in pixels.
    pub image_size: usize,
    /// Number of dendrites M.
    pub dendrites: usize,
    /// Side of each dendrite's window of synapses.
    pub window: usize,
    /// Steepness k of the synapse's arctangent.
    pub k: f32,
    /// Offset c added to every synapse output before the product.
    pub c: f32,
    /// Side and stride of the membrane's max pool.
    pub pool: usize,
    /// Width of the soma layer.
    pub hidden: usize,
    /// Number of classes of the axon layer.
    pub classes: usize,
    /// Input normalisation: `x = (u8/255 - mean) / std`.
    pub mean: f32,
    /// See `mean`.
    pub std: f32,
    /// What the axon layer predicts; files written before this setting existed are multi-class.
    pub task: Task,
    /// Synapse function (ablation setting; the paper's is `atan`).
    pub synapse: SynapseFn,
    /// How a dendrite integrates its synapses (ablation setting; the paper's is `log-product`).
    pub integration: Integration,
}

/// The synapse's squashing function of `z = k·(x·w − q)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SynapseFn {
    /// `Y = 1/2 + atan(z)/π`, as the paper.
    #[default]
    Atan,
    /// `Y = 1/(1 + e^(−z))`, as the earlier dendritic neuron models.
    Sigmoid,
}

/// How a dendrite combines the outputs `Y` of its synapses into one value `D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integration {
    /// `D = Σ_rows ln Π_cols (Y + c)`, as the paper.
    #[default]
    LogProduct,
    /// `D = Σ_rows Σ_cols (Y + c)`, as the authors' RGB code.
    Sum,
    /// `D = Σ_rows Π_cols (Y + c)`.
    Product,
}

impl std::str::FromStr for SynapseFn {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "atan" => Ok(SynapseFn::Atan),
            "sigmoid" => Ok(SynapseFn::Sigmoid),
            _ => Err(Error::Config(format!(
                "unknown synapse function `{s}`: expected atan or sigmoid"
            ))),
        }
    }
}

impl std::str::FromStr for Integration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "log-product" => Ok(Integration::LogProduct),
            "sum" => Ok(Integration::Sum),
            "product" => Ok(Integration::Product),
            _ => Err(Error::Config(format!(
                "unknown dendrite integration `{s}`: expected log-product, sum or product"
            ))),
        }
    }
}

/// What the model predicts, which decides its output function and loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// One class per image: softmax and cross-entropy (binary sets are two classes).
    #[default]
    MultiClass,
    /// Any subset of the classes per image (ChestMNIST): one sigmoid per class and binary
    /// cross-entropy; a label is then a bit mask, bit `c` set when class `c` is present.
    MultiLabel,
}

/// Most classes a multi-label model can have: its labels are `u32` bit masks.
pub const MAX_MULTI_LABELS: usize = 32;

impl Default for Config {
    fn default() -> Self {
        Config {
            channels: 1,
            image_size: 28,
            dendrites: 50,
            window: 5,
            k: 10.0,
            c: 0.6,
            pool: 4,
            hidden: 128,
            classes: 10,
            mean: 0.0,
            std: 1.0,
            task: Task::MultiClass,
            synapse: SynapseFn::Atan,
            integration: Integration::LogProduct,
        }
    }
}

/// The settings [`Config::set`] changes by name.
pub const SETTINGS: [&str; 8] = [
    "synapse",
    "integration",
    "dendrites",
    "hidden",
    "window",
    "pool",
    "k",
    "c",
];

impl Config {
    /// Changes the setting `key` (one of [`SETTINGS`]) to `value`, given as text: how
    /// `mdpn study --ablate KEY=VALUE` and Python name a changed model. Checks only that the
    /// value is one of its kind; [`Config::validate`] checks the model it makes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        fn parsed<T: std::str::FromStr>(value: &str) -> Result<T> {
            value
                .parse()
                .map_err(|_| Error::Config(format!("`{value}` is not a valid value")))
        }
        match key {
            "synapse" => self.synapse = value.parse()?,
            "integration" => self.integration = value.parse()?,
            "dendrites" => self.dendrites = parsed(value)?,
            "hidden" => self.hidden = parsed(value)?,
            "window" => self.window = parsed(value)?,
            "pool" => self.pool = parsed(value)?,
            "k" => self.k = parsed(value)?,
            "c" => self.c = parsed(value)?,
            _ => {
                return Err(Error::Config(format!(
                    "unknown setting `{key}`; expected {}",
                    SETTINGS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Window positions along one side (stride 1, no padding).
    pub fn dendrite_side(&self) -> usize {
        self.image_size
            .checked_sub(self.window)
            .map_or(0, |d| d.saturating_add(1))
    }

    /// Pooled cells along one side (floor: windows past the last full cell are dropped).
    pub fn pooled_side(&self) -> usize {
        self.dendrite_side() / self.pool
    }

    /// Whether the synapse and integration are the paper's, which the 8-bit table kernel
    /// computes; other settings run on the reference kernel.
    pub fn paper_functions(&self) -> bool {
        self.synapse == SynapseFn::Atan && self.integration == Integration::LogProduct
    }

    /// Number of images in `images`, or an error if it is not a whole batch of this size.
    pub fn batch_len(&self, images: Images) -> Result<usize> {
        let len = self.image_len();
        if !images.len().is_multiple_of(len) {
            return Err(Error::Shape(format!(
                "{} input values are not a whole number of {}x{}x{} images",
                images.len(),
                self.channels,
                self.image_size,
                self.image_size
            )));
        }
        Ok(images.len() / len)
    }

    /// Pixels of one image, all channels.
    pub fn image_len(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }

    /// Synapses of one dendrite.
    pub fn synapses(&self) -> usize {
        self.window * self.window
    }

    /// Width of the soma's input: the flattened membrane output.
    pub fn features(&self) -> usize {
        self.channels * self.pooled_side() * self.pooled_side() * self.dendrites
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        2 * self.channels * self.dendrites * self.synapses()
            + self.hidden * (self.features() + 1)
            + self.classes * (self.hidden + 1)
    }

    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if self.channels == 0 || self.dendrites == 0 || self.hidden == 0 {
            return bad("channels, dendrites and hidden width must be at least 1".into());
        }
        if self.classes < 2 {
            return bad(format!("need at least 2 classes, got {}", self.classes));
        }
        if self.task == Task::MultiLabel && self.classes > MAX_MULTI_LABELS {
            return bad(format!(
                "a multi-label model has at most {MAX_MULTI_LABELS} labels, got {}",
                self.classes
            ));
        }
        if self.window == 0 || self.pool == 0 {
            return bad("window and pool must be at least 1".into());
        }
        if self.image_size < self.window {
            return bad(format!(
                "image size {} is smaller than the dendrite window {}",
                self.image_size, self.window
            ));
        }
        if self.pooled_side() == 0 {
            return bad(format!(
                "image size {} leaves {} window positions, fewer than one {}x{} pool cell",
                self.image_size,
                self.dendrite_side(),
                self.pool,
                self.pool
            ));
        }
        if !self.sizes_fit() {
            return bad(format!(
                "{} channel(s) of {}x{} images with {} dendrites of {}x{} synapses, {} soma and {} axon units make a model too large to hold (at most {MAX_PARAMETERS} parameters and 2^32 windows)",
                self.channels, self.image_size, self.image_size, self.dendrites, self.window,
                self.window, self.hidden, self.classes
            ));
        }
        if !(self.k.is_finite() && self.c.is_finite() && self.c > 0.0) {
            return bad(format!(
                "k must be finite and c positive, got k={} c={}",
                self.k, self.c
            ));
        }
        if !(self.mean.is_finite() && self.std.is_finite() && self.std > 0.0) {
            return bad(format!(
                "normalisation needs a finite mean and a positive std, got mean={} std={}",
                self.mean, self.std
            ));
        }
        Ok(())
    }

    /// Whether every size derived from the settings fits: no overflow, fewer than 2^32 window
    /// positions, at most [`MAX_PARAMETERS`] parameters. Larger settings come only from broken
    /// files or typos.
    fn sizes_fit(&self) -> bool {
        let sizes = || -> Option<bool> {
            let windows = self.dendrite_side().checked_mul(self.dendrite_side())?;
            let pixels = self.image_size.checked_mul(self.image_size)?;
            pixels.checked_mul(self.channels)?;
            let synapses = self.window.checked_mul(self.window)?;
            let maps = self.dendrites.checked_mul(self.channels)?;
            let pooled = self.pooled_side().checked_mul(self.pooled_side())?;
            let features = pooled.checked_mul(maps)?;
            let params = synapses
                .checked_mul(maps)?
                .checked_mul(2)?
                .checked_add(features.checked_add(1)?.checked_mul(self.hidden)?)?
                .checked_add(self.hidden.checked_add(1)?.checked_mul(self.classes)?)?;
            Some(windows as u64 <= u32::MAX as u64 && params as u64 <= MAX_PARAMETERS)
        };
        sizes() == Some(true)
    }

    /// The normalised value of an 8-bit pixel.
    pub fn normalise(&self, v: u8) -> f32 {
        (v as f32 / 255.0 - self.mean) / self.std
    }
}
