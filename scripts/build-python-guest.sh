#!/usr/bin/env bash
# Builds one Python handler project into a task component:
#   scripts/build-python-guest.sh <project dir> <out.wasm> [<imports>]
# The project dir holds app.py with `def handler(event, context)` (and any
# modules of its own); guest-sdk/python (the stepwasm_guest package) is put on
# the path, and stepwasm_guest.entry is the component's export, which calls
# app.handler. <imports> lists the stepwasm capabilities the component may
# import, comma-separated: `log` (the default), `log,kv`, `log,http`,
# `log,kv,http`. A componentize-py component imports every interface of the
# world it is built for, and the host refuses one that imports a capability
# its resource is not granted, so the handler is built for a world of
# wit/task.wit's package with just these (the SDK's kv or http then raises
# KvError or HttpError saying so). componentize-py comes from target/pyguest
# (scripts/install-python-guest.sh, run here when it is missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <project dir with app.py> <out.wasm> [log|log,kv|log,http|log,kv,http]" >&2
    exit 2
fi
project=$1
out=$2
imports=${3:-log}
if [ ! -f "$project/app.py" ]; then
    echo "build-python-guest: $project has no app.py (it must define handler(event, context))" >&2
    exit 1
fi
world_imports=""
world=handler
IFS=, read -r -a wanted <<<"$imports"
for capability in log kv http; do
    for w in "${wanted[@]}"; do
        if [ "$w" = "$capability" ]; then
            world_imports="$world_imports    import $capability;"$'\n'
            world="$world-$capability"
        fi
    done
done
for w in "${wanted[@]}"; do
    case $w in
        log | kv | http) ;;
        *)
            echo "build-python-guest: unknown capability '$w' in '$imports' (log, kv, http)" >&2
            exit 2
            ;;
    esac
done

tool=$root/target/pyguest/bin/componentize-py
[ -x "$tool" ] || "$root/scripts/install-python-guest.sh" >&2
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# wit/ with one more world in its package: the handler export and these imports.
cp "$root"/wit/*.wit "$work/"
cat >"$work/zz-python-world.wit" <<WIT
package stepwasm:task@0.1.0;

world $world {
$world_imports    export handler;
}
WIT
# Not the venv's own site-packages: only the SDK and the project are bundled.
if ! (cd "$project" && env -u VIRTUAL_ENV RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 "$tool" -q -d "$work" -w "$world" componentize stepwasm_guest.entry \
        -p "$root/guest-sdk/python" -p . -o "$work/out.wasm"); then
    echo "build-python-guest: componentize-py failed for $project (see above)" >&2
    exit 1
fi
mv "$work/out.wasm" "$out"
