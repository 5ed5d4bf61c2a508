#!/usr/bin/env bash
# Runs the order example once per input in examples/order/inputs and prints
# each execution's status and output, then the seed document's definition
# (examples/order/seed.asl.json) on the same inputs. A failed execution
# (exit 1) is an expected outcome for some inputs; anything else (exit 2)
# stops the script.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/stepwasm
for definition in order seed; do
  for input in examples/order/inputs/*.json; do
    echo "=== $definition.asl.json: $(basename "$input" .json)"
    "$bin" run "examples/order/$definition.asl.json" --input "@$input" --logs
    code=$?
    if [ "$code" -ge 2 ]; then
      echo "stepwasm failed on $definition.asl.json with $input (exit $code)" >&2
      exit "$code"
    fi
    echo
  done
done
