#!/usr/bin/env bash
# The crates' dependency edges, as ARCHITECTURE.md draws them, checked with
# `cargo tree` (normal, build and dev dependencies): each crate of the
# workspace reaches exactly the crates of ours listed for it, and none of the
# heavy dependencies it must not have (wasmtime only through the runtime; no
# tokio below the store; no clap below the host, no hyper below the runtime:
# its wasi:http client is the only hyper below the host). Cargo enforces
# the rest: a crate cannot `use` one it does not list.
set -euo pipefail
cd "$(dirname "$0")/.."

# crate | the crates of ours it reaches (itself included) | what it must not reach
layers=(
  "stepwasm-jsonata|stepwasm-jsonata|tokio wasmtime rusqlite clap hyper"
  "stepwasm-asl|stepwasm-asl stepwasm-jsonata|tokio wasmtime rusqlite clap hyper"
  "stepwasm-engine|stepwasm-asl stepwasm-engine stepwasm-jsonata|tokio wasmtime rusqlite clap hyper"
  "stepwasm-sqlite|stepwasm-sqlite|tokio wasmtime clap hyper"
  "stepwasm-store|stepwasm-asl stepwasm-engine stepwasm-jsonata stepwasm-sqlite stepwasm-store|wasmtime clap hyper"
  "stepwasm-runtime|stepwasm-asl stepwasm-engine stepwasm-jsonata stepwasm-runtime stepwasm-sqlite|clap"
  "stepwasm-driver|stepwasm-asl stepwasm-driver stepwasm-engine stepwasm-jsonata stepwasm-sqlite stepwasm-store|wasmtime clap hyper"
)

failed=0
for layer in "${layers[@]}"; do
  IFS='|' read -r crate expected forbidden <<<"$layer"
  tree=$(cargo tree --locked --offline -p "$crate" -e normal,build,dev --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  ours=$(grep -E '^stepwasm' <<<"$tree" | tr '\n' ' ' | sed 's/ $//')
  if [[ "$ours" != "$expected" ]]; then
    echo "check-layers: $crate reaches [$ours], expected [$expected] (see ARCHITECTURE.md)" >&2
    failed=1
  fi
  for name in $forbidden; do
    if grep -qx "$name" <<<"$tree"; then
      echo "check-layers: $crate depends on $name, which it must not (see ARCHITECTURE.md)" >&2
      failed=1
    fi
  done
done
# wasmtime is listed by the runtime only.
listed=$(grep -l '^wasmtime' crates/*/Cargo.toml host/Cargo.toml | tr '\n' ' ')
if [[ "$listed" != "crates/runtime/Cargo.toml " ]]; then
  echo "check-layers: wasmtime is listed by [$listed], expected the runtime only" >&2
  failed=1
fi
if [[ $failed == 0 ]]; then echo "check-layers: every crate's dependencies point down"; fi
exit $failed
