#!/usr/bin/env bash
# Replication: how far a replica trails its active under a steady SET load, and how fast a new,
# empty replica catches up, each measured side by side in one run on this machine. (Issue 13's
# benchmarks "replication lag" and "catch-up rate".)
#
# Both parts run a static two-node cluster (--node-id, --cluster-map): node a is active for every
# vbucket and node b its replica (a cluster file with an explicit vbucket_map), so one `sluice
# load` writes to a alone and b receives every write over the replicator's DCP connection.
#
# 1. Lag. a and b start empty. `sluice tail --latency` follows every vbucket of a (the active)
#    and a second one every vbucket of b (the replica: kv_engine lets replicas be streamed from).
#    `sluice load --rate RATE --timestamp-values` writes to a for DURATION s; each tail records
#    write -> receipt per change. The tail on a is the floor (the same path without replication);
#    the tail on b includes a's producer -> b's passive stream -> b's checkpoint -> b's producer,
#    so it is an upper bound of the lag (ms). Meanwhile a sampler reads `vbucket-seqnos` of both
#    nodes every SAMPLE_MS and records (sum of a's high seqnos - sum of b's): the lag in items
#    (b is read first, so a sample never under-counts; it over-counts by at most the writes of
#    the read's duration, reported).
# 2. Catch-up. A fresh a alone gets ITEMS distinct keys (`sluice load --populate`), persisted.
#    `sluice drain` of every vbucket of a gives the drain rate (the same DCP path a replica's
#    initial stream takes, without applying anything). Then b starts with an empty data dir; the
#    script polls b's high seqnos until they equal a's: items / seconds from b's start is the
#    catch-up rate (b also persists what it receives: reported, not waited for).
#
# Targets (issue 13): replica lag p99 under 5 ms at 50k writes/s; catch-up at least 0.8x the drain.
#
# Usage: bench/replication.sh [BUILD_DIR]            (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   RATE [50000] writes/s   DURATION [10] s   KEYS [1000000]   VALUE_SIZE [100]
#   CONNECTIONS [2] x PIPELINE [8]   SAMPLE_MS [100]   VBUCKETS [1024]   ITEMS [1000000]
#   QUICK=1   DURATION=3 ITEMS=200000 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=replication
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

if [[ "${QUICK:-0}" = 1 ]]; then
  DURATION="${DURATION:-3}"
  ITEMS="${ITEMS:-200000}"
