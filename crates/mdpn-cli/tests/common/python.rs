//! The tests' Python environment (NumPy, ONNX Runtime, scikit-learn, pytest, maturin), made once
//! by `scripts/test-venv.sh` under a lock.

use std::process::Command;

/// The tests' Python with ONNX Runtime; fails the test if the environment cannot be made.
pub fn python() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/test-venv.sh");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("run test-venv.sh");
    assert!(
        out.status.success(),
        "scripts/test-venv.sh could not make the Python environment:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
