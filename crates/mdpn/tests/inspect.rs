//! Looking inside the neuron: synapse states, the input gradient (saliency) and dendrite
//! importance, each against its definition.

use mdpn::dendrite_importance::{ablation, feature_means, features_of};
use mdpn::layers::axon::argmax;
use mdpn::splits::rng;
use mdpn::synapse_states::{classify, counts, input_range, synapses, State};
use mdpn::{Config, Images, KernelChoice, Mdpn};
use rand::Rng;

fn small() -> Config {
    Config {
        dendrites: 3,
        hidden: 8,
        classes: 4,
        ..Config::default()
    }
}

#[test]
fn hand_made_synapses_take_each_state() {
    let cfg = Config::default(); // mean 0, std 1: inputs in [0, 1]; k = 10
    let range = input_range(&cfg);
    assert_eq!(range, (0.0, 1.0));
    let state = |w, q| classify(&cfg, w, q, range, 0.05).0;
    // Threshold q/w = 0.5 inside the range.
    assert_eq!(state(2.0, 1.0), State::Direct);
    assert_eq!(state(-2.0, -1.0), State::Inverse);
    // Threshold far below or above the range.
    assert_eq!(state(0.001, -5.0), State::ConstantOne);
    assert_eq!(state(0.001, 5.0), State::ConstantZero);
    assert_eq!(state(-0.001, -5.0), State::ConstantOne);
    assert_eq!(state(-3.0, 4.0), State::ConstantZero);
    // A steep synapse whose threshold lies just outside the range still moves a little: the
    // tolerance decides.
    let (_, lo, hi) = classify(&cfg, 1.0, 1.5, range, 0.0);
    let delta = hi - lo;
    assert!(delta > 0.0 && delta < 0.1, "{delta}");
    assert_eq!(classify(&cfg, 1.0, 1.5, range, delta).0, State::Direct);
    let above = f32::from_bits(delta.to_bits() + 1);
    assert_eq!(
        classify(&cfg, 1.0, 1.5, range, above).0,
        State::ConstantZero
    );
    // w = 0: Y is 1/2 + atan(−k·q)/π everywhere; exactly 1/2 counts as constant-1.
    assert_eq!(state(0.0, 0.0), State::ConstantOne);
    assert_eq!(state(0.0, 1e-3), State::ConstantZero);
    // The range follows the normalisation: with mean 0.5 and std 0.5 it is [-1, 1], and a
    // threshold of -0.5 is inside it.
    let half = Config {
        mean: 0.5,
        std: 0.5,
        ..Config::default()
    };
    assert_eq!(input_range(&half), (-1.0, 1.0));
    assert_eq!(
        classify(&half, 1.0, -0.5, input_range(&half), 0.05).0,
        State::Direct
    );
    assert_eq!(classify(&cfg, 1.0, -0.5, range, 0.05).0, State::ConstantOne);
}

#[test]
fn every_synapse_is_listed_once_and_counts_fall_with_the_tolerance() {
    let model = Mdpn::new(
        Config {
            channels: 3,
            image_size: 12,
            ..small()
        },
        2,
    )
    .unwrap();
    let all = synapses(&model, 0.05);
    assert_eq!(all.len(), 3 * 3 * 25);
    let last = all.last().unwrap();
    assert_eq!(
        (last.channel, last.dendrite, last.row, last.col),
        (2, 2, 4, 4)
    );
    assert_eq!(all[26].w, model.params.w[26]);
    assert_eq!((all[26].dendrite, all[26].row, all[26].col), (1, 0, 1));
    assert_eq!(counts(&all).iter().sum::<usize>(), all.len());
    // A larger tolerance calls more synapses constant, never fewer.
    let mut moving_before = usize::MAX;
    for tol in [0.0, 0.01, 0.1, 0.5, 0.99] {
        let n = counts(&synapses(&model, tol));
        let moving = n[0] + n[1];
        assert!(moving <= moving_before, "{tol}: {n:?}");
        moving_before = moving;
    }
    assert_eq!(moving_before, 0, "with tolerance 0.99 nothing moves enough");
}

