//! The fast paths against the plain ones: the 8-bit table kernel against the reference kernel
//! on random models of several shapes, and training that is deterministic.

use mdpn::evaluation::evaluate;
use mdpn::model::TENSOR_NAMES;
use mdpn::splits::rng;
use mdpn::training::Trainer;
use mdpn::Dataset;
use mdpn::{Config, Images, KernelChoice, Mdpn};
use rand::Rng;

/// Random images with zeros scattered through them; every second one is an object on a blank
/// background (zero outside a random rectangle), and the last is blank but for one pixel in
/// its last column, so that the table kernel's skipping of blank regions is exercised.
fn random_images(config: &Config, n: usize, seed: u64) -> Vec<u8> {
    let mut r = rng(seed, 7);
    let (h, len) = (config.image_size, config.image_len());
    let mut images: Vec<u8> = (0..n * len)
        .map(|i| if i % 3 == 0 { 0 } else { r.random::<u8>() })
        .collect();
    for (index, image) in images.chunks_exact_mut(len).enumerate() {
        if index + 1 == n {
            image.fill(0);
            image[h * (h / 2) + h - 1] = 200;
        } else if index % 2 == 1 {
            let (top, left) = (r.random_range(0..h / 2), r.random_range(0..h / 2));
            let (bottom, right) = (r.random_range(top..h), r.random_range(left..h));
            for (at, v) in image.iter_mut().enumerate() {
                let (y, x) = ((at % (h * h)) / h, at % h);
                if !(top..=bottom).contains(&y) || !(left..=right).contains(&x) {
                    *v = 0;
                }
            }
        }
    }
    images
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter()
        .fold(0.0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE)
}

/// Asserts two tensors agree within `tol` of the larger one's largest value.
fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    let scale = max_abs(a).max(max_abs(b));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

fn configs() -> Vec<Config> {
    let base = Config {
        dendrites: 11,
        hidden: 12,
        mean: 0.1307,
        std: 0.3081,
        ..Config::default()
    };
    vec![
        base.clone(),
        Config {
            dendrites: 8,
            ..base.clone()
        },
        Config {
            channels: 3,
            image_size: 32,
            dendrites: 5,
            mean: 0.5,
            std: 0.5,
            ..base.clone()
        },
        Config {
            image_size: 31,
            window: 3,
            pool: 3,
            dendrites: 17,
            k: 5.0,
            c: 0.8,
            ..base.clone()
        },
        Config {
            image_size: 48,
            classes: 7,
            dendrites: 9,
            ..base
        },
    ]
}

#[test]
fn table_kernel_matches_plain_kernel() {
    for (n, config) in configs().into_iter().enumerate() {
        let model = Mdpn::new(config.clone(), n as u64).unwrap();
        let images = random_images(&config, 5, n as u64);
        let labels: Vec<u32> = (0..5).map(|i| i % config.classes as u32).collect();
        let tables = model.tables();
        let fast = model
            .forward(Images::U8(&images), KernelChoice::Fast, Some(&tables))
            .unwrap();
        let plain = model
            .forward(Images::U8(&images), KernelChoice::Plain, None)
            .unwrap();
        assert_close(
            &format!("config {n} membrane"),
            &fast.membrane,
            &plain.membrane,
            1e-5,
        );
        let agree = fast
            .winners
            .iter()
            .zip(&plain.winners)
            .filter(|(a, b)| a == b)
            .count();
        assert!(
            agree * 1000 >= fast.winners.len() * 999,
            "config {n}: winners differ in {} of {}",
            fast.winners.len() - agree,
            fast.winners.len()
        );
        assert_close(
            &format!("config {n} logits"),
            &fast.logits,
            &plain.logits,
            1e-5,
        );

        let g_fast = model
            .gradients(Images::U8(&images), &labels, KernelChoice::Fast)
            .unwrap();
        let g_plain = model
            .gradients(Images::U8(&images), &labels, KernelChoice::Plain)
            .unwrap();
        assert!((g_fast.loss - g_plain.loss).abs() < 1e-5 * g_plain.loss.abs().max(1.0));
        for ((name, a), b) in TENSOR_NAMES
            .iter()
            .zip(g_fast.grads.tensors())
            .zip(g_plain.grads.tensors())
        {
            assert_close(&format!("config {n} grad {name}"), a, b, 1e-4);
        }
    }
}

