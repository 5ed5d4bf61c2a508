#!/usr/bin/env bash
# Builds the Python handlers into target/guest-python/<name>.wasm: the order
# example's three (examples/order-python/{payment,inventory,notify}) and the
# hostile one of the limit tests (tests/hostile/python/hostile). Installs
# componentize-py when missing, runs the handlers' native unit tests, and
# rebuilds a component only when its inputs changed (its project's files, the
# SDK, wit/, the componentize-py version: their digest is kept beside it as
# <name>.inputs), so a second run takes about a second. One line per component.
# Measured on 2 busy cores: 5-11 s per component, about 40 s for the four.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-python-guest.sh
out=target/guest-python
mkdir -p "$out"
python=target/pyguest/bin/python

# The handlers' logic, natively (the same SDK, with kv as a dict).
if ! PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=guest-sdk/python "$python" -m unittest discover -q -s examples/order-python >"$out/unittest.log" 2>&1; then
    cat "$out/unittest.log" >&2
    echo "build-python-examples: the handlers' unit tests failed (see above)" >&2
    exit 1
fi
echo "build-python-examples: unit tests: $(tail -n 3 "$out/unittest.log" | grep -E '^Ran|^OK' | tr '\n' ' ')"

# name:project dir:imports (the capabilities each is granted in its config)
projects=(
    payment:examples/order-python/payment:log,http
    inventory:examples/order-python/inventory:log,kv
    notify:examples/order-python/notify:log
    hostile_py:tests/hostile/python/hostile:log
)
tool_version=$(target/pyguest/bin/componentize-py --version)
for entry in "${projects[@]}"; do
    IFS=: read -r name dir imports <<<"$entry"
    digest=$( { echo "$tool_version $imports"; find "$dir" guest-sdk/python wit scripts/build-python-guest.sh -type f \( -name '*.py' -o -name '*.wit' -o -name '*.sh' \) | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)
    if [ -f "$out/$name.wasm" ] && [ "$(cat "$out/$name.inputs" 2>/dev/null)" = "$digest" ]; then
        echo "build-python-examples: $name.wasm up to date"
        continue
    fi
    started=$SECONDS
    rm -f "$out/$name.inputs"
    # The tests' compile cache (tests/it/python_handlers.rs) would keep the
    # old component's 43 MB artefact for ever: start it afresh.
    rm -rf "$out/compile-cache"
    scripts/build-python-guest.sh "$dir" "$out/$name.wasm" "$imports"
    echo "$digest" >"$out/$name.inputs"
    echo "build-python-examples: built $out/$name.wasm ($(($(stat -c %s "$out/$name.wasm") / 1024)) KiB) in $((SECONDS - started)) s"
done
