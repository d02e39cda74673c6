//! The int8 baselines: their vectorised integer path against a plain one written here from the
//! definition (a direct convolution, no im2col), their predictions against the f32 networks',
//! and their files.

use mdpn::baselines::baseline_file::{self, AnyBaseline, BaselineFile, QuantizedBaselineFile};
use mdpn::baselines::quantized::QuantizedBaseline;
use mdpn::baselines::{Architecture, Baseline, Cnn, CnnConfig, Mlp, MlpConfig};
use mdpn::evaluation::Classifier;
use mdpn::quantized::WeightBits;
use mdpn::{Images, KernelChoice};
use rand::{Rng, SeedableRng};

fn images(n: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n * len)
        .map(|_| if rng.random() { 0 } else { rng.random() })
        .collect()
}

fn mlp() -> Baseline {
    let config = MlpConfig {
        inputs: 144,
        hidden: vec![24, 16],
        classes: 5,
        mean: 0.3,
        std: 0.35,
    };
    Baseline::Mlp(Mlp::new(config, 3).unwrap())
}

/// Two channels, so that the channel-last order and the patches' order are both exercised.
fn cnn() -> Baseline {
    let config = CnnConfig {
        channels: 2,
        image_size: 14,
        conv: vec![4, 6],
        kernel: 3,
        fc: vec![12],
        classes: 5,
        mean: 0.3,
        std: 0.35,
    };
    Baseline::Cnn(Cnn::new(config, 5).unwrap())
}

/// Layer `i` on uint8 inputs, one output at a time from the definition: ReLU'd uint8 codes for
/// a hidden layer.
fn plain_hidden(q: &QuantizedBaseline, i: usize, u: &[u8]) -> Vec<u8> {
    let layer = q.micro_layer(i);
    (0..q.layers[i].outputs)
        .map(|o| {
            layer
                .requant(o)
                .to_u8(layer.accumulate(o, u), layer.zero_point as u8)
        })
        .collect()
}

/// The scores of one image from the definition.
fn plain_scores(q: &QuantizedBaseline, image: &[u8]) -> Vec<i32> {
    let mut u: Vec<u8> = image.iter().map(|&v| q.pixel(v)).collect();
    let mut first_fc = 0;
    if let Architecture::Cnn(c) = &q.architecture {
        // (C, H, W) codes; every convolution below reads them as `at(channel, y, x)`.
        let (mut side, mut channels) = (c.image_size, c.channels);
        let k = c.kernel;
        for (i, &cout) in c.conv.iter().enumerate() {
            let pad = if i == 0 { k / 2 } else { 0 };
            let zero = q.layers[i].input.zero_point;
            let out = side + 2 * pad + 1 - k;
            let at = |u: &[u8], ch: usize, y: isize, x: isize| -> u8 {
                if y < 0 || x < 0 || y >= side as isize || x >= side as isize {
                    zero
                } else {
                    u[(ch * side + y as usize) * side + x as usize]
                }
            };
            let mut conv = vec![0u8; cout * out * out];
            for oy in 0..out {
                for ox in 0..out {
                    // The patch in the (row, column, channel) order of the weights.
                    let mut patch = Vec::new();
                    for ky in 0..k {
                        for kx in 0..k {
                            for ch in 0..channels {
                                let y = (oy + ky) as isize - pad as isize;
                                let x = (ox + kx) as isize - pad as isize;
                                patch.push(at(&u, ch, y, x));
                            }
                        }
                    }
                    for (o, v) in plain_hidden(q, i, &patch).into_iter().enumerate() {
                        conv[(o * out + oy) * out + ox] = v;
                    }
                }
            }
            let p = out / 2;
            let mut pooled = vec![0u8; cout * p * p];
            for o in 0..cout {
                for py in 0..p {
                    for px in 0..p {
                        let v =
                            |y: usize, x: usize| conv[(o * out + 2 * py + y) * out + 2 * px + x];
                        pooled[(o * p + py) * p + px] =
                            v(0, 0).max(v(0, 1)).max(v(1, 0)).max(v(1, 1));
                    }
                }
            }
            // The fully connected layers read the pooled map channel-last, as the network does.
            u = if i + 1 == c.conv.len() {
                (0..p * p)
                    .flat_map(|at| (0..cout).map(move |o| (o, at)))
                    .map(|(o, at)| pooled[o * p * p + at])
                    .collect()
            } else {
                pooled
            };
            side = p;
            channels = cout;
        }
        first_fc = c.conv.len();
    }
    let last = q.layers.len() - 1;
    for i in first_fc..last {
        u = plain_hidden(q, i, &u);
    }
    let layer = q.micro_layer(last);
    (0..q.layers[last].outputs)
        .map(|o| layer.score(o, layer.accumulate(o, &u)))
        .collect()
}

#[test]
fn the_integer_path_gives_the_bits_of_the_plain_definition() {
    for bits in [WeightBits::Eight, WeightBits::Four] {
        for model in [mlp(), cnn()] {
            let len = model.architecture().image_len();
            let int8 = QuantizedBaseline::new(&model, &images(64, len, 1), bits).unwrap();
            // 37 images: two whole tasks of 16 and a partial one.
            let test = images(37, len, 2);
            let fast = int8.scores(&test).unwrap();
            let plain: Vec<i32> = test
                .chunks(len)
                .flat_map(|i| plain_scores(&int8, i))
                .collect();
            assert_eq!(fast, plain, "{} {bits:?}", model.architecture().kind());
            assert!(fast.iter().any(|&s| s != 0));
            // int4 in every layer but the classifier.
            let last = int8.layers.len() - 1;
            for (i, layer) in int8.layers.iter().enumerate() {
                let int4 = bits == WeightBits::Four && i < last;
                assert_eq!(layer.fits_int4(), int4, "layer {i} {bits:?}");
            }
        }
    }
}

