#!/usr/bin/env bash
# Runs the order example once per input in examples/order/inputs and prints
# each execution's status and output. A failed execution (exit 1) is an
# expected outcome for some inputs; anything else (exit 2) stops the script.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/stepwasm
for input in examples/order/inputs/*.json; do
  echo "=== $(basename "$input" .json)"
  "$bin" run examples/order/order.asl.json --input "@$input" --logs
  code=$?
  if [ "$code" -ge 2 ]; then
    echo "stepwasm failed on $input (exit $code)" >&2
    exit "$code"
  fi
  echo
done
