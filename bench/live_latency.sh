#!/usr/bin/env bash
# Live stream latency: how long a write takes to reach a DCP consumer that follows the stream
# (`sluice tail`), at a fixed write rate, measured in one run on this machine. (Issue 3's bench/
# requirement; benchmark 3 of issue 5.)
#
#   1. A fresh sluiced (1024 vbuckets).
#   2. `sluice tail --latency` follows every vbucket from now on (flow control with automatic
#      acknowledgements, noops on); the script waits until its streams are open.
#   3. `sluice load --rate RATE --timestamp-values` writes (SET only, random keys) at RATE/s for
#      DURATION s: each value starts with the steady-clock time its batch was sent (the same clock
#      on the same machine), and tail records receipt time minus that for every mutation it gets,
#      in the same HDR-style histogram `load` uses.
#   4. One second after the load ends (every change is long delivered by then), tail is
#      interrupted and prints its figures.
# Fewer changes than writes is not a loss: a key rewritten before the stream read it is delivered
# once (checkpoint deduplication).
#
# Target (issue 5): p99 < 1 ms at 20,000 writes/s.
#
# Usage: bench/live_latency.sh [BUILD_DIR]             (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   RATE [20000] writes/s   DURATION [10] s   KEYS [1000000]   VALUE_SIZE [100]
#   CONNECTIONS [2] x PIPELINE [4] (a batch of CONNECTIONS x PIPELINE writes every
#   CONNECTIONS x PIPELINE / RATE s, the connections staggered)
#   QUICK=1   DURATION=3 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=live_latency
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

