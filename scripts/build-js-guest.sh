#!/usr/bin/env bash
# Builds one JavaScript handler project into a task component:
#   scripts/build-js-guest.sh <project dir> <out.wasm> [<imports>]
# The project dir holds app.js exporting `handler(event, context)` (sync or
# async), which may import 'stepwasm-guest' (guest-sdk/js), modules of its own
# and npm packages installed in the project: esbuild bundles them into one
# module with the SDK, and componentize-js builds that into a component whose
# stepwasm:task/handler export calls the handler. <imports> lists the stepwasm
# capabilities the component may import, comma-separated: `log` (the
# default), `log,kv`, `log,http`, `log,kv,http`; the host refuses a component
# that imports a capability its resource is not granted, so the component is
# built for a world of wit/task.wit's package with just these (the SDK's kv or
# http then throws KvError or HttpError saying so). The tools come from
# target/jsguest (scripts/install-js-guest.sh, run here when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <project dir with app.js> <out.wasm> [log|log,kv|log,http|log,kv,http]" >&2
    exit 2
fi
project=$(cd "$1" && pwd)
out=$2
imports=${3:-log}
if [ ! -f "$project/app.js" ]; then
    echo "build-js-guest: $project has no app.js (it must export a function handler(event, context))" >&2
    exit 1
fi
IFS=, read -r -a wanted <<<"$imports"
for w in "${wanted[@]}"; do
    case $w in
        log | kv | http) ;;
        *)
            echo "build-js-guest: unknown capability '$w' in '$imports' (log, kv, http)" >&2
            exit 2
            ;;
    esac
done
granted() {
    local w
    for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}

tools=$root/target/jsguest
"$root/scripts/install-js-guest.sh" >&2
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The world: the handler export and the granted imports; the SDK's view of them.
world=handler
world_imports=""
capabilities="export const inComponent = true;"$'\n'
for capability in log kv http; do
    if granted "$capability"; then
        world="$world-$capability"
        world_imports="$world_imports    import $capability;"$'\n'
    fi
done
if granted log; then
    capabilities+="export { log } from 'stepwasm:task/log@0.1.0';"$'\n'
else
    capabilities+="export const log = null;"$'\n'
fi
if granted kv; then
    capabilities+="import { get, set, delete as remove } from 'stepwasm:task/kv@0.1.0';"$'\n'
    capabilities+="export const kv = { get, set, delete: remove };"$'\n'
else
    capabilities+="export const kv = null;"$'\n'
fi
if granted http; then
    capabilities+="import { fetch } from 'stepwasm:task/http@0.1.0';"$'\n'
    capabilities+="export const http = { fetch };"$'\n'
else
    capabilities+="export const http = null;"$'\n'
fi
mkdir -p "$work/wit"
cp "$root"/wit/*.wit "$work/wit/"
cat >"$work/wit/zz-js-world.wit" <<WIT
package stepwasm:task@0.1.0;

world $world {
$world_imports    export handler;
}
WIT
cp -r "$root/guest-sdk/js" "$work/sdk"
printf '%s' "$capabilities" >"$work/sdk/capabilities.js"
cat >"$work/entry.js" <<JS
import * as app from '$project/app.js';
import { handlerExport } from './sdk/entry.js';
export const handler = handlerExport(app.handler, '$project/app.js');
JS
cp "$root/scripts/js-guest-build.mjs" "$tools/js-guest-build.mjs"
if ! node "$tools/js-guest-build.mjs" "$work" "$work/entry.js" "$world" "$work/out.wasm"; then
    echo "build-js-guest: building $project failed (see above)" >&2
    exit 1
fi
mv "$work/out.wasm" "$out"
