//! The int8 model: its integer layers against the same arithmetic in floats, its predictions
//! against the f32 model's, and its file format.

use mdpn::config::{Integration, SynapseFn};
use mdpn::evaluation::Classifier;
use mdpn::quantized::{calibrate, ActivationQuant, QuantizedMdpn, WeightBits};
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

/// The int8 model of `config` drawn with `seed`, calibrated on 200 random images.
fn quantized(config: Config, seed: u64) -> (Mdpn, QuantizedMdpn) {
    let model = Mdpn::new(config, seed).unwrap();
    let len = model.config.image_len();
    let calibration = calibrate(&model, &images(200, len, seed + 1)).unwrap();
    assert_eq!(calibration.images, 200);
    let int8 = QuantizedMdpn::new(&model, &calibration).unwrap();
    (model, int8)
}

/// The scores of every image by `mdpn_micro`, one image at a time, as a microcontroller runs it.
fn micro_scores(int8: &QuantizedMdpn, images: &[u8]) -> Vec<i32> {
    let model = int8.micro();
    let mut scratch = vec![0u8; model.shape.scratch_len()];
    let mut scores = vec![0i32; model.shape.classes];
    let mut all = Vec::new();
    for image in images.chunks_exact(model.shape.image_len()) {
        let class = model.classify(image, &mut scores, &mut scratch).unwrap();
        assert_eq!(class, mdpn_micro::argmax(&scores));
        all.extend_from_slice(&scores);
    }
    all
}

#[test]
fn the_vectorised_integer_path_gives_the_bits_of_the_micro_reference() {
    let configs = [
        small_model().config,
        // More dendrites than one vector of 16 holds, and not a multiple of it.
        Config {
            dendrites: 21,
            hidden: 24,
            ..Config::default()
        },
        Config {
            channels: 3,
            image_size: 17,
            window: 3,
            pool: 3,
            dendrites: 5,
            hidden: 8,
            mean: 0.4,
            std: 0.25,
            ..Config::default()
        },
        // The ablations the integer path takes: sigmoid synapses, summed dendrites.
        Config {
            dendrites: 4,
            hidden: 8,
            synapse: SynapseFn::Sigmoid,
            integration: Integration::Sum,
            ..Config::default()
        },
    ];
    for (n, config) in configs.into_iter().enumerate() {
        let (_, int8) = quantized(config, n as u64);
        let test = images(40, int8.config.image_len(), 10 + n as u64);
        let host = int8.scores(&test).unwrap();
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| int8.scores(&test).unwrap());
        let micro = micro_scores(&int8, &test);
        assert!(
            host.iter().any(|&s| s != host[0]),
            "config {n}: constant scores"
        );
        assert_eq!(host, micro, "config {n}: host and micro scores");
        assert_eq!(host, one_thread, "config {n}: one thread and all");
    }
}

#[test]
fn int8_model_predicts_as_the_f32_model() {
    let (model, int8) = quantized(small_model().config, 7);
    let len = model.config.image_len();
    let test = images(100, len, 4);
    let want = model
        .probabilities(Images::U8(&test), KernelChoice::Fast)
        .unwrap();
    let got = int8.probabilities(&test).unwrap();
    let classes = model.config.classes;
    let argmax = |r: &[f32]| mdpn::layers::axon::argmax(r);
    let mut same = 0;
    for (a, b) in want.chunks(classes).zip(got.chunks(classes)) {
        same += usize::from(argmax(a) == argmax(b));
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 0.03, "f32 {x} int8 {y}");
        }
    }
    assert!(same >= 97, "int8 and f32 agree on {same} of 100 images");
    // Evaluation runs the integer path too, and refuses float images it cannot take.
    let predict = int8.predictor(KernelChoice::Plain);
    assert_eq!(
        predict(Images::U8(&test)).unwrap(),
        int8.logits(&test).unwrap()
    );
    let floats = vec![0.5f32; len];
    let err = predict(Images::F32(&floats)).unwrap_err().to_string();
    assert!(err.contains("8-bit pixels"), "{err}");
}

#[test]
fn settings_the_integer_path_cannot_compute_are_refused() {
    let model = Mdpn::new(
        Config {
            dendrites: 3,
            hidden: 8,
            integration: Integration::Product,
            ..Config::default()
        },
        1,
    )
    .unwrap();
    let calibration = calibrate(&model, &images(10, model.config.image_len(), 1)).unwrap();
    let err = QuantizedMdpn::new(&model, &calibration)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not product") && err.contains("keep the f32 model"),
        "{err}"
    );
    // A synapse whose z reaches past what 32 bits hold.
    let mut far = small_model();
    far.params.q[0] = 1e9;
    let calibration = calibrate(&far, &images(10, far.config.image_len(), 1)).unwrap();
    let err = QuantizedMdpn::new(&far, &calibration)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too far for the integer path"), "{err}");
}

