#!/usr/bin/env bash
# Runs the payment-timeout example: two orders wait for their payment, each
# for its own payment window. `wasmflow serve` fires the timeouts as they fall
# due; `wasmflow message` delivers a payment to the order it correlates with.
# Order 1001 is paid in time and shipped; order 1002 is not, and is cancelled
# when its window closes; its late payment is then refused, not lost.
#
# WASMFLOW names the wasmflow binary to use (the test suite sets it);
# without it the release binary is built first.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${WASMFLOW:-}" ]; then
  rustup target add wasm32-wasip1
  cargo build --release --locked -p wasmflow
  WASMFLOW=${CARGO_TARGET_DIR:-target}/release/wasmflow
fi
example=examples/payment-timeout
work=$(mktemp -d)
db=$work/orders.db
serve=
trap '[ -n "$serve" ] && kill "$serve" 2>/dev/null; rm -rf "$work"' EXIT

# Starts an order; prints what it waits for, and keeps its id in $id.
start_order() {
  "$WASMFLOW" run "$example/order_payment.bpmn" --db "$db" --data "$1" | tee "$work/started"
  id=$(sed -n 's/^instance \([^ ]*\) .*/\1/p' "$work/started")
  test -n "$id"
}

echo "== two orders wait for their payment"
start_order '{"order_id": 1001, "payment_window": "PT1M"}'
paid=$id
start_order '{"order_id": 1002, "payment_window": "PT1S"}'
late=$id

"$WASMFLOW" serve --db "$db" > "$work/serve.log" 2>&1 &
serve=$!

echo "== the payment of order 1001 arrives"
"$WASMFLOW" message payment --correlate order_id=1001 --data '{"amount": 42.5}' --db "$db"

echo "== serve cancels order 1002 when its payment window closes"
for _ in $(seq 600); do
  "$WASMFLOW" list --db "$db" --status waiting | grep -q "$late" || break
  sleep 0.1
done
kill -TERM "$serve"
wait "$serve" || true
serve=
cat "$work/serve.log"

for id in "$paid" "$late"; do
  "$WASMFLOW" show "$id" --db "$db" --json | sed -n 's/.*"outcome":"\([^"]*\)".*/outcome: \1/p'
done

echo "== the late payment of order 1002 finds nothing waiting for it"
"$WASMFLOW" message payment --correlate order_id=1002 --data '{"amount": 10}' --db "$db" || true
