//! Replays every input kept in `fuzz/regressions/<target>/` (the fuzzers' seeds and every
//! input that once crashed a parser) through the same harness the fuzz targets use: none may
//! panic. A new fuzz target is one line in `fuzz/harness.rs` plus its folder.

use std::fs;
use std::path::Path;

#[path = "../../../fuzz/harness.rs"]
mod harness;

#[test]
fn fuzz_regression_inputs_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut folders: Vec<String> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut names: Vec<String> = harness::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    assert_eq!(folders, names, "one regression folder per fuzz target");
    for (name, run) in harness::TARGETS {
        let mut inputs = 0;
        for entry in fs::read_dir(root.join(name)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run(&bytes));
            assert!(result.is_ok(), "{name} panicked on {}", path.display());
            inputs += 1;
        }
        assert!(inputs > 0, "no input in fuzz/regressions/{name}");
    }
}
