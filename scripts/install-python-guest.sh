#!/usr/bin/env bash
# Installs componentize-py (PyPI), which builds Python handlers into task
# components (scripts/build-python-guest.sh), into a virtualenv at
# target/pyguest, only when it is missing or another version: a second run
# takes well under a second. Prints one line saying what it did.
set -euo pipefail
cd "$(dirname "$0")/.."

# 0.25.1 bundles CPython 3.14 and targets WASI 0.2.0, which wasmtime-wasi's
# p2 linker (the host's) serves.
# COMPONENTIZE_PY_VERSION
. guest-sdk/tool-versions.env
VENV=target/pyguest
TOOL=$VENV/bin/componentize-py

installed() {
    [ -x "$TOOL" ] && [ "$("$TOOL" --version 2>/dev/null)" = "componentize-py $COMPONENTIZE_PY_VERSION" ]
}

if installed; then
    echo "install-python-guest: componentize-py $COMPONENTIZE_PY_VERSION already in $VENV"
    exit 0
fi
started=$SECONDS
mkdir -p target
if [ ! -x "$VENV/bin/python" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
log=$(mktemp)
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "install-python-guest: pip install componentize-py==$COMPONENTIZE_PY_VERSION into $VENV failed (see above)" >&2
    exit 1
fi
rm -f "$log"
if ! installed; then
    echo "install-python-guest: installed into $VENV but '$TOOL --version' does not say $COMPONENTIZE_PY_VERSION" >&2
    exit 1
fi
echo "install-python-guest: installed componentize-py $COMPONENTIZE_PY_VERSION into $VENV in $((SECONDS - started)) s"
