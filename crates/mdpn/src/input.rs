//! What a forward pass takes: a batch of images, and which dendrite kernel runs it. A leaf
//! module: the settings, the layers and the model all use it, and it uses none of them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A batch of images `(B, C, H, W)`, raw 8-bit or already normalised floats.
#[derive(Clone, Copy, Debug)]
pub enum Images<'a> {
    /// Raw pixels; the model normalises them with its `mean` and `std`.
    U8(&'a [u8]),
    /// Normalised values.
    F32(&'a [f32]),
}

impl Images<'_> {
    /// Number of values (pixels, or normalised values), over all images.
    pub(crate) fn len(&self) -> usize {
        match self {
            Images::U8(x) => x.len(),
            Images::F32(x) => x.len(),
        }
    }
}

/// Which dendrite kernel to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum KernelChoice {
    /// The table kernel for 8-bit images, the reference kernel for float images.
    #[default]
    Fast,
    /// The reference kernel for everything (8-bit images are normalised first).
    Plain,
}

impl std::str::FromStr for KernelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fast" => Ok(KernelChoice::Fast),
            "plain" => Ok(KernelChoice::Plain),
            _ => Err(Error::Config(format!(
                "unknown kernel `{s}`: expected fast or plain"
            ))),
        }
    }
}
