//! Model files, state dicts, checkpoints and splits: round trips, and clear errors for bad bytes.

use mdpn::adam::Adam;
use mdpn::checkpoint::{Best, Checkpoint};
use mdpn::model_file::{self, ModelFile};
use mdpn::splits::{Protocol, Splits};
use mdpn::state_dict::StateDictOptions;
use mdpn::{Config, Mdpn};

fn model_file(config: Config) -> ModelFile {
    let classes = config.classes;
    ModelFile {
        model: Mdpn::new(config, 3).unwrap(),
        class_names: (0..classes).map(|c| format!("class {c}")).collect(),
        dataset: Some("test".into()),
        program: "mdpn test".into(),
    }
}

#[test]
fn model_file_round_trips() {
    for config in [
        Config {
            dendrites: 7,
            hidden: 9,
            mean: 0.2,
            std: 0.7,
            ..Config::default()
        },
        Config {
            channels: 3,
            image_size: 32,
            dendrites: 4,
            classes: 5,
            k: 7.0,
            ..Config::default()
        },
    ] {
        let file = model_file(config);
        let bytes = model_file::save(&file).unwrap();
        let back = model_file::load(&bytes, &StateDictOptions::default()).unwrap();
        assert_eq!(back, file);
    }
}

/// Rewrites the JSON header of a safetensors file.
fn edit_header(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let mut text = serde_json::to_vec(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&bytes[8 + n..]);
    out
}

