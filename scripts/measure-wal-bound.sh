#!/usr/bin/env bash
# Measures how large a store's write-ahead log grows while readers overlap
# one another (issue 14, item 7: a WAL of 793 MB, 7.5x the database).
#
# The writer is `stepwasm-bench --mode wasm` (its SQLite store rows: plain
# commits, then group commits with the background checkpointer); three
# readers run full scans of the events table with the sqlite3 shell, one
# after another and staggered, so that at every instant some read
# transaction holds an older snapshot. The WAL's size is sampled 4 times a
# second; the largest is printed at the end, with the bench's store rows.
#
# Usage: scripts/measure-wal-bound.sh [stepwasm-bench binary] [seconds per bench row]
#   (default: target/release/stepwasm-bench, 15). Needs the sqlite3 shell; run
#   from the repository root.
set -euo pipefail

bin=${1:-target/release/stepwasm-bench}
seconds=${2:-15}
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 shell" >&2; exit 2; }
out=$(mktemp)
"$bin" --mode wasm --seconds "$seconds" >"$out" 2>&1 &
bench=$!
store=${TMPDIR:-/tmp}/stepwasm-bench-$bench/store.sqlite
while [ ! -f "$store" ]; do sleep 0.05; done

reader() {
  sleep "$1"
  while kill -0 "$bench" 2>/dev/null; do
    sqlite3 "$store" "SELECT count(*), sum(length(event)) FROM events" >/dev/null 2>&1 || true
  done
}
reader 0 & r1=$!
reader 0.3 & r2=$!
reader 0.6 & r3=$!

max=0
samples=0
while kill -0 "$bench" 2>/dev/null; do
  wal=$(stat -c %s "$store-wal" 2>/dev/null || echo 0)
  db=$(stat -c %s "$store" 2>/dev/null || echo 0)
  [ "$wal" -gt "$max" ] && max=$wal
  samples=$((samples + 1))
  [ $((samples % 20)) -eq 0 ] && echo "t=$((samples / 4))s wal=$((wal >> 20)) MiB db=$((db >> 20)) MiB largest wal=$((max >> 20)) MiB"
  sleep 0.25
done
wait "$r1" "$r2" "$r3"
echo "largest WAL: $((max >> 20)) MiB ($max bytes)"
grep "SQLite store" "$out" || cat "$out"
rm -f "$out"
