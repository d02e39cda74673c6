//! The model against fixtures computed in float64 by an independent PyTorch implementation of the
//! authors' model (`fixtures/README.md`): forward values within 1e-4 and gradients within 1e-3
//! of the largest absolute value of each tensor, for both dendrite kernels.

use mdpn::kernels::plain;
use mdpn::model_file;
use mdpn::state_dict::StateDictOptions;
use mdpn::{Images, KernelChoice, Mdpn};
use safetensors::SafeTensors;

struct Fixture {
    bytes: Vec<u8>,
    config: serde_json::Value,
}

impl Fixture {
    fn open(name: &str) -> Fixture {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let config = serde_json::from_str(&meta.metadata().as_ref().unwrap()["config"]).unwrap();
        Fixture { bytes, config }
    }

    fn f32(&self, name: &str) -> Vec<f32> {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(name).unwrap();
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    fn raw(&self, name: &str) -> Vec<u8> {
        SafeTensors::deserialize(&self.bytes)
            .unwrap()
            .tensor(name)
            .unwrap()
            .data()
            .to_vec()
    }

    fn labels(&self) -> Vec<u32> {
        self.raw("labels")
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as u32)
            .collect()
    }

    /// The fixture's state dict, loaded the way `mdpn` loads a user's PyTorch checkpoint.
    fn model(&self) -> Mdpn {
        let options = StateDictOptions {
            image_size: None,
            mean: Some(self.config["norm_mean"].as_f64().unwrap() as f32),
            std: Some(self.config["norm_std"].as_f64().unwrap() as f32),
            ..Default::default()
        };
        let model = model_file::load(&self.bytes, &options).unwrap().model;
        let c = &model.config;
        assert_eq!(c.channels as u64, self.config["channels"].as_u64().unwrap());
        assert_eq!(
            c.image_size as u64,
            self.config["image_size"].as_u64().unwrap()
        );
        assert_eq!(
            c.dendrites as u64,
            self.config["dendrites"].as_u64().unwrap()
        );
        assert_eq!(c.hidden as u64, self.config["hidden"].as_u64().unwrap());
        assert_eq!(c.classes as u64, self.config["classes"].as_u64().unwrap());
        model
    }
}

/// Asserts `|got − want| ≤ tol · max|want|` element-wise; returns the worst relative error.
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / scale;
        assert!(err <= tol, "{what}[{i}]: got {g}, expected {w} (error {err:.2e} of max {scale}, tolerance {tol:e})");
        worst = worst.max(err);
    }
    worst
}

const VALUE_TOL: f32 = 1e-4;
const GRAD_TOL: f32 = 1e-3;

fn check(name: &str) {
    let fx = Fixture::open(name);
    let model = fx.model();
    let cfg = &model.config;
    let input = fx.f32("input");
    let input_u8 = fx.raw("input.u8");
    let labels = fx.labels();
    let normalised: Vec<f32> = input_u8.iter().map(|&v| cfg.normalise(v)).collect();
    assert_close("normalised input", &normalised, &input, 1e-6);

    // Dendrite layer, plain kernel, image by image.
    let dendrites: Vec<f32> = input
        .chunks_exact(cfg.image_len())
        .flat_map(|img| plain::dendrites(cfg, &model.params.w, &model.params.q, img))
        .collect();
    assert_close(
        "dendrites",
        &dendrites,
        &fx.f32("expected.dendrites"),
        VALUE_TOL,
    );

    let runs = [
        ("plain/f32", Images::F32(&input), KernelChoice::Plain),
        ("plain/u8", Images::U8(&input_u8), KernelChoice::Plain),
        ("lut/u8", Images::U8(&input_u8), KernelChoice::Fast),
    ];
    for (kernel, images, choice) in runs {
        let tables = model.tables();
        let fwd = model.forward(images, choice, Some(&tables)).unwrap();
        assert_close(
            &format!("{kernel} membrane"),
            &fwd.membrane,
            &fx.f32("expected.membrane"),
            VALUE_TOL,
        );
        assert_close(
            &format!("{kernel} logits"),
            &fwd.logits,
            &fx.f32("expected.logits"),
            VALUE_TOL,
        );
        assert_close(
            &format!("{kernel} logits()"),
            &model.logits(images, choice).unwrap(),
            &fwd.logits,
            0.0,
        );

        let step = model.gradients(images, &labels, choice).unwrap();
        assert_close(
            &format!("{kernel} loss"),
            &[step.loss],
            &fx.f32("expected.loss"),
            VALUE_TOL,
        );
        for (tensor, grad) in mdpn::model::TENSOR_NAMES.iter().zip(step.grads.tensors()) {
            let worst = assert_close(
                &format!("{kernel} grad {tensor}"),
                grad,
                &fx.f32(&format!("grad.{tensor}")),
                GRAD_TOL,
            );
            eprintln!("{name} {kernel} grad {tensor}: worst error {worst:.2e}");
        }
    }
}

#[test]
fn gray_model_matches_pytorch_reference() {
    check("gray_small.safetensors");
}

#[test]
fn rgb_model_matches_pytorch_reference() {
    check("rgb_small.safetensors");
}

/// The paper's default model (M = 50: six full groups of eight dendrites and a partial one).
#[test]
fn default_model_matches_pytorch_reference() {
    check("gray_default.safetensors");
}

/// RGB with M = 13: one full group of eight dendrites and a partial one of five, per channel.
#[test]
fn rgb_partial_group_model_matches_pytorch_reference() {
    check("rgb_tail.safetensors");
}
