//! Gradients of MDPN's ablation settings and of the baselines against finite differences, and
//! the baselines in the training loop and in `fit`, the loop of a run.

use mdpn::baselines::{Cnn, CnnConfig, Mlp, MlpConfig};
use mdpn::checkpoint::{self, Checkpoint};
use mdpn::config::{Integration, SynapseFn};
use mdpn::evaluation::evaluate;
use mdpn::splits::{rng, Protocol, Splits};
use mdpn::trainable::ParamSet;
use mdpn::training::{fit, BatchReport, EpochEnd, FitData, Fitted, Trainer};
use mdpn::Dataset;
use mdpn::{Config, Images, KernelChoice, Mdpn, Network};
use rand::Rng;
use std::ops::ControlFlow;

/// Random float images in [0, 1) and labels.
fn batch(image_len: usize, n: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut r = rng(seed, 7);
    let images = (0..n * image_len).map(|_| r.random::<f32>()).collect();
    let labels = (0..n).map(|_| r.random_range(0..classes as u32)).collect();
    (images, labels)
}

/// Compares every `stride`-th parameter's gradient with a central finite difference of the
/// loss. The loss is f32, so the step is not tiny and the tolerance allows for rounding.
fn check_gradients<N: Network>(what: &str, net: &N, stride: usize) {
    let image_len = net.image_len();
    let (images, labels) = batch(image_len, 4, net.classes(), 3);
    let loss = |n: &N| {
        n.step(Images::F32(&images), &labels, KernelChoice::Plain, 0.0)
            .unwrap()
            .loss as f64
    };
    let grads = net
        .step(Images::F32(&images), &labels, KernelChoice::Plain, 0.0)
        .unwrap()
        .grads;
    let eps = 5e-3f32;
    let (mut checked, mut kinks) = (0, 0);
    let mut largest = 0.0f32;
    for (t, g) in grads.tensors().iter().enumerate() {
        for i in (0..g.len()).step_by(stride) {
            let at = |delta: f32| {
                let mut n = net.clone();
                n.params_mut().tensors_mut()[t][i] += delta;
                loss(&n)
            };
            let (minus, centre, plus) = (at(-eps), loss(net), at(eps));
            let numeric = ((plus - minus) / (2.0 * eps as f64)) as f32;
            // A ReLU or max pool switching inside the step bends the loss: one-sided
            // differences disagree there, and the point is skipped (a quarter at most).
            let (left, right) = ((centre - minus) / eps as f64, (plus - centre) / eps as f64);
            if (left - right).abs() > 2e-4 + 0.1 * numeric.abs() as f64 {
                kinks += 1;
                continue;
            }
            let analytic = g[i];
            largest = largest.max(analytic.abs());
            assert!(
                (numeric - analytic).abs() <= 3e-4 + 3e-2 * analytic.abs(),
                "{what}: tensor {t} value {i}: finite difference {numeric}, gradient {analytic}"
            );
            checked += 1;
        }
    }
    assert!(
        kinks * 4 <= checked,
        "{what}: {kinks} kinks in {checked} values"
    );
    assert!(checked > 20, "{what}: only {checked} values checked");
    assert!(largest > 1e-3, "{what}: every gradient is about zero");
}

fn small_mdpn(synapse: SynapseFn, integration: Integration) -> Mdpn {
    let config = Config {
        image_size: 8,
        window: 3,
        pool: 2,
        dendrites: 3,
        hidden: 6,
        classes: 3,
        k: 2.0,
        synapse,
        integration,
        ..Config::default()
    };
    Mdpn::new(config, 5).unwrap()
}

#[test]
fn mdpn_variants_have_exact_gradients() {
    for synapse in [SynapseFn::Atan, SynapseFn::Sigmoid] {
        for integration in [
            Integration::LogProduct,
            Integration::Sum,
            Integration::Product,
        ] {
            let model = small_mdpn(synapse, integration);
            check_gradients(&format!("mdpn {synapse:?} {integration:?}"), &model, 3);
        }
    }
}

#[test]
fn variants_compute_different_functions_and_ignore_the_table_kernel() {
    let (images, _) = batch(64, 2, 3, 1);
    let bytes: Vec<u8> = images.iter().map(|v| (v * 255.0) as u8).collect();
    let mut seen: Vec<Vec<f32>> = Vec::new();
    for synapse in [SynapseFn::Atan, SynapseFn::Sigmoid] {
        for integration in [
            Integration::LogProduct,
            Integration::Sum,
            Integration::Product,
        ] {
            let model = small_mdpn(synapse, integration);
            let fast = model
                .logits(Images::U8(&bytes), KernelChoice::Fast)
                .unwrap();
            let plain = model
                .logits(Images::U8(&bytes), KernelChoice::Plain)
                .unwrap();
            if model.config.paper_functions() {
                let diff = fast.iter().zip(&plain).map(|(a, b)| (a - b).abs());
                assert!(diff.fold(0.0, f32::max) < 1e-3);
            } else {
                assert_eq!(
                    fast, plain,
                    "{synapse:?} {integration:?} must run the plain kernel"
                );
            }
            assert!(
                !seen.contains(&plain),
                "{synapse:?} {integration:?} repeats a variant"
            );
            seen.push(plain);
        }
    }
}

