//! Which images train, validate and test a run: the holdout and paper protocols, or a set's
//! official split; and the seeded random streams every run draws from.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// A protocol by name, as settings and command lines give it: the fraction of a holdout is a
/// setting of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    Holdout,
    Paper,
}

impl ProtocolName {
    /// The protocol, holding out `fraction` of the training set for `Holdout`.
    pub fn with_fraction(self, fraction: f64) -> Protocol {
        match self {
            ProtocolName::Holdout => Protocol::Holdout { fraction },
            ProtocolName::Paper => Protocol::Paper,
        }
    }
}

impl std::str::FromStr for ProtocolName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "holdout" => Ok(ProtocolName::Holdout),
            "paper" => Ok(ProtocolName::Paper),
            _ => Err(Error::Config(format!(
                "unknown protocol `{s}`: expected holdout or paper"
            ))),
        }
    }
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
