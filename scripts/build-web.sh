#!/usr/bin/env bash
# Builds the browser page's code: crates/mdpn-wasm for wasm32-unknown-unknown (profile `wasm`:
# small rather than fast), then its JavaScript binding into web/pkg/ with wasm-bindgen. Needs
# `rustup target add wasm32-unknown-unknown` and the wasm-bindgen-cli of the version of the
# wasm-bindgen crate in Cargo.lock. (Debian's wasm-opt 108 -Oz saves 7% raw but adds 1 KB
# gzipped, so it is not used.)
# Serve web/ over HTTP to use the page (browsers do not run modules from file://).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "build-web.sh: needs wasm-bindgen $want (found '${have:-none}'): cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
cargo build -p mdpn-wasm --target wasm32-unknown-unknown --profile wasm
rm -rf web/pkg
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir web/pkg \
    target/wasm32-unknown-unknown/wasm/mdpn_wasm.wasm
wasm=web/pkg/mdpn_wasm_bg.wasm
echo "$wasm: $(wc -c <"$wasm") bytes, $(gzip -9 <"$wasm" | wc -c) gzipped"