/// Tables of another model, even one of the same shape or an identical clone, are refused:
/// they would compute that model's dendrites (or index out of range) without a word.
#[test]
fn another_models_tables_are_refused() {
    let config = Config {
        dendrites: 4,
        hidden: 8,
        ..Config::default()
    };
    let images = random_images(&config, 2, 5);
    let a = Mdpn::new(config.clone(), 1).unwrap();
    let clone = a.clone();
    let bigger = Mdpn::new(
        Config {
            dendrites: 9,
            ..config
        },
        2,
    )
    .unwrap();
    for (other, what) in [(&clone, "a clone"), (&bigger, "a larger model")] {
        for choice in [KernelChoice::Fast, KernelChoice::Plain] {
            let err = a
                .forward(Images::U8(&images), choice, Some(&other.tables()))
                .err()
                .unwrap_or_else(|| panic!("{what}'s tables were accepted ({choice:?})"));
            assert!(matches!(err, mdpn::Error::ForeignTables), "{what}: {err}");
            assert!(
                err.to_string().contains("built from another model"),
                "{err}"
            );
        }
    }
    let own = a.tables();
    assert!(a
        .forward(Images::U8(&images), KernelChoice::Fast, Some(&own))
        .is_ok());
}

#[test]
fn blank_images_send_every_pool_cell_to_its_first_window() {
    let config = Config {
        dendrites: 10,
        hidden: 8,
        ..Config::default()
    };
    let model = Mdpn::new(config.clone(), 3).unwrap();
    let images = vec![0u8; 2 * config.image_len()];
    let (s, p, m, k) = (
        config.dendrite_side(),
        config.pooled_side(),
        config.dendrites,
        config.pool,
    );
    for choice in [KernelChoice::Fast, KernelChoice::Plain] {
        let tables = model.tables();
        let fwd = model
            .forward(Images::U8(&images), choice, Some(&tables))
            .unwrap();
        for (i, &w) in fwd.winners.iter().enumerate() {
            let cell = i % (p * p * m) / m;
            let first = ((cell / p) * k * s + (cell % p) * k) as u32;
            assert_eq!(
                w, first,
                "{choice:?}: value {i} won by window {w}, expected {first}"
            );
        }
    }
}

#[test]
fn float_input_runs_the_reference_kernel() {
    let config = Config {
        dendrites: 4,
        hidden: 8,
        ..Config::default()
    };
    let model = Mdpn::new(config.clone(), 1).unwrap();
    let images = random_images(&config, 2, 9);
    let floats: Vec<f32> = images.iter().map(|&v| config.normalise(v)).collect();
    let a = model
        .logits(Images::F32(&floats), KernelChoice::Fast)
        .unwrap();
    let b = model
        .logits(Images::U8(&images), KernelChoice::Fast)
        .unwrap();
    assert_close("float vs 8-bit logits", &a, &b, 1e-5);
    let err = model
        .logits(Images::F32(&floats[1..]), KernelChoice::Fast)
        .unwrap_err();
    assert!(err.to_string().contains("not a whole number"), "{err}");
}

fn small_dataset() -> Dataset {
    let config = Config::default();
    let images = random_images(&config, 300, 5);
    // Labels that depend on the image, so that there is something to learn.
    let labels = images
        .chunks(config.image_len())
        .map(|im| (im[300] / 64) as u32)
        .collect();
    Dataset::new(
        images,
        labels,
        1,
        28,
        (0..4).map(|c| c.to_string()).collect(),
    )
    .unwrap()
}

fn train(data: &Dataset, seed: u64) -> (Trainer, Vec<f64>) {
    let config = Config {
        dendrites: 6,
        hidden: 16,
        classes: 4,
        ..Config::default()
    };
    let mut trainer = Trainer::new(Mdpn::new(config, seed).unwrap(), 1e-2, 32, seed).unwrap();
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut losses = Vec::new();
    for epoch in 0..3 {
        losses.push(
            trainer
                .train_epoch(data, &indices, epoch, |_| {})
                .unwrap()
                .loss,
        );
    }
    (trainer, losses)
}

#[test]
fn training_is_deterministic_and_independent_of_thread_count() {
    let data = small_dataset();
    let (a, la) = train(&data, 4);
    let (b, lb) = train(&data, 4);
    assert_eq!(la, lb);
    assert_eq!(
        a.model, b.model,
        "same seed, same threads: identical parameters"
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (c, lc) = one.install(|| train(&data, 4));
    assert_eq!(la, lc);
    assert_eq!(
        a.model, c.model,
        "one thread gives the same parameters as several"
    );
    // Trained on a thread of a pool of three, whose other two poll for work between the steps
    // (`parallel::busy`); two trainings at once share them. The same bits, and both finish.
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let ((e, le), (f, lf)) = three.install(|| rayon::join(|| train(&data, 4), || train(&data, 4)));
    assert_eq!((&la, &la), (&le, &lf));
    assert!(
        a.model == e.model && a.model == f.model,
        "a busy pool gives the same parameters"
    );
    let (d, _) = train(&data, 5);
    assert_ne!(a.model, d.model, "another seed gives another model");
    assert!(la[2] < la[0], "the loss falls: {la:?}");
    let eval = evaluate(
        &a.model,
        &data,
        &(0..data.len()).collect::<Vec<_>>(),
        KernelChoice::Fast,
    )
    .unwrap();
    assert_eq!(eval.confusion.iter().sum::<u64>(), data.len() as u64);
    assert!(
        eval.accuracy > 0.4,
        "accuracy {} on its own training data",
        eval.accuracy
    );
}
