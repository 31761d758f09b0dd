#!/usr/bin/env bash
# Runs the parallel-waits example twice: the three waits one after another
# (--concurrency 1), then on the engine's pool (the default). The second takes
# about the longest wait (0.9 s), the first about the sum (1.8 s); both end
# with the same data.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
example=examples/parallel-waits
mkdir -p "$example/plugins"
cp "$target_dir/guests/plugins/wait.wasm" "$example/plugins/"

for concurrency in 1 8; do
  echo "== --concurrency $concurrency"
  time "$target_dir/release/wasmflow" run "$example/parallel_waits.bpmn" --data @"$example/waits.json" \
    --concurrency "$concurrency"
done
