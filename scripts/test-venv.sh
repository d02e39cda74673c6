#!/usr/bin/env bash
# Makes (once) the Python environment the tests use: target/venv with the packages of
# requirements-test.txt (NumPy, pytest, scikit-learn, ONNX Runtime, maturin), from PyPI.
# Safe to call from several tests at once (flock). Prints the path of its python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/target/venv"
req="$root/requirements-test.txt"
mkdir -p "$root/target"
exec 9>"$root/target/venv.lock"
flock 9
if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    cp "$req" "$venv/.requirements"
fi
echo "$venv/bin/python"
