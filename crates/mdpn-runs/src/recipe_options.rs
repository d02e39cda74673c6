//! The training recipe as options, of `train` and `study` on the command line and of Python's
//! `study`: `--recipe paper|tuned`, and options that change one part of it. The recipe in effect is recorded in the run's settings.

use anyhow::{bail, Context};
use mdpn::augment::Augment;
use mdpn::recipe::{Recipe, Schedule, SynapseInit};

/// Options of the training recipe.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RecipeOptions {
    /// Training recipe: `paper` (the authors' plain Adam, the default) or `tuned` (twice the
    /// learning rate with warm-up and cosine decay, AdamW, label smoothing, clipping, 1-pixel
    /// shifts, flips where the set allows them).
    #[cfg_attr(feature = "clap", arg(long, default_value = "paper"))]
    pub recipe: String,
    /// Learning-rate schedule after warm-up: `constant`, `cosine[:MIN_FACTOR]` (default floor
    /// 0.01) or `step:EVERY:GAMMA`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub schedule: Option<String>,
    /// Epochs of linear learning-rate warm-up.
    #[cfg_attr(feature = "clap", arg(long))]
    pub warmup: Option<f32>,
    /// Decoupled weight decay (AdamW).
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f32>,
    /// Label smoothing of the cross-entropy, in [0, 1).
    #[cfg_attr(feature = "clap", arg(long))]
    pub label_smoothing: Option<f32>,
    /// Largest global L2 norm of the gradient (0: no clipping).
    #[cfg_attr(feature = "clap", arg(long))]
    pub clip_grad_norm: Option<f32>,
    /// Augmentation: random shifts of up to N pixels (0: none).
    #[cfg_attr(feature = "clap", arg(long))]
    pub shift: Option<usize>,
    /// Augmentation: mirror half the images (`true` or `false`); refused for sets that are not
    /// mirror-symmetric (digits, letters, X-rays).
    #[cfg_attr(feature = "clap", arg(long))]
    pub flip: Option<bool>,
    /// Augmentation: probability of erasing a random rectangle.
    #[cfg_attr(feature = "clap", arg(long))]
    pub erase: Option<f32>,
    /// Initialisation: standard deviation of the synapse weights `w` (the paper's is 1).
    #[cfg_attr(feature = "clap", arg(long))]
    pub init_w_std: Option<f32>,
}

/// The paper's recipe, nothing changed.
impl Default for RecipeOptions {
    fn default() -> RecipeOptions {
        RecipeOptions {
            recipe: "paper".into(),
            schedule: None,
            warmup: None,
            weight_decay: None,
            label_smoothing: None,
            clip_grad_norm: None,
            shift: None,
            flip: None,
            erase: None,
            init_w_std: None,
        }
    }
}

impl RecipeOptions {
    /// The recipe these options give, for a data set whose mirror images keep their classes
    /// (`Some(true)`), change them (`Some(false)`: flips are refused), or are unknown (`None`:
    /// flips only when asked for). `name` names the data set in errors.
    pub fn recipe(&self, mirror_symmetric: Option<bool>, name: &str) -> anyhow::Result<Recipe> {
        let mut r = Recipe::named(&self.recipe, mirror_symmetric == Some(true))?;
        if let Some(s) = &self.schedule {
            r.schedule = parse_schedule(s)?;
        }
        if let Some(w) = self.warmup {
            r.warmup_epochs = w;
        }
        if let Some(d) = self.weight_decay {
            r.weight_decay = d;
        }
        if let Some(s) = self.label_smoothing {
            r.label_smoothing = s;
        }
        if let Some(c) = self.clip_grad_norm {
            r.clip_grad_norm = (c > 0.0).then_some(c);
        }
        let a: &mut Augment = &mut r.augment;
        if let Some(s) = self.shift {
            a.shift = s;
        }
        if let Some(f) = self.flip {
            a.flip = f;
        }
        if let Some(e) = self.erase {
            a.erase = e;
        }
        if let Some(w_std) = self.init_w_std {
            let SynapseInit::Normal { q_mean, q_std, .. } = r.init;
            r.init = SynapseInit::Normal {
                w_std,
                q_mean,
                q_std,
            };
        }
        if r.augment.flip && mirror_symmetric == Some(false) {
            bail!(
                "--flip: {name} is not mirror-symmetric (a mirrored digit, letter or X-ray is not the same class); leave flips off for it"
            );
        }
        r.validate()?;
        Ok(r)
    }

    /// Whether any option of the recipe was typed (`typed` holds the ids of those typed).
    pub fn any_typed(typed: &[String]) -> bool {
        const IDS: [&str; 10] = [
            "recipe",
            "schedule",
            "warmup",
            "weight_decay",
            "label_smoothing",
            "clip_grad_norm",
            "shift",
            "flip",
            "erase",
            "init_w_std",
        ];
        typed.iter().any(|t| IDS.contains(&t.as_str()))
    }
}

/// `constant`, `cosine`, `cosine:MIN_FACTOR` or `step:EVERY:GAMMA`.
fn parse_schedule(s: &str) -> anyhow::Result<Schedule> {
    let parts: Vec<&str> = s.split(':').collect();
    let number = |t: &str| -> anyhow::Result<f32> {
        t.parse()
            .with_context(|| format!("--schedule {s}: `{t}` is not a number"))
    };
    Ok(match parts[..] {
        ["constant"] => Schedule::Constant,
        ["cosine"] => Schedule::Cosine { min_factor: 0.01 },
        ["cosine", f] => Schedule::Cosine {
            min_factor: number(f)?,
        },
        ["step", every, gamma] => Schedule::Step {
            every: every
                .parse()
                .with_context(|| format!("--schedule {s}: `{every}` is not a whole number"))?,
            gamma: number(gamma)?,
        },
        _ => bail!(
            "--schedule {s}: expected constant, cosine, cosine:MIN_FACTOR or step:EVERY:GAMMA"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_change_one_part_of_the_recipe() {
        let args = RecipeOptions {
            recipe: "paper".into(),
            schedule: Some("step:10:0.5".into()),
            shift: Some(2),
            ..RecipeOptions::default()
        };
        let r = args.recipe(Some(false), "mnist").unwrap();
        assert_eq!(
            r.schedule,
            Schedule::Step {
                every: 10,
                gamma: 0.5
            }
        );
        assert_eq!(r.augment.shift, 2);
        assert_eq!(r.label_smoothing, 0.0, "the rest is the paper's");
        let tuned = RecipeOptions {
            recipe: "tuned".into(),
            ..RecipeOptions::default()
        };
        assert!(
            tuned
                .recipe(Some(true), "fashion-mnist")
                .unwrap()
                .augment
                .flip
        );
        assert!(!tuned.recipe(Some(false), "mnist").unwrap().augment.flip);
        assert!(!tuned.recipe(None, "folder").unwrap().augment.flip);
        let flip = RecipeOptions {
            recipe: "paper".into(),
            flip: Some(true),
            ..RecipeOptions::default()
        };
        let err = flip.recipe(Some(false), "mnist").unwrap_err().to_string();
        assert!(err.contains("mnist is not mirror-symmetric"), "{err}");
        assert!(flip.recipe(None, "folder").unwrap().augment.flip);
        for bad in ["cosine:x", "step:2", "warm"] {
            let a = RecipeOptions {
                recipe: "paper".into(),
                schedule: Some(bad.into()),
                ..RecipeOptions::default()
            };
            assert!(a.recipe(None, "x").is_err(), "{bad}");
        }
    }
}
