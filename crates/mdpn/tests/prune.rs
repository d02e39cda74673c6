//! Pruning: constant synapses fixed, constant dendrites folded into the soma; the result is an
//! ordinary model that both kernels run alike and that survives a save and load.

use mdpn::dendrite_importance::feature_means;
use mdpn::evaluation::evaluate;
use mdpn::layers::synapse::synapse;
use mdpn::model_file::{self, ModelFile};
use mdpn::prune::{
    constant_dendrites, fix_constant_synapses, fixed_synapses, prune, remove_dendrites,
};
use mdpn::splits::rng;
use mdpn::state_dict::StateDictOptions;
use mdpn::synapse_states::{counts, input_range, synapses};
use mdpn::{Config, Images, KernelChoice, Mdpn};
use rand::Rng;

fn images(cfg: &Config, n: usize, seed: u64) -> Vec<u8> {
    let mut r = rng(seed, 0);
    (0..n * cfg.image_len()).map(|_| r.random()).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn fixed_synapses_keep_their_output_within_the_tolerance() {
    let cfg = Config {
        dendrites: 10,
        hidden: 8,
        mean: 0.3,
        std: 0.4,
        ..Config::default()
    };
    let model = Mdpn::new(cfg.clone(), 1).unwrap();
    let tol = 0.05;
    let constant = {
        let n = counts(&synapses(&model, tol));
        n[2] + n[3]
    };
    assert!(
        constant > 10,
        "a random model has constant synapses: {constant}"
    );
    let mut pruned = model.clone();
    assert_eq!(fix_constant_synapses(&mut pruned, tol), constant);
    assert_eq!(
        fixed_synapses(&pruned).iter().filter(|&&f| f).count(),
        constant
    );
    let (lo, hi) = input_range(&cfg);
    for (i, (&w, &q)) in model.params.w.iter().zip(&model.params.q).enumerate() {
        if pruned.params.w[i] != 0.0 {
            assert_eq!((pruned.params.w[i], pruned.params.q[i]), (w, q));
            continue;
        }
        for v in 0..=255u8 {
            let x = lo + (hi - lo) * v as f32 / 255.0;
            let before = synapse(cfg.synapse, x, w, q, cfg.k).0;
            let after = synapse(cfg.synapse, x, 0.0, pruned.params.q[i], cfg.k).0;
            assert!(
                (before - after).abs() <= tol,
                "synapse {i} at {x}: {before} vs {after}"
            );
        }
    }
    // Both kernels agree on the pruned model, and it survives a file round trip.
    let x = images(&cfg, 6, 2);
    let fast = pruned.logits(Images::U8(&x), KernelChoice::Fast).unwrap();
    let plain = pruned.logits(Images::U8(&x), KernelChoice::Plain).unwrap();
    assert!(
        max_diff(&fast, &plain) < 1e-4,
        "{}",
        max_diff(&fast, &plain)
    );
    let file = ModelFile {
        model: pruned.clone(),
        class_names: (0..10).map(|c| c.to_string()).collect(),
        dataset: None,
        program: "test".into(),
    };
    let back = model_file::load(
        &model_file::save(&file).unwrap(),
        &StateDictOptions::default(),
    )
    .unwrap();
    assert_eq!(back.model, pruned);
}

#[test]
fn constant_dendrites_fold_into_the_soma_exactly() {
    for channels in [1, 3] {
        let cfg = Config {
            channels,
            dendrites: 5,
            hidden: 8,
            image_size: 16,
            ..Config::default()
        };
        let mut model = Mdpn::new(cfg.clone(), 3).unwrap();
        // Dendrites 1 and 3 ignore their pixels in every channel.
        for ch in 0..channels {
            for d in [1, 3] {
                let at = (ch * 5 + d) * 25;
                model.params.w[at..at + 25].fill(0.0);
            }
        }
        let x = images(&cfg, 20, 4);
        let fwd = model
            .forward(Images::U8(&x), KernelChoice::Fast, Some(&model.tables()))
            .unwrap();
        let means = feature_means(&model, &fwd.membrane);
        let remove = constant_dendrites(&model, &fwd.membrane, &means, 1e-5);
        assert_eq!(remove, [1, 3]);
        let pruned = remove_dendrites(&model, &remove, &means).unwrap();
        assert_eq!(pruned.config.dendrites, 3);
        assert!(pruned.config.parameter_count() < cfg.parameter_count());
        let after = pruned.logits(Images::U8(&x), KernelChoice::Fast).unwrap();
        let d = max_diff(&fwd.logits, &after);
        assert!(d < 1e-5, "{channels} channel(s): logits moved by {d}");
        let plain = pruned.logits(Images::U8(&x), KernelChoice::Plain).unwrap();
        assert!(max_diff(&after, &plain) < 1e-4);
        // Removing a dendrite that varies moves the output.
        let lossy = remove_dendrites(&model, &[0], &means).unwrap();
        let moved = lossy.logits(Images::U8(&x), KernelChoice::Fast).unwrap();
        assert!(max_diff(&fwd.logits, &moved) > 1e-3);
    }
}

#[test]
fn bad_removals_are_refused() {
    let cfg = Config {
        dendrites: 2,
        hidden: 4,
        ..Config::default()
    };
    let model = Mdpn::new(cfg.clone(), 0).unwrap();
    let means = vec![0.0; cfg.features()];
    let err = |r: &[usize], m: &[f32]| remove_dendrites(&model, r, m).unwrap_err().to_string();
    assert!(err(&[2], &means).contains("does not exist"));
    assert!(err(&[0, 1], &means).contains("every dendrite"));
    assert!(err(&[0], &means[1..]).contains("feature means"));
}

/// Within a budget, dendrites are chosen on one half of the validation images (every other
/// one) and confirmed on the other: the pruned model stays within the budget on both halves.
#[test]
fn pruning_within_a_budget_keeps_it_on_both_halves() {
    let cfg = Config {
        dendrites: 6,
        hidden: 16,
        image_size: 16,
        classes: 4,
        ..Config::default()
    };
    let model = Mdpn::new(cfg.clone(), 5).unwrap();
    let n = 240;
    let x = images(&cfg, n, 6);
    // The model's own answers as labels: every dendrite it loses can only cost accuracy.
    let logits = model.logits(Images::U8(&x), KernelChoice::Fast).unwrap();
    let labels: Vec<u32> = logits
        .chunks(4)
        .map(|l| (0..4).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap() as u32)
        .collect();
    let names = (0..4).map(|c| c.to_string()).collect();
    let data = mdpn::Dataset::new(x, labels, 1, 16, names).unwrap();
    let all: Vec<usize> = (0..n).collect();
    let drop = 5.0;
    let pruned = prune(&model, (&data, &all), (&data, &all), 0.05, Some(drop)).unwrap();
    assert!(
        !pruned.removed.is_empty(),
        "some dendrite costs under 5 points"
    );
    for half in [0, 1] {
        let indices: Vec<usize> = all.iter().copied().skip(half).step_by(2).collect();
        let accuracy = |m: &Mdpn| evaluate(m, &data, &indices, KernelChoice::Fast).unwrap();
        let lost = 100.0 * (accuracy(&model).accuracy - accuracy(&pruned.model).accuracy);
        assert!(lost <= drop, "half {half} lost {lost} points");
    }
    let one = prune(&model, (&data, &all), (&data, &all[..1]), 0.05, Some(drop));
    assert!(one
        .unwrap_err()
        .to_string()
        .contains("at least 2 validation images"));
}
