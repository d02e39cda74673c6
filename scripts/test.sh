#!/usr/bin/env bash
# The README's test command: on a fresh machine with Rust and Python, installs what the tests
# need, then runs them all (`cargo test --release --workspace`, with any arguments given).
#
# The tests need real Fashion-MNIST (Debian's dataset-fashion-mnist), a TrueType font
# (fonts-dejavu-core), Python with venv (target/venv: scripts/test-venv.sh, from PyPI), a
# headless browser (chromium), the wasm32-unknown-unknown target and wasm-bindgen's command
# line of the version in Cargo.lock; for microcontrollers, Debian's gcc-arm-none-eabi,
# libnewlib-arm-none-eabi and qemu-system-arm and the thumbv7em-none-eabihf and
# thumbv6m-none-eabi targets. The Debian packages are installed with apt-get as root;
# otherwise a missing one stops this script with the command to run. No test is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dataset-fashion-mnist fonts-dejavu-core python3 python3-venv chromium
    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "scripts/test.sh: the tests need these Debian packages: ${missing[*]}" >&2
        echo "install them (sudo apt-get install ${missing[*]}) and run this again" >&2
        exit 1
    fi
fi

# The tests' Python environment (NumPy, pytest, scikit-learn, ONNX Runtime, maturin).
scripts/test-venv.sh >/dev/null

# The model core builds for the browser and without threads; the web page's tests build it.
rustup target add wasm32-unknown-unknown
cargo build -p mdpn --target wasm32-unknown-unknown --no-default-features

# Microcontrollers: mdpn-micro builds for the Cortex-M4F and the Cortex-M0+ (no FPU); the
# `micro` tests build the C and Rust test firmwares for the Cortex-M4 and run them in QEMU's
# mps2-an386 (scripts/firmware.sh).
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi
cargo build --release -p mdpn-micro --target thumbv7em-none-eabihf
cargo build --release -p mdpn-micro --target thumbv6m-none-eabi

# wasm-bindgen's command line, of the version in Cargo.lock (scripts/build-web.sh uses it).
wbg=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
[ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $wbg" ] ||
    cargo install wasm-bindgen-cli --version "$wbg"

cargo test --release --workspace "$@"
