//! The training recipe beyond the paper's: label smoothing, AdamW, gradient clipping, schedules
//! and augmentation; each exact, and training with all of them still deterministic.

use mdpn::adam::Adam;
use mdpn::augment::Augment;
use mdpn::layers::loss::cross_entropy;
use mdpn::recipe::{Recipe, Schedule, SynapseInit};
use mdpn::splits::rng;
use mdpn::training::Trainer;
use mdpn::{Config, Dataset, Mdpn, Params};
use rand::Rng;

#[test]
fn smoothed_cross_entropy_matches_its_definition_and_finite_differences() {
    let logits = [0.3f32, -1.2, 2.0, 0.5, 0.0, -0.4, 1.5, 0.2];
    let labels = [2u32, 0];
    let eps = 0.1;
    let (loss, grad, _) = cross_entropy(&logits, &labels, 4, eps);
    let mut want = 0.0f64;
    for (row, &label) in logits.chunks(4).zip(&labels) {
        let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
        let nll = |c: usize| lse - row[c] as f64;
        want += (1.0 - eps as f64) * nll(label as usize)
            + eps as f64 * (0..4).map(nll).sum::<f64>() / 4.0;
    }
    want /= 2.0;
    assert!((loss as f64 - want).abs() < 1e-6, "{loss} vs {want}");
    for i in 0..logits.len() {
        let (mut up, mut down) = (logits, logits);
        up[i] += 1e-3;
        down[i] -= 1e-3;
        let numeric = (cross_entropy(&up, &labels, 4, eps).0
            - cross_entropy(&down, &labels, 4, eps).0)
            / 2e-3;
        assert!(
            (numeric - grad[i]).abs() < 2e-3,
            "logit {i}: {numeric} vs {}",
            grad[i]
        );
    }
    // Without smoothing the target is the label alone, and the loss differs.
    let plain = cross_entropy(&logits, &labels, 4, 0.0);
    assert_ne!(plain.0, loss);
}

#[test]
fn adamw_shrinks_then_steps() {
    let config = Config {
        dendrites: 2,
        hidden: 3,
        classes: 2,
        ..Config::default()
    };
    let model = Mdpn::new(config.clone(), 1).unwrap();
    let mut grads = Params::zeros(&config);
    grads.w[0] = 0.5;
    let (mut plain, mut decayed) = (model.params.clone(), model.params.clone());
    let mut adam = Adam::new(&plain, 0.1);
    adam.step(&mut plain, &grads);
    let mut adamw = Adam::new(&decayed, 0.1);
    adamw.weight_decay = 0.01;
    adamw.step(&mut decayed, &grads);
    // A parameter with no gradient only shrinks by lr·decay; one with a gradient shrinks, then
    // takes Adam's step, the same step as without decay.
    let p = model.params.w[1];
    assert_eq!(decayed.w[1], p * (1.0 - 0.1 * 0.01));
    assert_eq!(plain.w[1], p);
    let step = plain.w[0] - model.params.w[0];
    let got = decayed.w[0] - model.params.w[0] * (1.0 - 0.001);
    assert!((got - step).abs() < 1e-6, "{got} vs {step}");
}

fn small_dataset() -> Dataset {
    let mut r = rng(9, 0);
    let n = 256;
    let mut images = vec![0u8; n * 28 * 28];
    let mut labels = Vec::new();
    for (i, img) in images.chunks_mut(28 * 28).enumerate() {
        let label = (i % 4) as u32;
        // A bright square whose place says the class, on a blank background.
        let (y, x) = (4 + 10 * (label as usize / 2), 4 + 10 * (label as usize % 2));
        for dy in 0..8 {
            for dx in 0..8 {
                img[(y + dy) * 28 + x + dx] = r.random_range(128..=255);
            }
        }
        labels.push(label);
    }
    Dataset::new(
        images,
        labels,
        1,
        28,
        (0..4).map(|c| c.to_string()).collect(),
    )
    .unwrap()
}

