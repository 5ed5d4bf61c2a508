#!/usr/bin/env bash
# Builds every crate in modules/ into a wasm32-wasip2 component (release only),
# into target/guest/wasm32-wasip2/release/<name>.wasm.
#
# Two routes, detected here:
#  - rustup has the wasm32-wasip2 target: a plain `cargo build --target`.
#  - otherwise (these machines: rustup cannot fetch targets) the Debian route of
#    shared/toolchain: Debian's rustc-web with -Zbuild-std, installed on demand
#    by scripts/setup-guest-toolchain.sh (needs root for apt on first use).
#
# Each member is built by its own cargo invocation: cargo unifies the features
# of the packages it builds together, and the `std` features that hostile and
# probe turn on would otherwise pull std (and with it WASI) into the no_std
# example modules (see modules/Cargo.toml). Arguments, if any, are passed to
# one cargo invocation instead (e.g. `-p payment`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir="$root/target/guest"
cd "$root/modules"   # cargo reads .cargo/config.toml from the current directory

if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "guests: using rustup's wasm32-wasip2 target" >&2
  build() { cargo build --release --locked --target wasm32-wasip2 --target-dir "$target_dir" "$@"; }
else
  echo "guests: rustup has no wasm32-wasip2 target; using the Debian toolchain route" >&2
  "$root/scripts/setup-guest-toolchain.sh" >&2
  # -Zbuild-std needs RUSTC_BOOTSTRAP; the flags mirror shared/toolchain/README.md.
  build() {
    RUSTC_BOOTSTRAP=1 \
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
    CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-L native=/usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=/usr/local/bin/wasm-ld" \
    cargo build --release --locked --target wasm32-wasip2 --target-dir "$target_dir" \
      -Zbuild-std=std,panic_abort "$@"
  }
fi

if [ $# -gt 0 ]; then
  build "$@"
else
  # The workspace's members, as listed in modules/Cargo.toml.
  members=$(sed -n 's/^members *= *\[\(.*\)\]/\1/p' Cargo.toml | tr ',' ' ' | tr -d '"')
  [ -n "$members" ] || { echo "guests: no members found in modules/Cargo.toml" >&2; exit 1; }
  for member in $members; do
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$member/Cargo.toml" | head -n 1)
    echo "guests: building $name" >&2
    build -p "$name"
  done
fi
ls -1 "$target_dir/wasm32-wasip2/release/"*.wasm >&2
