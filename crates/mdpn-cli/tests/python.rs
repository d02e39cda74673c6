//! The Python package (`python/`), tested from a real interpreter: installs it with pip (a
//! maturin build) into the tests' environment (`scripts/test-venv.sh`) and runs its pytest
//! suite, which compares it with this program. Fails, with pytest's output, if any step does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::python;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `command`, failing the test with its output unless it succeeds.
fn check(what: &str, command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn python_package_passes_its_tests() {
    let root = root();
    let python = python();
    let python = python.as_str();
    // pip runs the build backend's `maturin` command from the environment.
    let bin = Path::new(python).parent().expect("python's folder");
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a valid PATH");
    // Its own target folder: this test's cargo holds the lock of the workspace's.
    check(
        "pip install ./python",
        Command::new(python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args([
                "--no-build-isolation",
                "--no-deps",
                "--force-reinstall",
                "./python",
            ])
            .env("CARGO_TARGET_DIR", root.join("target/python"))
            .env("PATH", &path)
            .current_dir(&root),
    );
    check(
        "pytest python/tests",
        Command::new(python)
            .args([
                "-m",
                "pytest",
                "python/tests",
                "-q",
                "-p",
                "no:cacheprovider",
            ])
            .env("MDPN_BIN", env!("CARGO_BIN_EXE_mdpn"))
            .current_dir(&root),
    );
}