#[test]
fn int8_baselines_predict_as_their_f32_models() {
    for model in [mlp(), cnn()] {
        let kind = model.architecture().kind();
        let classes = model.architecture().classes();
        let len = model.architecture().image_len();
        let int8 = QuantizedBaseline::new(&model, &images(200, len, 3), WeightBits::Eight).unwrap();
        let test = images(100, len, 4);
        let want = model.classifier().predictor(KernelChoice::Fast)(Images::U8(&test)).unwrap();
        let got = int8.predictor(KernelChoice::Fast)(Images::U8(&test)).unwrap();
        let spread = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let argmax = |r: &[f32]| mdpn::layers::axon::argmax(r);
        let mut same = 0;
        for (a, b) in want.chunks(classes).zip(got.chunks(classes)) {
            same += usize::from(argmax(a) == argmax(b));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 0.05 * spread, "{kind}: f32 {x} int8 {y}");
            }
        }
        assert!(
            same >= 90,
            "{kind}: int8 and f32 agree on {same} of 100 images"
        );
        let floats = vec![0.5f32; len];
        let err = int8.predictor(KernelChoice::Fast)(Images::F32(&floats))
            .unwrap_err()
            .to_string();
        assert!(err.contains("8-bit pixels"), "{err}");
    }
}

#[test]
fn baseline_files_round_trip_and_refuse_what_they_cannot_hold() {
    for model in [mlp(), cnn()] {
        let len = model.architecture().image_len();
        let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        let file = BaselineFile {
            model: model.clone(),
            class_names: names.clone(),
            dataset: Some("somewhere".into()),
            program: "test".into(),
        };
        let bytes = baseline_file::save(&file).unwrap();
        assert!(baseline_file::is_baseline(&bytes));
        assert_eq!(baseline_file::load(&bytes).unwrap(), AnyBaseline::F32(file));
        // Other safetensors readers see the layers under the checkpoints' names.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let first = &model.layers()[0];
        assert_eq!(
            st.tensor("layers.0.weight").unwrap().shape(),
            [first.outputs, first.inputs]
        );

        let quantized = |bits| QuantizedBaselineFile {
            model: QuantizedBaseline::new(&model, &images(50, len, 5), bits).unwrap(),
            class_names: names.clone(),
            dataset: None,
            program: "test".into(),
            quantization: "test".into(),
        };
        let int8 = quantized(WeightBits::Eight);
        let int8_bytes = baseline_file::save_int8(&int8).unwrap();
        assert_eq!(baseline_file::save_int8(&int8).unwrap(), int8_bytes);
        assert!(baseline_file::is_baseline(&int8_bytes));
        assert_eq!(
            baseline_file::load(&int8_bytes).unwrap(),
            AnyBaseline::Int8(int8)
        );
        // Smaller even for these small networks, whose headers are much of their files.
        assert!(
            int8_bytes.len() < bytes.len(),
            "{} vs {}",
            int8_bytes.len(),
            bytes.len()
        );
        // int4: the hidden layers' weights two to a byte, in a file of version 2.
        let int4 = quantized(WeightBits::Four);
        let int4_bytes = baseline_file::save_int8(&int4).unwrap();
        let st = safetensors::SafeTensors::deserialize(&int4_bytes).unwrap();
        let packed = st.tensor("layers.0.weight_int4").unwrap();
        assert_eq!(packed.shape(), [first.outputs, first.inputs.div_ceil(2)]);
        assert!(st.tensor("layers.0.weight").is_err());
        let layers = model.layers();
        let saved: usize = layers[..layers.len() - 1]
            .iter()
            .map(|l| l.outputs * (l.inputs - l.inputs.div_ceil(2)))
            .sum();
        // The header differs by a few bytes (the version, the tensor names, padding).
        let diff = int8_bytes.len() as i64 - int4_bytes.len() as i64 - saved as i64;
        assert!(diff.abs() < 64, "{diff} bytes besides the packed weights");
        assert!(String::from_utf8_lossy(&int4_bytes).contains("\"format_version\":\"2\""));
        assert_eq!(
            baseline_file::load(&int4_bytes).unwrap(),
            AnyBaseline::Int8(int4)
        );

        // A configuration larger than the file is refused before anything of its size exists.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (from, to) = match model {
            Baseline::Mlp(_) => ("\"hidden\\\":[24,16]", "\"hidden\\\":[99999999,16]"),
            Baseline::Cnn(_) => ("\"fc\\\":[12]", "\"fc\\\":[99999999]"),
        };
        assert!(text.contains(from), "{from} in the header");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
        let header = header.replacen(from, to, 1);
        let mut bigger = (header.len() as u64).to_le_bytes().to_vec();
        bigger.extend(header.as_bytes());
        bigger.extend(&bytes[8 + header_len..]);
        let err = baseline_file::load(&bigger).unwrap_err().to_string();
        assert!(err.contains("more than its"), "{err}");
        let err = baseline_file::load(&bytes[..bytes.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
    }
}
