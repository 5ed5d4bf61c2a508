#!/usr/bin/env bash
# Times `stepwasm executions list` on a ~100 MB store (issue 14, item 7: an
# open used to run quick_check over the whole file, 0.2-1.1 s at 108 MB).
#
# The store: its layout made by stepwasm itself, then 10,000 SUCCEEDED
# executions of 25 events each (about 400 bytes of JSON per event), written
# with the sqlite3 shell in one transaction. `list` reads only the
# executions table, so the events are there for the size of the file.
#
# Usage: scripts/bench-store-list.sh [stepwasm binary] [runs]
#   (default: target/release/stepwasm, 20 runs). Uses hyperfine when it is
#   installed, else a loop that prints the median, mean, min and max.
# Needs the sqlite3 shell. The store is kept in $STORE_DIR (default a
# temporary directory, removed at the end) so other binaries can be timed on it.
set -euo pipefail

bin=${1:-target/release/stepwasm}
runs=${2:-20}
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 shell" >&2; exit 2; }
dir=${STORE_DIR:-$(mktemp -d)}
store="$dir/big.sqlite"

if [ ! -f "$store" ]; then
  "$bin" executions list --store "$store" >/dev/null
  sqlite3 "$store" <<'SQL'
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, last_event_id)
SELECT 'arn:aws:states:local:000000000000:execution:order:order-' || i, 'order-' || i,
       'arn:aws:states:local:000000000000:stateMachine:order', 'order', 'SUCCEEDED',
       1764000000000 + i * 1000, 1764000000000 + i * 1000 + 500, 25
FROM n;
WITH RECURSIVE e(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM e WHERE id < 25)
INSERT INTO events (execution, id, event)
SELECT x.key, e.id,
       json_object('id', e.id, 'previous_event_id', e.id - 1, 'timestamp_ms', x.start_ms + e.id,
                   'kind', json_object('TaskSucceeded', json_object('resource', 'arn:aws:lambda:us-east-1:123456789012:function:f',
                                                                    'output', json_object('pad', hex(randomblob(54))))))
FROM executions x, e;
COMMIT;
SQL
fi
echo "store: $store, $(du -m "$store" | cut -f1) MB, $(sqlite3 "$store" 'SELECT count(*) FROM executions') executions, $(sqlite3 "$store" 'SELECT count(*) FROM events') events"
echo "command: $bin executions list --store $store"

"$bin" executions list --store "$store" >/dev/null # warm the page cache
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs "$runs" "$bin executions list --store $store > /dev/null"
else
  times=()
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$bin" executions list --store "$store" >/dev/null
    times+=($((($(date +%s%N) - start) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1; sum += $1 }
    END { printf "%d runs: median %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms\n", NR, t[int((NR + 1) / 2)] / 1000, sum / NR / 1000, t[1] / 1000, t[NR] / 1000 }'
fi
[ -n "${STORE_DIR:-}" ] || rm -rf "$dir"
