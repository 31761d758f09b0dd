#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs the order example:
# the wasm target, a release build of wasmflow (which builds the plugins in
# scripts/ too), then the workflow with its plugin directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p examples/order/plugins
cp "$target_dir/guests/plugins/order_total.wasm" examples/order/plugins/

"$target_dir/release/wasmflow" run examples/order/order.bpmn \
  --plugins examples/order/plugins \
  --data @examples/order/order.json
