//! The multi-label (sigmoid + binary cross-entropy) path of the model, and MedMNIST's metrics.

use mdpn::evaluation::evaluate;
use mdpn::layers::loss::sigmoid_bce;
use mdpn::metrics::{auc, multi_label_accuracy, roc_auc};
use mdpn::training::Trainer;
use mdpn::Dataset;
use mdpn::{Config, KernelChoice, Mdpn, Task};

#[test]
fn bce_matches_its_definition_and_finite_differences() {
    let logits = [0.3f32, -1.2, 2.0, 0.0, -0.4, 5.0];
    let masks = [0b101u32, 0b010];
    let (loss, grad, correct) = sigmoid_bce(&logits, &masks, 3, 0.0);
    let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
    let mut want = 0.0f32;
    for (i, &z) in logits.iter().enumerate() {
        let y = (masks[i / 3] >> (i % 3)) & 1 == 1;
        want -= if y { sig(z).ln() } else { (1.0 - sig(z)).ln() };
    }
    assert!((loss - want / 6.0).abs() < 1e-6, "{loss} vs {}", want / 6.0);
    // Right decisions: z>0 for present labels (0.3 yes, 2.0 yes, 0.0 on a present label no),
    // z<=0 for absent ones (-1.2 yes, 0.0 yes, 5.0 no).
    assert_eq!(correct, 4);
    for i in 0..6 {
        let (mut up, mut down) = (logits, logits);
        up[i] += 1e-3;
        down[i] -= 1e-3;
        let numeric =
            (sigmoid_bce(&up, &masks, 3, 0.0).0 - sigmoid_bce(&down, &masks, 3, 0.0).0) / 2e-3;
        assert!(
            (numeric - grad[i]).abs() < 1e-3,
            "logit {i}: {numeric} vs {}",
            grad[i]
        );
    }
}

#[test]
fn a_multi_label_model_learns_and_reports_acc_and_auc() {
    // Label 0: bright top half; label 1: bright left half; 64 random-ish 12x12 images.
    let side = 12;
    let (mut images, mut masks) = (Vec::new(), Vec::new());
    for i in 0..64u32 {
        let mask = i % 4;
        for r in 0..side {
            for c in 0..side {
                let on = (mask & 1 == 1 && r < side / 2) || (mask & 2 == 2 && c < side / 2);
                images.push(if on {
                    200
                } else {
                    (i * 7 + r as u32 * 3) as u8 % 40
                });
            }
        }
        masks.push(mask);
    }
    let names = vec!["top".to_string(), "left".to_string()];
    let data = Dataset::multi_label(images, masks, 1, side, names).unwrap();
    assert_eq!(data.task, Task::MultiLabel);
    let config = Config {
        image_size: side,
        dendrites: 4,
        hidden: 16,
        classes: 2,
        task: Task::MultiLabel,
        ..Config::default()
    };
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut trainer = Trainer::new(Mdpn::new(config, 1).unwrap(), 1e-2, 16, 1).unwrap();
    let before = evaluate(&trainer.model, &data, &indices, KernelChoice::Fast).unwrap();
    for epoch in 0..15 {
        trainer.train_epoch(&data, &indices, epoch, |_| {}).unwrap();
    }
    let after = evaluate(&trainer.model, &data, &indices, KernelChoice::Fast).unwrap();
    assert_eq!(after.confusion.len(), 8);
    assert_eq!(after.per_class().len(), 2);
    assert!(
        after.loss < before.loss,
        "{} -> {}",
        before.loss,
        after.loss
    );
    assert!(after.accuracy > 0.9, "ACC {}", after.accuracy);
    assert!(after.auc.unwrap() > 0.95, "AUC {:?}", after.auc);
    let probs = trainer
        .model
        .probabilities(mdpn::Images::U8(data.image(3)), KernelChoice::Fast)
        .unwrap();
    // Sigmoids, not a softmax: both labels of image 3 are present.
    assert!(probs.iter().all(|&p| p > 0.5), "{probs:?}");
}

#[test]
fn medmnist_metrics_match_scikit_learn() {
    // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75; ties count half.
    assert_eq!(
        roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]),
        Some(0.75)
    );
    assert_eq!(roc_auc(&[false, true], &[0.5, 0.5]), Some(0.5));
    assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    // Multi-class: mean one-vs-rest AUC of the softmax columns.
    let scores = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4, 0.85, 0.05, 0.1];
    let labels = [0, 1, 2, 2];
    // Class 0: {0.8} vs {0.2, 0.3, 0.85} -> 2/3. Class 1: {0.7} vs the rest -> 1. Class 2:
    // {0.4, 0.1} vs {0.1, 0.1} -> (2 + 1) / 4.
    let want = (2.0 / 3.0 + 1.0 + 0.75) / 3.0;
    let got = auc(Task::MultiClass, &scores, &labels, 3).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} != {want}");
    // Multi-label: per-label accuracy at 0.5 and per-label AUC.
    let scores = [0.9, 0.2, 0.6, 0.7, 0.1, 0.4];
    let masks = [0b01, 0b11, 0b10];
    // Wrong only on label 1 of image 2 (0.4 for a present label).
    assert!((multi_label_accuracy(&scores, &masks, 2) - 5.0 / 6.0).abs() < 1e-12);
    // Label 0: {0.9, 0.6} vs {0.1} -> 1; label 1: {0.7, 0.4} vs {0.2} -> 1.
    assert_eq!(auc(Task::MultiLabel, &scores, &masks, 2), Some(1.0));
    let masks = [0b11, 0b01, 0b10];
    // Label 1: {0.2, 0.4} vs {0.7} -> 0.
    assert_eq!(auc(Task::MultiLabel, &scores, &masks, 2), Some(0.5));
}
