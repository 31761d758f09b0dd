#!/usr/bin/env bash
# Runs the order-product example twice: the lookups called from inline scripts,
# then the same lookups as service tasks. Sets up the wasm target and builds first.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
example=examples/order-product
mkdir -p "$example/plugins"
cp "$target_dir"/guests/plugins/lookup_{product_info,shipping_cost}.wasm "$example/plugins/"

for diagram in order_product order_product_service_tasks; do
  echo "== $diagram"
  "$target_dir/release/wasmflow" run "$example/$diagram.bpmn" --data @"$example/order.json"
done
