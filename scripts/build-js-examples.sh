#!/usr/bin/env bash
# Builds the JavaScript handlers into target/guest-js/<name>.wasm: the order
# example's three (examples/order-js/{payment,inventory,notify}) and the
# hostile one of the limit tests (tests/hostile/js/hostile), the fetch() one of
# the wasi:http tests (tests/hostile/js/fetcher). Installs
# componentize-js and esbuild when missing, runs the handlers' native unit
# tests (node --test, the same SDK with kv as a Map), and rebuilds a
# component only when its inputs changed (its project's files, the SDK, wit/,
# the tools' versions: their digest is kept beside it as <name>.inputs), so a
# second run takes about a second. One line per component.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-js-guest.sh
out=target/guest-js
mkdir -p "$out"

# The handlers' logic, natively: `stepwasm-guest` resolved to guest-sdk/js as
# a project outside this repository gets it (a file: dependency, a symlink).
(cd examples/order-js && npm install --offline --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
if ! node --test examples/order-js/ >"$out/unittest.log" 2>&1; then
    cat "$out/unittest.log" >&2
    echo "build-js-examples: the handlers' unit tests failed (see above)" >&2
    exit 1
fi
echo "build-js-examples: unit tests: $(grep -E '^# (pass|fail)' "$out/unittest.log" | tr '\n' ' ')"

# name:project dir:imports (the capabilities each is granted in its config)
# [:wasi-http (keeps the global fetch(), standard wasi:http)]
projects=(
    payment:examples/order-js/payment:log,http
    inventory:examples/order-js/inventory:log,kv
    notify:examples/order-js/notify:log
    hostile_js:tests/hostile/js/hostile:log
    fetcher_js:tests/hostile/js/fetcher:log:wasi-http
)
tools=$(cat target/jsguest/installed)
for entry in "${projects[@]}"; do
    IFS=: read -r name dir imports wasi_http <<<"$entry"
    digest=$( { echo "$tools $imports ${wasi_http:-}"; find "$dir" guest-sdk/js wit scripts/build-js-guest.sh scripts/js-guest-build.mjs -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.json' -o -name '*.wit' -o -name '*.sh' \) -not -path '*/node_modules/*' | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)
    if [ -f "$out/$name.wasm" ] && [ "$(cat "$out/$name.inputs" 2>/dev/null)" = "$digest" ]; then
        echo "build-js-examples: $name.wasm up to date"
        continue
    fi
    started=$SECONDS
    rm -f "$out/$name.inputs"
    STEPWASM_JS_WASI_HTTP=$([ "${wasi_http:-}" = wasi-http ] && echo 1 || echo 0) scripts/build-js-guest.sh "$dir" "$out/$name.wasm" "$imports"
    echo "$digest" >"$out/$name.inputs"
    echo "build-js-examples: built $out/$name.wasm ($(($(stat -c %s "$out/$name.wasm") / 1024)) KiB) in $((SECONDS - started)) s"
done
