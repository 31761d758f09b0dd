#!/usr/bin/env bash
# Runs the network example: starts a small price service on 127.0.0.1:8765
# (python3's http.server over service/), prices an order through it, then shows
# two refusals (the same service by a name the manifest does not grant, and
# another port) and a one-run grant of the name: its address, 127.0.0.1, is
# granted by the manifest, as a name resolving to a non-public address needs.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip1
cargo build --release --locked -p wasmflow

target_dir=${CARGO_TARGET_DIR:-target}
example=examples/network
mkdir -p "$example/plugins"
cp "$target_dir/guests/plugins/network.wasm" "$example/plugins/"

python3 -m http.server 8765 --bind 127.0.0.1 --directory "$example/service" >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8765) 2>/dev/null && break
  sleep 0.1
done

wasmflow="$target_dir/release/wasmflow"
echo "== granted: http://127.0.0.1:8765"
"$wasmflow" run "$example/price.bpmn" --data @"$example/order.json"

echo "== refused: http://localhost:8765 (only its address is granted, not the name)"
"$wasmflow" run "$example/price.bpmn" \
  --data '{"url": "http://localhost:8765/products/a.json", "quantity": 3}' || true

echo "== refused: http://127.0.0.1:8766 (another port)"
"$wasmflow" run "$example/price.bpmn" \
  --data '{"url": "http://127.0.0.1:8766/products/a.json", "quantity": 3}' || true

echo "== allowed: localhost granted for one run (its address 127.0.0.1 is granted by the manifest)"
"$wasmflow" run "$example/price.bpmn" --allow-net network=localhost:8765 \
  --data '{"url": "http://localhost:8765/products/a.json", "quantity": 3}'
