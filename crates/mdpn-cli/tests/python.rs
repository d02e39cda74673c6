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

/// The normal dependencies of a package, by `cargo tree` from its lock file.
fn dependencies(manifest: &Path, package: &str) -> Vec<String> {
    let out = check(
        "cargo tree",
        Command::new(env!("CARGO"))
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .arg("--manifest-path")
            .arg(manifest)
            .args(["-p", package]),
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Python and the fuzz targets are front doors on the libraries, not on the program: neither
/// links the command line, its terminal crates, nor anything that fetches (HTTP, TLS). The fuzz
/// targets (a workspace of their own, built with nightly) name only libFuzzer, `mdpn` and
/// `mdpn-data` with its default features, whose tree is checked here.
#[test]
fn python_and_fuzz_depend_on_the_libraries_not_the_program() {
    let root = root();
    let manifest = root.join("Cargo.toml");
    let program = [
        "mdpn-cli",
        "clap",
        "indicatif",
        "ctrlc",
        "ureq",
        "rustls",
        "md-5",
    ];
    for package in ["mdpn-python", "mdpn-data"] {
        let names = dependencies(&manifest, package);
        for crate_name in program {
            assert!(
                !names.iter().any(|n| n == crate_name),
                "{package} depends on {crate_name}"
            );
        }
    }
    let python = dependencies(&manifest, "mdpn-python");
    for library in ["mdpn", "mdpn-data", "mdpn-runs", "mdpn-report", "mdpn-onnx"] {
        assert!(python.iter().any(|n| n == library), "{library}: {python:?}");
    }
    let fuzz = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let table = fuzz
        .split("[dependencies]")
        .nth(1)
        .expect("its dependencies");
    let table = table.split("\n[").next().unwrap_or_default();
    let mut names: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["libfuzzer-sys", "mdpn", "mdpn-data"], "{table}");
    assert!(
        !table.contains("features"),
        "fuzz turns on features of the libraries: {table}"
    );
}