#[test]
fn old_configs_load_with_the_papers_functions() {
    let json = r#"{"channels":1,"image_size":28,"dendrites":50,"window":5,"k":10.0,"c":0.6,
        "pool":4,"hidden":128,"classes":10,"mean":0.0,"std":1.0}"#;
    let config: Config = serde_json::from_str(json).unwrap();
    assert_eq!(config, Config::default());
    assert!(config.paper_functions());
    let text = serde_json::to_string(&Config {
        synapse: SynapseFn::Sigmoid,
        integration: Integration::LogProduct,
        ..Config::default()
    })
    .unwrap();
    assert!(text.contains(r#""synapse":"sigmoid""#), "{text}");
    assert!(text.contains(r#""integration":"log-product""#), "{text}");
    assert_eq!(
        "product".parse::<Integration>().unwrap(),
        Integration::Product
    );
    assert!("tanh".parse::<SynapseFn>().is_err());
}

#[test]
fn mlp_has_exact_gradients() {
    let config = MlpConfig {
        inputs: 12,
        hidden: vec![7, 5],
        classes: 4,
        mean: 0.5,
        std: 0.5,
    };
    check_gradients("mlp", &Mlp::new(config, 2).unwrap(), 2);
}

#[test]
fn cnn_has_exact_gradients() {
    for channels in [1, 3] {
        let config = CnnConfig {
            channels,
            image_size: 10,
            conv: vec![3, 4],
            kernel: 3,
            fc: vec![6],
            classes: 3,
            mean: 0.5,
            std: 0.5,
        };
        check_gradients(
            &format!("cnn, {channels} channels"),
            &Cnn::new(config, 4).unwrap(),
            2,
        );
    }
}

#[test]
fn lenet_has_lenet5s_parameter_count_and_the_mlp_matches_a_budget() {
    let cnn = Cnn::new(CnnConfig::lenet(1, 28, 10, 0.0, 1.0), 0).unwrap();
    assert_eq!(cnn.parameter_count(), 61_706);
    let budget = Config::default().parameter_count();
    let mlp = Mlp::new(MlpConfig::sized(784, 10, budget, 0.0, 1.0), 0).unwrap();
    assert!(mlp.parameter_count() <= budget);
    assert!(
        mlp.parameter_count() > budget - 800,
        "{}",
        mlp.parameter_count()
    );
    assert!(Cnn::new(CnnConfig::lenet(1, 6, 10, 0.0, 1.0), 0).is_err());
}

#[test]
fn a_sized_lenet_comes_within_a_few_percent_of_its_budget() {
    let lenet = CnnConfig::lenet(3, 32, 10, 0.0, 1.0);
    assert_eq!(
        lenet.parameter_count(),
        Cnn::new(lenet.clone(), 0).unwrap().parameter_count()
    );
    for budget in [38_682, 61_706, 150_474, 234_318] {
        let config = CnnConfig::sized(1, 28, 10, budget, 0.0, 1.0);
        let count = Cnn::new(config.clone(), 0).unwrap().parameter_count();
        assert_eq!(count, config.parameter_count());
        let off = count.abs_diff(budget) as f64 / budget as f64;
        assert!(off < 0.03, "{budget}: {count} parameters, {config:?}");
    }
    // LeNet-5's own count gives LeNet-5.
    assert_eq!(
        CnnConfig::sized(1, 28, 10, 61_706, 0.0, 1.0),
        CnnConfig::lenet(1, 28, 10, 0.0, 1.0)
    );
}

/// Two easy classes: bright or dark images with noise.
fn easy_dataset() -> Dataset {
    let mut r = rng(9, 0);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for i in 0..96 {
        let label = (i % 2) as u32;
        for _ in 0..144 {
            let base = if label == 1 { 160 } else { 60 };
            images.push(base + r.random_range(0..60u8));
        }
        labels.push(label);
    }
    Dataset::new(images, labels, 1, 12, vec!["dark".into(), "bright".into()]).unwrap()
}

fn train<N: Network>(model: N) -> (f64, Vec<f32>) {
    let data = easy_dataset();
    let all: Vec<usize> = (0..data.len()).collect();
    let mut trainer = Trainer::new(model, 1e-2, 16, 3).unwrap();
    for epoch in 0..3 {
        trainer.train_epoch(&data, &all, epoch, |_| {}).unwrap();
    }
    let eval = evaluate(&trainer.model, &data, &all, KernelChoice::Fast).unwrap();
    let params = trainer.model.params().tensors().concat();
    (eval.accuracy, params)
}

#[test]
fn baselines_learn_deterministically_in_the_trainer() {
    let mlp = || Mlp::new(MlpConfig::sized(144, 2, 2000, 0.5, 0.5), 1).unwrap();
    let cnn = || {
        let mut config = CnnConfig::lenet(1, 12, 2, 0.5, 0.5);
        config.kernel = 3;
        Cnn::new(config, 1).unwrap()
    };
    let (acc, a) = train(mlp());
    assert!(acc > 0.9, "mlp accuracy {acc}");
    assert_eq!(a, train(mlp()).1);
    let (acc, a) = train(cnn());
    assert!(acc > 0.9, "cnn accuracy {acc}");
    assert_eq!(a, train(cnn()).1);
}

fn mlp_trainer() -> Trainer<Mlp> {
    let model = Mlp::new(MlpConfig::sized(144, 2, 2000, 0.5, 0.5), 1).unwrap();
    Trainer::new(model, 1e-2, 16, 3).unwrap()
}

fn fresh_run(trainer: &Trainer<Mlp>) -> Checkpoint<Mlp> {
    trainer.fresh_run("{}".into())
}

/// A batch hook that never stops the epoch.
fn go_on(_: &BatchReport) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// The hook of these tests: each epoch's test accuracy appended to the run's records.
fn record_test_accuracy(end: &EpochEnd, run: &mut Checkpoint<Mlp>) -> mdpn::Result<()> {
    run.metrics += &format!("{} {} {}\n", end.epoch, end.test.accuracy, end.best);
    Ok(())
}

/// The training loop `fit`: a run stopped by its stop check and resumed from its saved
/// checkpoint ends bitwise equal to one that never stopped.
#[test]
fn a_stopped_and_resumed_run_ends_like_an_uninterrupted_one() {
    let (train, test) = (easy_dataset(), easy_dataset());
    let splits = Splits::new(96, 96, Protocol::Holdout { fraction: 0.25 }, 7).unwrap();
    let data = FitData {
        train: &train,
        test: &test,
        splits: &splits,
    };
    let epochs = 4;

    let mut t = mlp_trainer();
    let mut straight = fresh_run(&t);
    let mut batches = 0;
    let done = fit(
        &mut t,
        &mut straight,
        data,
        epochs,
        |_| {
            batches += 1;
            ControlFlow::Continue(())
        },
        record_test_accuracy,
        || false,
    );
    assert_eq!(done.unwrap(), Fitted::Finished);
    assert_eq!(straight.epochs_done, epochs);
    assert_eq!(batches, epochs * 72usize.div_ceil(16));
    assert_eq!(straight.metrics.lines().count(), epochs);

    // Stopped after its first epoch, saved, read back into a new network and continued.
    let mut t = mlp_trainer();
    let mut first = fresh_run(&t);
    let done = fit(
        &mut t,
        &mut first,
        data,
        epochs,
        go_on,
        record_test_accuracy,
        || true,
    );
    assert_eq!(done.unwrap(), Fitted::Stopped);
    assert_eq!(first.epochs_done, 1);
    // A batch hook that breaks off the second epoch leaves the run as the first epoch left it.
    let mut t = mlp_trainer();
    let mut cut = fresh_run(&t);
    let second_batch_of_epoch_2 = |r: &BatchReport| match (r.epoch, r.batch) {
        (2, 2) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let done = fit(
        &mut t,
        &mut cut,
        data,
        epochs,
        second_batch_of_epoch_2,
        record_test_accuracy,
        || false,
    );
    assert_eq!(done.unwrap(), Fitted::Stopped);
    assert_eq!(cut, first);
    let bytes = checkpoint::save(&first).unwrap();
    let mut resumed = checkpoint::load_into(&bytes, mlp_trainer().model).unwrap();
    let mut t = mlp_trainer();
    let done = fit(
        &mut t,
        &mut resumed,
        data,
        epochs,
        go_on,
        record_test_accuracy,
        || false,
    );
    assert_eq!(done.unwrap(), Fitted::Finished);
    assert_eq!(resumed, straight);
    assert_eq!(t.model, straight.model);

    // A failing hook ends the run with its error.
    let mut t = mlp_trainer();
    let mut run = fresh_run(&t);
    let fail = |end: &EpochEnd, _: &mut Checkpoint<Mlp>| match end.epoch {
        2 => Err(mdpn::Error::Format("disk full".into())),
        _ => Ok(()),
    };
    let err = fit(&mut t, &mut run, data, epochs, go_on, fail, || false).unwrap_err();
    assert_eq!(err.to_string(), "disk full");
}

/// Without validation images every epoch's model is in turn the one to keep.
#[test]
fn without_validation_images_the_best_epoch_is_the_last() {
    let (train, test) = (easy_dataset(), easy_dataset());
    let splits = Splits::new(96, 96, Protocol::Holdout { fraction: 0.0 }, 7).unwrap();
    assert!(splits.validation.indices.is_empty());
    let data = FitData {
        train: &train,
        test: &test,
        splits: &splits,
    };
    let mut t = mlp_trainer();
    let mut run = fresh_run(&t);
    let done = fit(
        &mut t,
        &mut run,
        data,
        3,
        go_on,
        record_test_accuracy,
        || false,
    );
    assert_eq!(done.unwrap(), Fitted::Finished);
    assert_eq!(run.best.unwrap().epoch, 3);
    for line in run.metrics.lines() {
        assert!(
            line.ends_with("true"),
            "every epoch is kept in turn: {line}"
        );
    }
}