#[test]
fn state_dict_without_metadata_is_inferred() {
    let file = model_file(Config {
        dendrites: 5,
        hidden: 10,
        mean: 0.5,
        std: 0.5,
        ..Config::default()
    });
    let bytes = edit_header(&model_file::save(&file).unwrap(), |h| {
        h.as_object_mut().unwrap().remove("__metadata__");
    });
    let back = model_file::load(&bytes, &StateDictOptions::default()).unwrap();
    assert_eq!(back.model, file.model);
    assert_eq!(back.class_names.len(), 10);
    // So do a model file written before checksums existed, and one whose checksum another
    // tool wrote: this fuzz seed's is Python's `zlib.crc32` of the bytes after the header.
    let older = without_checksum(&model_file::save(&file).unwrap());
    let back = model_file::load(&older, &StateDictOptions::default()).unwrap();
    assert_eq!(back, file);
    let seed = include_bytes!("../../../fuzz/regressions/model_file/seed-model-checksum");
    assert!(model_file::load(seed, &StateDictOptions::default()).is_ok());
    // A larger image with the same pooled map is accepted when asked for; one that does not fit is not.
    let at30 = model_file::load(
        &bytes,
        &StateDictOptions {
            image_size: Some(30),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(at30.model.config.image_size, 30);
    let err = model_file::load(
        &bytes,
        &StateDictOptions {
            image_size: Some(40),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("pooled map"), "{err}");
}

#[test]
fn bad_model_files_give_clear_errors() {
    let bytes = model_file::save(&model_file(Config {
        dendrites: 5,
        hidden: 10,
        ..Config::default()
    }))
    .unwrap();
    let load = |b: &[u8]| {
        model_file::load(b, &StateDictOptions::default())
            .unwrap_err()
            .to_string()
    };
    assert!(load(b"").contains("not a safetensors file"));
    assert!(load(&bytes[..bytes.len() / 2]).contains("not a safetensors file"));
    // One flipped bit in a tensor; a checksum that is not one.
    let damaged = load(&flip_a_tensor_bit(&bytes));
    assert!(damaged.starts_with("the file is damaged"), "{damaged}");
    assert!(damaged.contains("CRC-32 is "), "{damaged}");
    let crc = recorded_crc(&bytes);
    assert!(
        damaged.contains(&format!("written with {crc}")),
        "{damaged}"
    );
    let garbled = edit_header(&bytes, |h| {
        h["__metadata__"]["tensors_crc32"] = "xyz".into()
    });
    assert!(load(&garbled).contains("expected 8 hex digits"));
    let newer = edit_header(&bytes, |h| {
        h["__metadata__"]["format_version"] = "99".into()
    });
    assert!(load(&newer).contains("newer"), "{}", load(&newer));
    let wrong_config = edit_header(&bytes, |h| {
        let mut c: serde_json::Value =
            serde_json::from_str(h["__metadata__"]["config"].as_str().unwrap()).unwrap();
        c["dendrites"] = 6.into();
        h["__metadata__"]["config"] = c.to_string().into();
    });
    assert!(
        load(&wrong_config).contains("shape"),
        "{}",
        load(&wrong_config)
    );
    let renamed = edit_header(&bytes, |h| {
        let o = h.as_object_mut().unwrap();
        let v = o.remove("model.3.fc.bias").unwrap();
        o.insert("model.3.fc.b".into(), v);
    });
    assert!(
        load(&renamed).contains("model.3.fc.bias is missing"),
        "{}",
        load(&renamed)
    );
}

#[test]
fn splits_follow_the_protocol() {
    let holdout = Splits::new(1000, 500, Protocol::Holdout { fraction: 0.1 }, 1).unwrap();
    assert_eq!(
        (
            holdout.train.indices.len(),
            holdout.validation.indices.len(),
            holdout.test.indices.len()
        ),
        (900, 100, 500)
    );
    let mut all: Vec<usize> = holdout
        .train
        .indices
        .iter()
        .chain(&holdout.validation.indices)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    let paper = Splits::new(60000, 10000, Protocol::Paper, 1).unwrap();
    assert_eq!(
        (
            paper.train.indices.len(),
            paper.validation.indices.len(),
            paper.test.indices.len()
        ),
        (60000, 3000, 7000)
    );
    assert_eq!(
        paper,
        Splits::new(60000, 10000, Protocol::Paper, 1).unwrap()
    );
    assert_ne!(
        paper,
        Splits::new(60000, 10000, Protocol::Paper, 2).unwrap()
    );
    assert!(Splits::new(100, 2000, Protocol::Paper, 1).is_err());
}

fn checkpoint(config: Config) -> Checkpoint {
    let model = Mdpn::new(config, 4).unwrap();
    let mut adam = Adam::new(&model.params, 1e-3);
    adam.steps = 17;
    for (i, m) in adam.m.iter_mut().enumerate() {
        m.iter_mut().for_each(|v| *v = 0.1 / (i + 1) as f32);
    }
    Checkpoint {
        model,
        adam,
        epochs_done: 3,
        best: Some(Best {
            epoch: 2,
            val_accuracy: 0.1 + 0.2,
        }),
        settings: r#"{"seed":1}"#.into(),
        metrics: "epoch,loss\n1,0.5\n".into(),
        extra: String::new(),
    }
}

#[test]
fn checkpoint_round_trips_exactly() {
    for config in [
        Config {
            dendrites: 3,
            hidden: 5,
            mean: 0.1307,
            std: 0.3081,
            ..Config::default()
        },
        Config {
            channels: 3,
            image_size: 12,
            dendrites: 2,
            hidden: 4,
            classes: 3,
            ..Config::default()
        },
    ] {
        let ck = checkpoint(config);
        let bytes = mdpn::checkpoint::save(&ck).unwrap();
        assert_eq!(mdpn::checkpoint::load(&bytes).unwrap(), ck);
        // Checkpoints written before checksums existed load the same.
        assert_eq!(
            mdpn::checkpoint::load(&without_checksum(&bytes)).unwrap(),
            ck
        );
        // Any safetensors reader sees the model's tensors under the authors' names.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert!(st.tensor("model.0.params.w").is_ok());
        assert!(st.tensor("adam.v.model.3.fc.bias").is_ok());
    }
}

#[test]
fn bad_checkpoints_give_clear_errors() {
    let config = Config {
        dendrites: 3,
        hidden: 5,
        ..Config::default()
    };
    let bytes = mdpn::checkpoint::save(&checkpoint(config.clone())).unwrap();
    let load = |b: &[u8]| mdpn::checkpoint::load(b).unwrap_err().to_string();
    assert!(load(&bytes[..bytes.len() - 3])
        .contains("not a safetensors checkpoint: the file is cut short"));
    let newer = edit_header(&bytes, |h| h["__metadata__"]["format_version"] = "2".into());
    assert!(load(&newer).contains("newer than this program reads"));
    let damaged = load(&flip_a_tensor_bit(&bytes));
    assert!(damaged.starts_with("the file is damaged"), "{damaged}");
    let crc = recorded_crc(&bytes);
    assert!(
        damaged.contains(&format!("written with {crc}")),
        "{damaged}"
    );
    let model = model_file::save(&model_file(config)).unwrap();
    assert!(
        load(&model).contains("format is `mdpn`, expected `mdpn-checkpoint`"),
        "{}",
        load(&model)
    );
    let no_moment = edit_header(&bytes, |h| {
        let o = h.as_object_mut().unwrap();
        let v = o.remove("adam.m.model.2.fc.bias").unwrap();
        o.insert("adam.m.model.2.fc.b".into(), v);
    });
    assert!(load(&no_moment).contains("tensor adam.m.model.2.fc.bias is missing"));
    // A checkpoint is not a model file: eval and predict say so.
    let err = model_file::load(&bytes, &StateDictOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown model file format `mdpn-checkpoint`"),
        "{err}"
    );
}

#[test]
fn baseline_checkpoints_round_trip_into_their_own_network_only() {
    use mdpn::baselines::{Cnn, CnnConfig, Mlp, MlpConfig};
    use mdpn::trainable::{Network, ParamSet};

    fn trained<N: Network>(model: N) -> Checkpoint<N> {
        let mut adam = Adam::new(model.params(), 2e-3);
        adam.steps = 5;
        for (i, v) in adam.v.iter_mut().enumerate() {
            v.iter_mut().for_each(|x| *x = 0.01 * (i + 1) as f32);
        }
        Checkpoint {
            model,
            adam,
            epochs_done: 2,
            best: Some(Best {
                epoch: 1,
                val_accuracy: 0.7,
            }),
            settings: r#"{"seed":9}"#.into(),
            metrics: "epoch\n1\n2\n".into(),
            extra: r#"{"train_seconds":1.5}"#.into(),
        }
    }
    let mlp = |seed| Mlp::new(MlpConfig::sized(64, 3, 500, 0.5, 0.5), seed).unwrap();
    let ck = trained(mlp(1));
    let bytes = mdpn::checkpoint::save(&ck).unwrap();
    // Loaded into a fresh network of the same shape, whatever its own values: the saved ones.
    let back = mdpn::checkpoint::load_into(&bytes, mlp(2)).unwrap();
    assert_eq!(back, ck);
    assert_ne!(mlp(2).params().tensors(), ck.model.params().tensors());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("layers.0.weight").unwrap().shape(), [7, 64]);
    assert!(st.tensor("adam.v.layers.1.bias").is_ok());

    let cnn = Cnn::new(CnnConfig::lenet(1, 16, 3, 0.5, 0.5), 1).unwrap();
    let ck = trained(cnn.clone());
    assert_eq!(
        mdpn::checkpoint::load_into(&mdpn::checkpoint::save(&ck).unwrap(), cnn).unwrap(),
        ck
    );

    // Another network, another shape, or MDPN's reader: clear refusals.
    let cnn = Cnn::new(CnnConfig::lenet(1, 16, 3, 0.5, 0.5), 1).unwrap();
    let err = mdpn::checkpoint::load_into(&bytes, cnn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a `mlp` network, expected `cnn`"), "{err}");
    let wider = Mlp::new(MlpConfig::sized(64, 3, 5000, 0.5, 0.5), 1).unwrap();
    let err = mdpn::checkpoint::load_into(&bytes, wider)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not this network's"), "{err}");
    let err = mdpn::checkpoint::load(&bytes).unwrap_err().to_string();
    assert!(err.contains("not MDPN"), "{err}");
}

#[test]
fn a_checkpoint_declaring_a_model_larger_than_its_file_is_refused() {
    let config = Config {
        dendrites: 3,
        hidden: 5,
        ..Config::default()
    };
    let bytes = mdpn::checkpoint::save(&checkpoint(config)).unwrap();
    let huge = edit_header(&bytes, |h| {
        let c = h["__metadata__"]["config"].as_str().unwrap();
        let mut c: serde_json::Value = serde_json::from_str(c).unwrap();
        c["dendrites"] = 1_000_000.into();
        h["__metadata__"]["config"] = c.to_string().into();
    });
    let err = mdpn::checkpoint::load(&huge).unwrap_err().to_string();
    assert!(err.contains("the file has"), "{err}");
}

/// The bytes with one bit flipped in the middle of the data section (the tensors).
fn flip_a_tensor_bit(bytes: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut damaged = bytes.to_vec();
    damaged[8 + n + (bytes.len() - 8 - n) / 2] ^= 0x10;
    damaged
}

/// The CRC-32 recorded in a file's metadata.
fn recorded_crc(bytes: &[u8]) -> String {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    meta.metadata().as_ref().unwrap()["tensors_crc32"].clone()
}

/// The file as written before checksums existed.
fn without_checksum(bytes: &[u8]) -> Vec<u8> {
    edit_header(bytes, |h| {
        h["__metadata__"]
            .as_object_mut()
            .unwrap()
            .remove("tensors_crc32");
    })
}