#[test]
fn input_gradient_matches_finite_differences() {
    for channels in [1, 3] {
        let cfg = Config {
            channels,
            image_size: 12,
            mean: 0.3,
            std: 0.6,
            ..small()
        };
        let model = Mdpn::new(cfg.clone(), 5).unwrap();
        let mut r = rng(3, 0);
        let x: Vec<f32> = (0..2 * cfg.image_len())
            .map(|_| r.random_range(-0.5..1.2))
            .collect();
        let logits = model.logits(Images::F32(&x), KernelChoice::Plain).unwrap();
        let classes: Vec<usize> = logits.chunks(cfg.classes).map(argmax).collect();
        let grad = model.input_gradient(Images::F32(&x), &classes).unwrap();
        assert_eq!(grad.len(), x.len());
        let score = |x: &[f32]| -> Vec<f32> {
            let l = model.logits(Images::F32(x), KernelChoice::Plain).unwrap();
            classes
                .iter()
                .enumerate()
                .map(|(i, &c)| l[i * cfg.classes + c])
                .collect()
        };
        let (mut checked, mut max_err) = (0, 0.0f32);
        for i in (0..x.len()).step_by(3) {
            let image = i / cfg.image_len();
            let eps = 1e-3;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += eps;
            down[i] -= eps;
            let numeric = (score(&up)[image] - score(&down)[image]) / (2.0 * eps);
            let err = (numeric - grad[i]).abs() / (1.0 + grad[i].abs());
            max_err = max_err.max(err);
            checked += 1;
        }
        assert!(checked > 50);
        assert!(
            max_err < 2e-2,
            "{channels} channel(s): largest error {max_err}"
        );
        assert!(
            grad.iter().any(|&g| g.abs() > 1e-3),
            "a non-trivial saliency"
        );
        // 8-bit input gives the gradient at its normalised values.
        let u8s: Vec<u8> = (0..cfg.image_len()).map(|i| (i * 37 % 256) as u8).collect();
        let norm: Vec<f32> = u8s.iter().map(|&v| cfg.normalise(v)).collect();
        assert_eq!(
            model.input_gradient(Images::U8(&u8s), &[1]).unwrap(),
            model.input_gradient(Images::F32(&norm), &[1]).unwrap()
        );
        assert!(model.input_gradient(Images::U8(&u8s), &[4]).is_err());
    }
}

#[test]
fn ablation_matches_replacing_the_membrane_and_spares_constant_dendrites() {
    let cfg = small();
    let mut model = Mdpn::new(cfg.clone(), 8).unwrap();
    // Dendrite 1 ignores its pixels: w = 0 makes every window the same.
    for s in 25..50 {
        model.params.w[s] = 0.0;
    }
    let mut r = rng(4, 0);
    let n = 40;
    let images: Vec<u8> = (0..n * cfg.image_len()).map(|_| r.random()).collect();
    let fwd = model
        .forward(
            Images::U8(&images),
            KernelChoice::Fast,
            Some(&model.tables()),
        )
        .unwrap();
    let labels: Vec<u32> = fwd
        .logits
        .chunks(cfg.classes)
        .enumerate()
        .map(|(i, row)| {
            if i % 3 == 0 {
                (argmax(row) as u32 + 1) % 4
            } else {
                argmax(row) as u32
            }
        })
        .collect();
    let (base, without) = ablation(&model, &fwd.membrane, &labels).unwrap();
    // 14 of the 40 labels (every third) are not the model's choice.
    assert!((base - 26.0 / 40.0).abs() < 1e-12, "{base}");
    assert_eq!(without.len(), 3);
    assert_eq!(without[1], base, "a constant dendrite carries nothing");
    // Brute force: the membrane with dendrite 0 replaced by its means, through soma and axon.
    let means = feature_means(&model, &fwd.membrane);
    let f = cfg.features();
    let mut replaced = fwd.membrane.clone();
    for row in replaced.chunks_exact_mut(f) {
        for j in features_of(&model, 0) {
            row[j] = means[j];
        }
    }
    let h: Vec<f32> = model
        .params
        .soma
        .forward(&replaced)
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    let logits = model.params.axon.forward(&h);
    let right = logits
        .chunks(cfg.classes)
        .zip(&labels)
        .filter(|(row, &l)| argmax(row) == l as usize)
        .count();
    assert_eq!(without[0], right as f64 / n as f64);
    assert!(ablation(&model, &fwd.membrane[1..], &labels).is_err());
}
