#!/usr/bin/env bash
# Runs the read-file example three ways: a file that exists, a missing file
# (caught by the boundary error event), and the same plugin with its grant
# withdrawn (a clear denial). Sets up the wasm target and builds first.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
wasmflow="$target_dir/release/wasmflow"
example=examples/read-file
mkdir -p "$example/plugins"
cp "$target_dir/guests/plugins/read_file.wasm" "$example/plugins/"

echo "== an existing file"
"$wasmflow" run "$example/read_file.bpmn" --data '{"filename": "/data/letter.txt"}'
echo "== a missing file"
"$wasmflow" run "$example/read_file.bpmn" --data '{"filename": "/data/invoice.txt"}'
echo "== without the grant"
"$wasmflow" run "$example/read_file.bpmn" --data '{"filename": "/data/letter.txt"}' \
  --deny-read "read_file=$example/data" || echo "(failed as expected: the grant was withdrawn)"
