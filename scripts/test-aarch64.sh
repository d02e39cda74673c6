#!/usr/bin/env bash
# Cross-builds the model core for 64-bit ARM (aarch64, where the 8-bit kernel's portable loops
# compile to NEON, baseline there) and runs its tests under qemu-aarch64: the same results as
# the x86-64 build, bit for bit where the tests ask for it. Emulation says nothing of speed.
# Needs root for apt-get (as .ci/run); a few minutes on two cores.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
    [ ! -e /usr/aarch64-linux-gnu/lib/crti.o ]; then
    apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
fi
rustup target add aarch64-unknown-linux-gnu
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --release -p mdpn --target aarch64-unknown-linux-gnu
