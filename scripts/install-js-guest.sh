#!/usr/bin/env bash
# Installs what builds JavaScript handlers into task components
# (scripts/build-js-guest.sh) from npm into target/jsguest, only when it is
# missing or another version: componentize-js (StarlingMonkey, a SpiderMonkey
# built for WASI, snapshotted with the handler by Wizer) and esbuild (which
# bundles the handler, its npm dependencies and the SDK into one module). A
# second run takes well under a second. Prints one line saying what it did.
# Needs Node 18 or newer (installed with apt-get when there is none).
set -euo pipefail
cd "$(dirname "$0")/.."

# COMPONENTIZE_JS_VERSION, ESBUILD_VERSION
. guest-sdk/tool-versions.env
DIR=target/jsguest
WANTED="componentize-js $COMPONENTIZE_JS_VERSION, esbuild $ESBUILD_VERSION"

installed() {
    [ -f "$DIR/installed" ] && [ "$(cat "$DIR/installed")" = "$WANTED" ] &&
        [ -f "$DIR/node_modules/@bytecodealliance/componentize-js/package.json" ] &&
        [ -f "$DIR/node_modules/esbuild/package.json" ]
}

if installed; then
    echo "install-js-guest: $WANTED already in $DIR"
    exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    # A fresh Debian machine: Node from its packages (as scripts/test-tools.sh
    # installs Chromium; run as root).
    apt_log=$(mktemp)
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 nodejs npm; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        echo "install-js-guest: node and npm are needed and apt-get install nodejs npm failed (see above)" >&2
        exit 1
    fi
    rm -f "$apt_log"
    echo "install-js-guest: installed $(node --version) and npm $(npm --version) with apt-get"
fi
started=$SECONDS
rm -rf "$DIR"
mkdir -p "$DIR"
cat >"$DIR/package.json" <<JSON
{
  "name": "stepwasm-js-guest-tools",
  "private": true,
  "dependencies": {
    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS_VERSION",
    "esbuild": "$ESBUILD_VERSION"
  }
}
JSON
log=$(mktemp)
if ! (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "install-js-guest: npm install of $WANTED into $DIR failed (see above)" >&2
    exit 1
fi
rm -f "$log"
echo "$WANTED" >"$DIR/installed"
echo "install-js-guest: installed $WANTED into $DIR in $((SECONDS - started)) s"