[[ "${QUICK:-0}" = 1 ]] && DURATION="${DURATION:-3}"
RATE="${RATE:-20000}"
DURATION="${DURATION:-10}"
KEYS="${KEYS:-1000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
CONNECTIONS="${CONNECTIONS:-2}"
PIPELINE="${PIPELINE:-4}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
TAIL_PID=""
cleanup() {
  [[ -z "$TAIL_PID" ]] || kill -KILL "$TAIL_PID" 2>/dev/null || true
  kill_sluiced
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

declare -A R
COMMANDS=()
record() { COMMANDS+=("$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$*")"); }

start_sluiced "$WORK/data" --vbuckets 1024 --log-level warn
R[server.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$SERVER_CMD")"

TAIL=("$SLUICE" tail --port "$PORT" "${AUTH[@]}" --latency --json --verbose)
record "${TAIL[@]}"
log "consumer: ${TAIL[*]}"
"${TAIL[@]}" >"$WORK/tail.json" 2>"$WORK/tail.err" &
TAIL_PID=$!
for _ in $(seq 1 600); do
  grep -q 'Ctrl-C to stop' "$WORK/tail.err" 2>/dev/null && break
  kill -0 "$TAIL_PID" 2>/dev/null || { cat "$WORK/tail.err" >&2; die "sluice tail exited"; }
  sleep 0.1
done
grep -q 'Ctrl-C to stop' "$WORK/tail.err" || die "sluice tail did not open its streams"

LOAD=("$SLUICE" load --port "$PORT" "${AUTH[@]}" --set-ratio 1 --rate "$RATE" --duration "$DURATION"
  --timestamp-values --keys "$KEYS" --value-size "$VALUE_SIZE" --connections "$CONNECTIONS"
  --pipeline "$PIPELINE" --json)
record "${LOAD[@]}"
log "writer: ${LOAD[*]}"
server_before="$(cpu_ticks "$SERVER_PID")"
tail_before="$(cpu_ticks "$TAIL_PID")"
all_before="$(machine_busy_ticks)"
TIMEFORMAT="%U %S"
{ time "${LOAD[@]}" >"$WORK/load.json" 2>"$WORK/load.err"; } 2>"$WORK/load.time" ||
  { cat "$WORK/load.err" >&2; die "sluice load failed"; }
server_after="$(cpu_ticks "$SERVER_PID")"
tail_after="$(cpu_ticks "$TAIL_PID")"
all_after="$(machine_busy_ticks)"
sleep 1
kill -INT "$TAIL_PID"
wait "$TAIL_PID" || die "sluice tail failed: $(cat "$WORK/tail.err")"
TAIL_PID=""

load="$(cat "$WORK/load.json")"
tail_out="$(cat "$WORK/tail.json")"
for f in ops seconds ops_per_sec p50_us p99_us errors; do R[load.$f]="$(json_field "$load" "$f")"; done
for f in changes timed untimed p50_us p90_us p99_us p999_us max_us mean_us; do
  R[tail.$f]="$(json_field "$tail_out" "$f")"
done
[[ "${R[load.errors]}" = 0 ]] || log "warning: ${R[load.errors]} writes failed"
S="${R[load.seconds]}"
cores() { awk -v t="$1" -v hz="$CLK_TCK" -v s="$S" 'BEGIN {printf "%.2f", t / hz / s}'; }
R[cpu.server]="$(cores $((server_after - server_before)))"
R[cpu.tail]="$(cores $((tail_after - tail_before)))"
R[cpu.load]="$(awk -v s="$S" '{printf "%.2f", ($1 + $2) / s}' "$WORK/load.time")"
R[cpu.other]="$(awk -v all=$((all_after - all_before)) -v hz="$CLK_TCK" -v s="$S" -v a="${R[cpu.server]}" \
  -v b="${R[cpu.tail]}" -v c="${R[cpu.load]}" 'BEGIN {o = all / hz / s - a - b - c; printf "%.2f", (o < 0 ? 0 : o)}')"
log "  -> ${R[load.ops_per_sec]} writes/s; tail got ${R[tail.changes]} changes: p50 ${R[tail.p50_us]} us, p99 ${R[tail.p99_us]} us, p99.9 ${R[tail.p999_us]} us"

P99_MS="$(awk -v v="${R[tail.p99_us]}" 'BEGIN {printf "%.3f", v / 1000}')"
VERDICT="$(awk -v v="${R[tail.p99_us]}" 'BEGIN { if (v < 1000) printf "met"; else printf "**missed** by %.0f%% (%.3f ms)", (v - 1000) / 10, v / 1000 }')"
RATE_VERDICT="$(awk -v a="${R[load.ops_per_sec]}" -v r="$RATE" 'BEGIN { if (a >= 0.98 * r) printf "held"; else printf "**not held** (%.0f%% of the rate)", 100 * a / r }')"
QUICK_NOTE=""
[[ "$DURATION" = 10 && "$RATE" = 20000 ]] || QUICK_NOTE=" — reduced run (${DURATION} s at ${RATE}/s instead of 10 s at 20000/s)"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Live stream latency: write -> \`sluice tail\` receipt at ${RATE} writes/s${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); writer, server and consumer share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Server: \`${R[server.cmd]}\`; consumer: one DCP connection, all 1024 vbuckets from latest, 1 MiB flow-control window, noops on"
  echo "- Writer: SET only, $KEYS random keys, ${VALUE_SIZE}-byte values stamped with the send time, $CONNECTIONS connections x pipeline $PIPELINE, paced to $RATE/s for $DURATION s: achieved $(fmt0 "${R[load.ops_per_sec]}") writes/s (${R[load.ops]} writes, ${R[load.errors]} errors; rate $RATE_VERDICT); write round trip p50 $(fmt1 "${R[load.p50_us]}") µs, p99 $(fmt1 "${R[load.p99_us]}") µs"
  echo "- Consumer: ${R[tail.changes]} changes received (${R[tail.timed]} timed, ${R[tail.untimed]} without a timestamp; fewer than the writes = keys rewritten before the stream read them, deduplicated)"
  echo "- CPU during the writes (cores): server ${R[cpu.server]}, writer ${R[cpu.load]}, consumer ${R[cpu.tail]}, everything else ${R[cpu.other]}"
  echo
  echo "| write -> receipt | p50 | p90 | p99 | p99.9 | max | mean |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| µs | $(fmt1 "${R[tail.p50_us]}") | $(fmt1 "${R[tail.p90_us]}") | $(fmt1 "${R[tail.p99_us]}") | $(fmt1 "${R[tail.p999_us]}") | $(fmt1 "${R[tail.max_us]}") | $(fmt1 "${R[tail.mean_us]}") |"
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| p99 write -> receipt | ${P99_MS} ms | < 1 ms | $VERDICT |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  echo "${R[server.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