#[test]
fn int8_file_round_trips_and_refuses_newer_versions() {
    let model = small_model();
    let len = model.config.image_len();
    let int8 =
        QuantizedMdpn::new(&model, &calibrate(&model, &images(50, len, 5)).unwrap()).unwrap();
    let file = QuantizedFile {
        model: int8,
        class_names: (0..10).map(|i| format!("c{i}")).collect(),
        dataset: Some("fashion-mnist".into()),
        program: "test".into(),
        quantization: "test".into(),
        format_version: quantized_file::FORMAT_VERSION,
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
    // Smaller than the f32 file even for this small model, whose soma is a small share of it
    // next to the f32 and integer synapses and the 4 KiB table.
    assert!(
        bytes.len() < f32_bytes.len(),
        "{} vs {}",
        bytes.len(),
        f32_bytes.len()
    );

    let (from, to) = (b"\"format_version\":\"2\"", b"\"format_version\":\"9\"");
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

#[test]
fn int8_files_of_format_1_get_their_integer_path_on_reading() {
    // The browser page's model as `mdpn quantize` wrote it before the integer path.
    let old = std::fs::read("tests/fixtures/fashion-mnist-int8-format1.safetensors").unwrap();
    let file = quantized_file::load(&old).unwrap();
    assert_eq!(file.format_version, 1);
    let again = quantized_file::load(&quantized_file::save(&file).unwrap()).unwrap();
    assert_eq!(again.format_version, quantized_file::FORMAT_VERSION);
    assert_eq!(
        again.model, file.model,
        "format 2 holds what format 1 derived"
    );
    let test = images(20, file.model.config.image_len(), 8);
    assert_eq!(
        file.model.scores(&test).unwrap(),
        micro_scores(&file.model, &test)
    );
}

#[test]
fn damaged_integer_tensors_are_refused_with_their_name() {
    let model = small_model();
    let len = model.config.image_len();
    let int8 =
        QuantizedMdpn::new(&model, &calibrate(&model, &images(50, len, 5)).unwrap()).unwrap();
    let mut file = QuantizedFile {
        model: int8,
        class_names: (0..10).map(|i| format!("c{i}")).collect(),
        dataset: None,
        program: "test".into(),
        quantization: "test".into(),
        format_version: quantized_file::FORMAT_VERSION,
    };
    // A table one entry short of its settings: the loader says what does not fit.
    file.model.integer.synapses.table.pop();
    let bytes = quantized_file::save(&file).unwrap();
    let err = quantized_file::load(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("out of range") && err.contains("table"),
        "{err}"
    );
}

#[test]
fn int4_soma_files_store_two_weights_a_byte_and_compute_as_their_micro_model() {
    let model = small_model();
    let len = model.config.image_len();
    let calibration = calibrate(&model, &images(50, len, 5)).unwrap();
    let int4 = QuantizedMdpn::with_bits(&model, &calibration, WeightBits::Four).unwrap();
    assert!(
        int4.soma.fits_int4() && !int4.axon.fits_int4(),
        "the axon keeps 8 bits"
    );
    let test = images(20, len, 8);
    assert_eq!(int4.scores(&test).unwrap(), micro_scores(&int4, &test));
    let file = |model| QuantizedFile {
        model,
        class_names: (0..10).map(|i| format!("c{i}")).collect(),
        dataset: None,
        program: "test".into(),
        quantization: "test".into(),
        format_version: quantized_file::INT4_FORMAT_VERSION,
    };
    let int8 = QuantizedMdpn::new(&model, &calibration).unwrap();
    let int8_bytes = quantized_file::save(&file(int8)).unwrap();
    let int4_file = file(int4);
    let bytes = quantized_file::save(&int4_file).unwrap();
    assert_eq!(quantized_file::load(&bytes).unwrap(), int4_file);
    let soma = &int4_file.model.soma;
    let saved = soma.outputs * (soma.inputs - soma.inputs.div_ceil(2));
    let diff = int8_bytes.len() as i64 - bytes.len() as i64 - saved as i64;
    assert!(diff.abs() < 64, "{diff} bytes besides the packed soma");
    assert!(String::from_utf8_lossy(&bytes).contains("\"format_version\":\"3\""));
}
