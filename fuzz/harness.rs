//! What each fuzz target feeds its parser, shared by the targets (`fuzz_targets/`) and by the
//! regression test that replays `fuzz/regressions/<target>/` in `cargo test`
//! (`crates/mdpn/tests/fuzz_regressions.rs`). A new parser is one line in [`TARGETS`], one
//! target file and one folder. A parser may return any error; it must not panic, hang, or
//! allocate much more than its input's size.

use mdpn::data::Dataset;
use mdpn::idx::Idx;
use mdpn::modelfile::{self, StateDictOptions};

/// Runs one input through a parser.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name, with the function that runs one input through its parser.
pub const TARGETS: &[(&str, Harness)] = &[
    ("idx", idx),
    ("model_file", model_file),
    ("state_dict", state_dict),
    ("checkpoint", checkpoint),
];

/// IDX arrays, raw or gzipped, then as images and labels of a data set.
pub fn idx(data: &[u8]) {
    if let Ok(idx) = Idx::parse(data) {
        let labels = Idx {
            dims: vec![idx.dims[0]],
            type_code: 0x08,
            data: vec![0; idx.dims[0].min(data.len())],
        };
        let _ = Dataset::from_idx(idx, labels, &["a", "b"]);
    }
}

/// Our model files, read as `mdpn eval` and `mdpn predict` read them.
pub fn model_file(data: &[u8]) {
    let _ = modelfile::load(data, &StateDictOptions::default());
}

/// PyTorch state dicts: the first byte picks the `--image-size` option (0: none).
pub fn state_dict(data: &[u8]) {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let options = StateDictOptions {
        image_size: (size > 0).then_some(size as usize),
        ..Default::default()
    };
    let _ = modelfile::load(rest, &options);
}

/// Training checkpoints, as `mdpn train --resume` reads them.
pub fn checkpoint(data: &[u8]) {
    let _ = mdpn::checkpoint::load(data);
}
