#!/usr/bin/env bash
# Installs aws-local-stepfunctions (npm) into target/als for the peer
# comparison of `stepwasm-bench --compare-als` (make bench-peer), unless it
# is there already. Needs Node and npm; the version is pinned.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/target/als"
version=3.0.0
if [ -f "$dir/node_modules/aws-local-stepfunctions/package.json" ] &&
   grep -q "\"version\": \"$version\"" "$dir/node_modules/aws-local-stepfunctions/package.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-als: npm is not installed (the comparison needs Node and npm)" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "stepwasm-als-bench", "private": true}' > "$dir/package.json"
# 3.0.0 declares Node >= 22; scripts/als-bench.mjs supplies what it uses of 22 on Node 20.
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "aws-local-stepfunctions@$version" >&2