fn train(data: &Dataset, recipe: &Recipe) -> (Trainer, Vec<f64>) {
    let config = Config {
        dendrites: 6,
        hidden: 16,
        classes: 4,
        ..Config::default()
    };
    let model = Mdpn::with_init(config, 3, recipe.init).unwrap();
    let mut trainer = Trainer::new(model, 1e-2, 32, 3)
        .unwrap()
        .with_recipe(recipe.clone(), 3)
        .unwrap();
    let indices: Vec<usize> = (0..data.len()).collect();
    let losses = (0..3)
        .map(|e| trainer.train_epoch(data, &indices, e, |_| {}).unwrap().loss)
        .collect();
    (trainer, losses)
}

#[test]
fn the_tuned_recipe_trains_deterministically_on_any_thread_count() {
    let data = small_dataset();
    let recipe = Recipe {
        init: SynapseInit::Normal {
            w_std: 0.5,
            q_mean: 0.0,
            q_std: 1.0,
        },
        ..Recipe::tuned(true)
    };
    let (a, la) = train(&data, &recipe);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (b, lb) = one.install(|| train(&data, &recipe));
    assert_eq!(la, lb);
    assert_eq!(
        a.model, b.model,
        "one thread gives the same model as several"
    );
    assert!(la[2] < la[0], "the loss falls: {la:?}");
    // The recipe changes the run: the paper's gives another model.
    let (c, _) = train(&data, &Recipe::paper());
    assert_ne!(a.model, c.model);
    // The cosine schedule ends near its floor.
    assert!(a.adam.lr < 1e-2 * 0.05, "last rate {}", a.adam.lr);
}

#[test]
fn clipping_bounds_the_update_and_augmentation_alone_changes_the_run() {
    let data = small_dataset();
    let clipped = Recipe {
        clip_grad_norm: Some(1e-6),
        schedule: Schedule::Constant,
        ..Recipe::paper()
    };
    let (a, _) = train(&data, &clipped);
    let (b, _) = train(&data, &Recipe::paper());
    assert_ne!(a.model, b.model, "clipping at 1e-6 changes the updates");
    let shifted = Recipe {
        augment: Augment {
            shift: 2,
            ..Augment::default()
        },
        ..Recipe::paper()
    };
    let (c, _) = train(&data, &shifted);
    assert_ne!(b.model, c.model, "shifted images train another model");
    let (d, _) = train(&data, &shifted);
    assert_eq!(c.model, d.model, "and the same one every time");
}

#[test]
fn frozen_weights_stay_exactly_zero_under_adamw() {
    let data = small_dataset();
    let config = Config {
        dendrites: 6,
        hidden: 16,
        classes: 4,
        ..Config::default()
    };
    // Every third synapse fixed, as pruning leaves it: weight 0.
    let mut model = Mdpn::new(config, 5).unwrap();
    for w in model.params.w.iter_mut().step_by(3) {
        *w = 0.0;
    }
    let recipe = Recipe {
        weight_decay: 0.05,
        ..Recipe::tuned(true)
    };
    let indices: Vec<usize> = (0..data.len()).collect();
    let trained = |trainer: Trainer| {
        let mut trainer = trainer.with_recipe(recipe.clone(), 2).unwrap();
        for e in 0..2 {
            trainer.train_epoch(&data, &indices, e, |_| {}).unwrap();
        }
        trainer.model.params.w
    };
    let trainer = || Trainer::new(model.clone(), 1e-2, 32, 3).unwrap();
    let kept = trained(trainer().keeping_fixed_synapses().unwrap());
    let free = trained(trainer());
    let zeros = (0..kept.len()).step_by(3);
    assert!(
        zeros.clone().all(|i| kept[i] == 0.0),
        "a fixed weight moved"
    );
    // Unfrozen, the same weights train, and so do the others when frozen.
    assert!(zeros.clone().all(|i| free[i] != 0.0));
    let others = (0..kept.len()).filter(|i| i % 3 != 0);
    assert!(others.clone().all(|i| kept[i] != model.params.w[i]));
    // A mask of the wrong size is refused.
    let err = trainer().freeze(vec![vec![true; 3]]).unwrap_err();
    assert!(
        err.to_string().contains("freeze masks of [3] values"),
        "{err}"
    );
}
