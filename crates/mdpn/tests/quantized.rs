//! The int8 model: its integer layers against the same arithmetic in floats, its predictions
//! against the f32 model's, and its file format.

use mdpn::quantized::{calibrate, ActivationQuant, QuantizedLinear, QuantizedMdpn};
use mdpn::quantized_file::{self, QuantizedFile};
use mdpn::{Config, Images, KernelChoice, Mdpn};
use rand::{Rng, SeedableRng};

fn images(n: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Half the pixels black, as in Fashion-MNIST's margins.
    (0..n * len)
        .map(|_| if rng.random() { 0 } else { rng.random() })
        .collect()
}

fn small_model() -> Mdpn {
    let config = Config {
        dendrites: 6,
        hidden: 16,
        ..Config::default()
    };
    Mdpn::new(config, 7).unwrap()
}

#[test]
fn integer_layer_equals_its_dequantized_float_arithmetic() {
    let model = small_model();
    let layer = &model.params.soma;
    let input = ActivationQuant::covering(-3.0, 2.5);
    let q = QuantizedLinear::new(layer, input);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let x: Vec<f32> = (0..4 * layer.inputs)
        .map(|_| rng.random_range(-4.0..4.0))
        .collect();
    let y = q.forward(&x);
    for (b, row) in x.chunks_exact(layer.inputs).enumerate() {
        for o in 0..layer.outputs {
            let w = &q.weight[o * layer.inputs..][..layer.inputs];
            let exact: f64 = row
                .iter()
                .zip(w)
                .map(|(&v, &wi)| {
                    let a =
                        input.scale as f64 * (input.quantize(v) as f64 - input.zero_point as f64);
                    a * q.weight_scale[o] as f64 * wi as f64
                })
                .sum::<f64>()
                + q.bias[o] as f64;
            let got = y[b * layer.outputs + o] as f64;
            assert!(
                (got - exact).abs() < 1e-4,
                "row {b} out {o}: {got} vs {exact}"
            );
        }
    }
    // Weights within half a step of the f32 ones.
    for (o, row) in layer.weight.chunks_exact(layer.inputs).enumerate() {
        for (v, &qi) in row.iter().zip(&q.weight[o * layer.inputs..]) {
            assert!((v - q.weight_scale[o] * qi as f32).abs() <= q.weight_scale[o] * 0.5001);
        }
    }
}

#[test]
fn activation_quantization_rounds_as_onnx_quantize_linear() {
    let a = ActivationQuant::covering(-1.0, 1.55);
    assert_eq!(a.scale, 2.55 / 255.0);
    assert_eq!(a.zero_point, 100);
    assert_eq!(a.quantize(0.0), 100);
    assert_eq!(a.quantize(-5.0), 0, "saturates low");
    assert_eq!(a.quantize(5.0), 255, "saturates high");
    // Ties to even: 0.5 and 1.5 steps.
    let unit = ActivationQuant {
        scale: 1.0,
        zero_point: 0,
    };
    assert_eq!(
        (unit.quantize(0.5), unit.quantize(1.5), unit.quantize(2.5)),
        (0, 2, 2)
    );
}

#[test]
fn int8_model_predicts_as_the_f32_model() {
    let model = small_model();
    let len = model.config.image_len();
    let calibration = calibrate(&model, &images(200, len, 3)).unwrap();
    assert_eq!(calibration.images, 200);
    let int8 = QuantizedMdpn::new(&model, &calibration);
    let test = images(100, len, 4);
    let want = model
        .probabilities(Images::U8(&test), KernelChoice::Fast)
        .unwrap();
    let got = int8
        .probabilities(Images::U8(&test), KernelChoice::Fast)
        .unwrap();
    let plain = int8
        .probabilities(Images::U8(&test), KernelChoice::Plain)
        .unwrap();
    let classes = model.config.classes;
    let argmax = |r: &[f32]| mdpn::layers::axon::argmax(r);
    let mut same = 0;
    for ((a, b), c) in want
        .chunks(classes)
        .zip(got.chunks(classes))
        .zip(plain.chunks(classes))
    {
        same += usize::from(argmax(a) == argmax(b));
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 0.02, "f32 {x} int8 {y}");
        }
        for (x, y) in b.iter().zip(c) {
            assert!(
                (x - y).abs() < 1e-3,
                "int8 on the table kernel {x}, plain kernel {y}"
            );
        }
    }
    assert!(same >= 97, "int8 and f32 agree on {same} of 100 images");
    // The int8 model refuses tables it was not built with, as the f32 model does: even those
    // of the f32 model it was quantized from, whose synapses are other memory.
    let own = int8.tables();
    assert!(int8
        .logits(Images::U8(&test), KernelChoice::Fast, Some(&own))
        .is_ok());
    let err = int8
        .logits(Images::U8(&test), KernelChoice::Fast, Some(&model.tables()))
        .unwrap_err();
    assert!(matches!(err, mdpn::Error::ForeignTables), "{err}");
}

#[test]
fn int8_file_round_trips_and_refuses_newer_versions() {
    let model = small_model();
    let len = model.config.image_len();
    let int8 = QuantizedMdpn::new(&model, &calibrate(&model, &images(50, len, 5)).unwrap());
    let file = QuantizedFile {
        model: int8,
        class_names: (0..10).map(|i| format!("c{i}")).collect(),
        dataset: Some("fashion-mnist".into()),
        program: "test".into(),
        quantization: "test".into(),
    };
    let bytes = quantized_file::save(&file).unwrap();
    assert!(quantized_file::is_int8(&bytes));
    assert_eq!(quantized_file::load(&bytes).unwrap(), file);
    assert_eq!(
        quantized_file::save(&file).unwrap(),
        bytes,
        "deterministic bytes"
    );
    let f32_bytes = mdpn::model_file::save(&mdpn::model_file::ModelFile {
        model: model.clone(),
        class_names: file.class_names.clone(),
        dataset: None,
        program: "test".into(),
    })
    .unwrap();
    assert!(!quantized_file::is_int8(&f32_bytes));
    // Int8 soma and axon weights: well under half the f32 file, even with this small model's
    // large share of f32 synapses.
    assert!(
        bytes.len() * 2 < f32_bytes.len(),
        "{} vs {}",
        bytes.len(),
        f32_bytes.len()
    );

    let (from, to) = (b"\"format_version\":\"1\"", b"\"format_version\":\"9\"");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut newer = bytes.clone();
    newer[at..at + to.len()].copy_from_slice(to);
    let err = quantized_file::load(&newer).unwrap_err().to_string();
    assert!(err.contains("version 9 is newer"), "{err}");
    let err = quantized_file::load(&f32_bytes).unwrap_err().to_string();
    assert!(err.contains("expected `mdpn-int8`"), "{err}");
    let err = quantized_file::load(&bytes[..bytes.len() - 3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a safetensors file"), "{err}");
}
