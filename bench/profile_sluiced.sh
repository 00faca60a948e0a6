#!/usr/bin/env bash
# Where sluiced spends its CPU under `sluice load`: starts a fresh sluiced (1024 vbuckets,
# io_threads=2), runs one load phase, samples the server with `perf record` (software clock, so it
# works in VMs without hardware counters) and prints the CPU split by thread, by library and the top
# symbols. The tool behind the analysis notes in bench/RESULTS.md.
#
# Usage: bench/profile_sluiced.sh [BUILD_DIR] [get|set]     (default: build set)
# Environment: KEYS [1000000] DURATION [15] CONNECTIONS [4] PIPELINE [32] THREADS [2]
#              TOP [25] (symbols listed), PERF_DATA (keep the samples there; default: a temp file)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
PHASE="${2:-set}"
KEYS="${KEYS:-1000000}"
DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-4}"
PIPELINE="${PIPELINE:-32}"
THREADS="${THREADS:-2}"
TOP="${TOP:-25}"

die() { echo "profile_sluiced: $*" >&2; exit 1; }
command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[[ -x "$BUILD_DIR/sluiced" && -x "$BUILD_DIR/sluice" ]] || die "build $BUILD_DIR first"
case "$PHASE" in get) RATIO=0 ;; set) RATIO=1 ;; *) die "phase must be get or set" ;; esac

WORK="$(mktemp -d /tmp/sluice-profile.XXXXXX)"
PERF_DATA="${PERF_DATA:-$WORK/perf.data}"
PID=""
cleanup() {
  [[ -z "$PID" ]] || kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
"$BUILD_DIR/sluiced" --port 0 --data-dir "$WORK/data" --users "$WORK/users.json" --vbuckets 1024 \
  --set "io_threads=$THREADS" --log-level warn >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 600); do
  grep -q '^sluiced listening on ' "$WORK/out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || die "sluiced exited: $(cat "$WORK/err")"
  sleep 0.1
done
PORT="$(sed -n 's/^sluiced listening on .*:\([0-9]*\)$/\1/p' "$WORK/out")"
[[ -n "$PORT" ]] || die "sluiced did not start"
LOAD=("$BUILD_DIR/sluice" load --port "$PORT" --user bench --password bench --keys "$KEYS"
  --connections "$CONNECTIONS" --pipeline "$PIPELINE")

if [[ "$PHASE" = get ]]; then
  "${LOAD[@]}" --populate --ops 1 --json >/dev/null
fi
"${LOAD[@]}" --set-ratio "$RATIO" --duration "$DURATION" --json >"$WORK/load.json" &
LOAD_PID=$!
sleep 2  # past connection set-up and key generation
perf record -F 499 -g -o "$PERF_DATA" -p "$PID" -- sleep "$((DURATION - 4))" 2>/dev/null
wait "$LOAD_PID"
echo "load: $(cat "$WORK/load.json")"

set +o pipefail  # `head` closing the pipe early is fine below
report() { perf report -i "$PERF_DATA" --no-children --stdio -g none "$@" 2>/dev/null | grep '%'; }
echo
echo "== CPU samples by thread (sluiced = executor threads: flusher, pagers, checkpoint remover)"
report --sort comm
echo
echo "== by library"
report --sort dso | head -10
echo
echo "== top symbols (self), all threads"
report --sort comm,symbol | head -"$TOP" | cut -c1-160
echo
echo "== inclusive: flusher write path vs read-before-write"
perf report -i "$PERF_DATA" --children --stdio -g none --sort symbol 2>/dev/null | grep '%' |
  grep -E 'RocksDBKVStore::(Commit|Write)|DBImpl::(WriteImpl|MultiGetImpl)|log::Writer::AddRecord|Flusher|CheckpointManager::|RunCheckpointRemover' |
  head -20 | awk '{printf "%8s  %s\n", $1, $4}'