fi
RATE="${RATE:-50000}"
DURATION="${DURATION:-10}"
KEYS="${KEYS:-1000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
CONNECTIONS="${CONNECTIONS:-2}"
PIPELINE="${PIPELINE:-8}"
SAMPLE_MS="${SAMPLE_MS:-100}"
VBUCKETS="${VBUCKETS:-1024}"
ITEMS="${ITEMS:-1000000}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
declare -A R
COMMANDS=()
BG_PIDS=()
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}" "${NODE_PID[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

# start_tail ID: `sluice tail --latency` on node ID, output in $WORK/tail.ID.*; waits for its streams.
start_tail() {
  # Every vbucket named: by default tail follows active vbuckets only, and b has none.
  local tail=("$SLUICE" tail --port "${NODE_PORT[$1]}" "${AUTH[@]}" --latency --json --verbose
    --vbuckets "0-$((VBUCKETS - 1))")
  record "${tail[@]}"
  "${tail[@]}" >"$WORK/tail.$1.json" 2>"$WORK/tail.$1.err" &
  TAIL_PID[$1]=$!
  BG_PIDS+=("${TAIL_PID[$1]}")
  for _ in $(seq 1 600); do
    grep -q 'Ctrl-C to stop' "$WORK/tail.$1.err" 2>/dev/null && return 0
    kill -0 "${TAIL_PID[$1]}" 2>/dev/null || { cat "$WORK/tail.$1.err" >&2; die "sluice tail on $1 exited"; }
    sleep 0.1
  done
  die "sluice tail on $1 did not open its streams"
}
declare -A TAIL_PID

percentile() {  # percentile P FILE (one number per line)
  sort -n "$2" | awk -v p="$1" '{v[NR] = $1} END {if (NR == 0) {print 0; exit} i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i]}'
}

# ---- 1. lag ----
cluster_file "$WORK/cluster.json"
start_node b "$WORK/lag-b"
start_node a "$WORK/lag-a"
R[lag.node_cmd]="${R[node.cmd]}"
start_tail a
start_tail b

LOAD=("$SLUICE" load --port "${NODE_PORT[a]}" "${AUTH[@]}" --set-ratio 1 --rate "$RATE" --duration "$DURATION"
  --timestamp-values --keys "$KEYS" --value-size "$VALUE_SIZE" --connections "$CONNECTIONS"
  --pipeline "$PIPELINE" --json)
record "${LOAD[@]}"
log "lag: writer ${LOAD[*]}"
(
  while true; do
    start="$(now)"
    b_sum="$(seqno_sum b)"
    a_sum="$(seqno_sum a)"
    echo "$((a_sum - b_sum)) $(since "$start")"
    sleep "$(awk -v ms="$SAMPLE_MS" 'BEGIN {printf "%.3f", ms / 1000}')"
  done
) >"$WORK/lag.samples" 2>/dev/null &
SAMPLER=$!
BG_PIDS+=("$SAMPLER")
a_before="$(cpu_ticks "${NODE_PID[a]}")"
b_before="$(cpu_ticks "${NODE_PID[b]}")"
all_before="$(machine_busy_ticks)"
"${LOAD[@]}" >"$WORK/load.json" 2>"$WORK/load.err" || { cat "$WORK/load.err" >&2; die "sluice load failed"; }
a_after="$(cpu_ticks "${NODE_PID[a]}")"
b_after="$(cpu_ticks "${NODE_PID[b]}")"
all_after="$(machine_busy_ticks)"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
# Converged: b holds every write a took.
for _ in $(seq 1 600); do
  [[ "$(seqno_sum a)" = "$(seqno_sum b)" ]] && break
  sleep 0.1
done
R[lag.converged]="$([[ "$(seqno_sum a)" = "$(seqno_sum b)" ]] && echo yes || echo "**no**")"
sleep 1
for id in a b; do
  kill -INT "${TAIL_PID[$id]}"
  wait "${TAIL_PID[$id]}" || die "sluice tail on $id failed: $(cat "$WORK/tail.$id.err")"
done
load="$(cat "$WORK/load.json")"
for f in ops seconds ops_per_sec p50_us p99_us errors; do R[load.$f]="$(json_field "$load" "$f")"; done
for id in a b; do
  out="$(cat "$WORK/tail.$id.json")"
  for f in changes p50_us p90_us p99_us p999_us max_us mean_us; do R[tail.$id.$f]="$(json_field "$out" "$f")"; done
done
awk '{print $1}' "$WORK/lag.samples" >"$WORK/lag.items"
awk '{print $2 * 1000}' "$WORK/lag.samples" >"$WORK/lag.read_ms"
R[lag.samples]="$(wc -l <"$WORK/lag.items")"
R[lag.items.p50]="$(percentile 50 "$WORK/lag.items")"
R[lag.items.p99]="$(percentile 99 "$WORK/lag.items")"
R[lag.items.max]="$(percentile 100 "$WORK/lag.items")"
R[lag.read_ms.p50]="$(fmt1 "$(percentile 50 "$WORK/lag.read_ms")")"
S="${R[load.seconds]}"
R[cpu.a]="$(cores_between $((a_after - a_before)) "$S")"
R[cpu.b]="$(cores_between $((b_after - b_before)) "$S")"
R[cpu.all]="$(cores_between $((all_after - all_before)) "$S")"
log "  -> ${R[load.ops_per_sec]} writes/s; tail on a p99 ${R[tail.a.p99_us]} us, on b p99 ${R[tail.b.p99_us]} us; items behind p50 ${R[lag.items.p50]} p99 ${R[lag.items.p99]}"
stop_node a
stop_node b

# ---- 2. catch-up ----
cluster_file "$WORK/cluster.json"
start_node a "$WORK/catchup-a"
PORT="${NODE_PORT[a]}"
SERVER_PID="${NODE_PID[a]}"
load_items "$ITEMS" "$VALUE_SIZE"
SERVER_PID=""
DRAIN=("$SLUICE" drain --port "${NODE_PORT[a]}" "${AUTH[@]}" --json --progress never --buffer 10485760)
record "${DRAIN[@]}"
log "catch-up: drain of a: ${DRAIN[*]}"
drain="$("${DRAIN[@]}")" || die "sluice drain failed"
R[drain.items]="$(json_field "$drain" items)"
R[drain.seconds]="$(json_field "$drain" seconds)"
R[drain.rate]="$(awk -v i="${R[drain.items]}" -v s="${R[drain.seconds]}" 'BEGIN {printf "%.0f", (s > 0 ? i / s : 0)}')"
a_sum="$(seqno_sum a)"
start="$(now)"
start_node b "$WORK/catchup-b"
R[catchup.start]="$(since "$start")"
until [[ "$(seqno_sum b)" = "$a_sum" ]]; do
  awk -v s="$start" -v n="$(now)" 'BEGIN {exit !(n - s < 600)}' || die "b did not catch up within 600 s"
  sleep 0.02
done
R[catchup.seconds]="$(since "$start")"
R[catchup.rate]="$(awk -v i="$ITEMS" -v s="${R[catchup.seconds]}" 'BEGIN {printf "%.0f", (s > 0 ? i / s : 0)}')"
PORT="${NODE_PORT[b]}"
R[catchup.persist]="$(wait_persisted)"
stop_node b
stop_node a
R[catchup.ratio]="$(ratio "${R[catchup.rate]}" "${R[drain.rate]}")"
log "  -> drain ${R[drain.rate]} items/s; catch-up ${R[catchup.rate]} items/s (${R[catchup.ratio]}x)"

LAG_P99_MS="$(awk -v v="${R[tail.b.p99_us]}" 'BEGIN {printf "%.3f", v / 1000}')"
LAG_VERDICT="$(awk -v v="${R[tail.b.p99_us]}" 'BEGIN { if (v < 5000) printf "met"; else printf "**missed** (%.3f ms)", v / 1000 }')"
RATE_VERDICT="$(awk -v a="${R[load.ops_per_sec]}" -v r="$RATE" 'BEGIN { if (a >= 0.98 * r) printf "held"; else printf "**not held** (%.0f%% of the rate)", 100 * a / r }')"
QUICK_NOTE=""
[[ "$DURATION" = 10 && "$RATE" = 50000 && "$ITEMS" = 1000000 ]] ||
  QUICK_NOTE=" — reduced run (${DURATION} s at ${RATE}/s, ${ITEMS} items)"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Replication: lag at ${RATE} writes/s, catch-up of an empty replica against the drain${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); both nodes, the writer and the consumers share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Cluster: two sluiced on loopback, \`${R[lag.node_cmd]}\` (a and b); a cluster file with $VBUCKETS vbuckets, a active and b replica for each"
  echo "- Writer on a: SET only, $KEYS random keys, ${VALUE_SIZE}-byte values stamped with the send time, $CONNECTIONS connections x pipeline $PIPELINE, paced to $RATE/s for $DURATION s: achieved $(fmt0 "${R[load.ops_per_sec]}") writes/s (${R[load.errors]} errors; rate $RATE_VERDICT); write round trip p50 $(fmt1 "${R[load.p50_us]}") µs, p99 $(fmt1 "${R[load.p99_us]}") µs"
  echo "- CPU during the writes (cores): a ${R[cpu.a]}, b ${R[cpu.b]}, whole machine ${R[cpu.all]} (writer, two tails, sampler included)"
  echo "- b converged with a after the load: ${R[lag.converged]}"
  echo
  echo "| write -> receipt by \`sluice tail\` | changes | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for id in a b; do
    label="on a (the active: the floor)"
    [[ "$id" = b ]] && label="on b (the replica: through replication, an upper bound of the lag)"
    echo "| $label | ${R[tail.$id.changes]} | $(fmt1 "${R[tail.$id.p50_us]}") | $(fmt1 "${R[tail.$id.p90_us]}") | $(fmt1 "${R[tail.$id.p99_us]}") | $(fmt1 "${R[tail.$id.p999_us]}") | $(fmt1 "${R[tail.$id.max_us]}") |"
  done
  echo
  echo "Items behind (a's high seqnos - b's, ${R[lag.samples]} samples every ${SAMPLE_MS} ms; one sample reads both nodes in ${R[lag.read_ms.p50]} ms at the median, so it over-counts by up to that many ms of writes): p50 ${R[lag.items.p50]}, p99 ${R[lag.items.p99]}, max ${R[lag.items.max]}."
  echo
  echo "| catch-up, $ITEMS x ${VALUE_SIZE}-byte items | seconds | items/s |"
  echo "|---|---:|---:|"
  echo "| \`sluice drain\` of every vbucket of a | ${R[drain.seconds]} | ${R[drain.rate]} |"
  echo "| empty b started -> b's high seqnos equal a's (b started in ${R[catchup.start]} s, included) | ${R[catchup.seconds]} | ${R[catchup.rate]} |"
  echo
  echo "b had persisted everything ${R[catchup.persist]} s after it caught up."
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| p99 write -> receipt through the replica at ${RATE}/s | ${LAG_P99_MS} ms | < 5 ms | $LAG_VERDICT |"
  echo "| catch-up / drain items/s | ${R[catchup.ratio]}x | 0.8x | $(verdict "${R[catchup.ratio]}" 0.8) |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run; the cluster file names a and b):"
  echo
  echo '```'
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
