#!/usr/bin/env bash
# Runs the dangerous example: every attempt of the plugin is refused, the
# workflow reports each one, and nothing outside the sandbox changes.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
example=examples/dangerous
mkdir -p "$example/plugins"
cp "$target_dir/guests/plugins/dangerous.wasm" "$example/plugins/"

"$target_dir/release/wasmflow" run "$example/dangerous.bpmn" --data @"$example/attempts.json" \
  --audit "$target_dir/dangerous-audit.jsonl" || true
echo "== audit ($target_dir/dangerous-audit.jsonl)"
tail -n 20 "$target_dir/dangerous-audit.jsonl"
test ! -e /tmp/wasmflow-dangerous-was-here && echo "== nothing was written outside the sandbox"
