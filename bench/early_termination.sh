#!/usr/bin/env bash
# Early termination: DCP consumers that disconnect in the middle of their backfills. How long
# until the server's `ep_dcp_num_running_backfills` is back to 0 (p50/p99 over CONSUMERS x ROUNDS
# disconnects), and whether the server's memory grows round after round. (Benchmark 5 of issue 5.)
#
#   1. A fresh sluiced (1024 vbuckets) is loaded with ITEMS distinct keys, persisted, and
#      restarted on the same data dir, so every stream from seqno 0 backfills from disk.
#   2. bench/sluice_early_termination (early_termination.cc) runs ROUNDS rounds; each round
#      - CONSUMERS consumers one after another: DCP_OPEN, STREAMS stream requests from 0, a 64 KiB
#        flow-control window never acknowledged; once the first message has arrived (the
#        backfills run) the socket is closed with unread data (RST), and a persistent stats
#        connection polls `stats dcp` as fast as it answers until the stat is 0: one sample each;
#      - the same CONSUMERS consumers all connected at once, then all closed: one "batch" time;
#      then it waits until no DCP producer is left and reads the server's VmRSS.
#
# Targets: p99 disconnect -> no running backfills < 10 ms; no memory growth (RSS after the last
# round within 16 MiB of RSS after the first: allocator caches settle in the first round).
#
# Usage: bench/early_termination.sh [BUILD_DIR]       (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   ITEMS [2000000]  VALUE_SIZE [100]  VBUCKETS [1024]  CONSUMERS [100]  ROUNDS [5]
#   STREAMS [32] (vbuckets per consumer; CONSUMERS x STREAMS <= ep_dcp_max_running_backfills)  WINDOW [65536]  MAX_SIZE [4294967296]
#   QUICK=1   ITEMS=300000 ROUNDS=2 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=early_termination
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"
PROGRAM="$BUILD_DIR/bench/sluice_early_termination"

if [[ "${QUICK:-0}" = 1 ]]; then
  ITEMS="${ITEMS:-300000}"
  ROUNDS="${ROUNDS:-2}"
fi
ITEMS="${ITEMS:-2000000}"
ROUNDS="${ROUNDS:-5}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
CONSUMERS="${CONSUMERS:-100}"
STREAMS="${STREAMS:-32}"
WINDOW="${WINDOW:-65536}"
MAX_SIZE="${MAX_SIZE:-4294967296}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
cleanup() {
  kill_sluiced
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced" "$PROGRAM"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

declare -A R
COMMANDS=()
DATA="$WORK/data"
SERVER_ARGS=(--vbuckets "$VBUCKETS" --set "max_size=$MAX_SIZE" --log-level warn)

start_sluiced "$DATA" "${SERVER_ARGS[@]}"
R[server.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$SERVER_CMD")"
load_items "$ITEMS" "$VALUE_SIZE"
stop_sluiced load
start_sluiced "$DATA" "${SERVER_ARGS[@]}"
R[max_running]="$(json_field "$("$SLUICE" stats dcp --port "$PORT" "${AUTH[@]}" --json)" ep_dcp_max_running_backfills)"

RUN=("$PROGRAM" --port "$PORT" "${AUTH[@]}" --consumers "$CONSUMERS" --rounds "$ROUNDS"
  --streams "$STREAMS" --window "$WINDOW" --server-pid "$SERVER_PID" --json)
record "${RUN[@]}"
log "running: ${RUN[*]}"
server_before="$(cpu_ticks "$SERVER_PID")"
all_before="$(machine_busy_ticks)"
start="$(now)"
out="$("${RUN[@]}" 2>"$WORK/run.err")" || { cat "$WORK/run.err" >&2; die "sluice_early_termination failed"; }
wall="$(since "$start")"
server_cpu="$(cores_between $(($(cpu_ticks "$SERVER_PID") - server_before)) "$wall")"
all_cpu="$(cores_between $(($(machine_busy_ticks) - all_before)) "$wall")"
cat "$WORK/run.err" >&2
stop_sluiced run

for f in samples finished_early p50_us p90_us p99_us max_us mean_us poll_us running_at_disconnect; do
  R[$f]="$(json_field "$out" "$f")"
done
BATCH="$(sed -n 's/.*"batch_us":\[\([^]]*\)\].*/\1/p' <<<"$out" | tr ',' ' ')"
BATCH_RUNNING="$(sed -n 's/.*"batch_running":\[\([^]]*\)\].*/\1/p' <<<"$out" | sed 's#,# / #g')"
RSS="$(sed -n 's/.*"rss_kib":\[\([^]]*\)\].*/\1/p' <<<"$out" | tr ',' ' ')"
MEM_USED="$(sed -n 's/.*"mem_used":\[\([^]]*\)\].*/\1/p' <<<"$out" | tr ',' ' ')"
MEM_USED_MIB="$(for b in $MEM_USED; do awk -v v="$b" 'BEGIN {printf "%.0f ", v / 1048576}'; done)"
BATCH_MAX="$(for b in $BATCH; do echo "$b"; done | sort -n | tail -1)"
BATCH_VERDICT="$(awk -v v="${BATCH_MAX:-0}" 'BEGIN { if (v < 10000) printf "met"; else if (v < 20000) printf "**missed** by %.0f%%", (v - 10000) / 100; else printf "**missed**: %.1fx the target", v / 10000 }')"
read -r -a RSS_A <<<"$RSS"
RSS_FIRST="${RSS_A[1]:-0}"
RSS_LAST="${RSS_A[${#RSS_A[@]}-1]}"
RSS_GROWTH=$((RSS_LAST - RSS_FIRST))
RSS_OVER_BASE=$((RSS_LAST - ${RSS_A[0]:-0}))

P99_MS="$(awk -v v="${R[p99_us]}" 'BEGIN {printf "%.3f", v / 1000}')"
VERDICT="$(awk -v v="${R[p99_us]}" 'BEGIN { if (v < 10000) printf "met"; else printf "**missed** by %.0f%% (%.1f ms)", (v - 10000) / 100, v / 1000 }')"
MEM_VERDICT="$( ((RSS_GROWTH < 16384)) && echo met || echo "**missed**: +$(mib "$RSS_GROWTH") MiB")"
BATCH_MS="$(for b in $BATCH; do awk -v v="$b" 'BEGIN {printf "%.1f ", v / 1000}'; done)"
RSS_MIB="$(for k in $RSS; do printf '%s ' "$(mib "$k")"; done)"
QUICK_NOTE=""
[[ "${QUICK:-0}" != 1 ]] || QUICK_NOTE=" — reduced run (QUICK=1)"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Early termination: $CONSUMERS consumers disconnecting mid-backfill${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); load average at start $LOADAVG; CPU over the run: server $server_cpu cores, whole machine $all_cpu (the bench program polls without pause: ~1 core)"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Server: \`${R[server.cmd]}\`; $ITEMS x ${VALUE_SIZE}-byte items loaded, persisted, restarted (every backfill reads disk); ep_dcp_max_running_backfills ${R[max_running]}"
  echo "- Consumers: $STREAMS streams from seqno 0 each (consecutive vbuckets, consumers spread over the $VBUCKETS), $WINDOW-byte flow-control window never acknowledged; each closes its socket (RST) once its first DCP message has arrived; $ROUNDS rounds of $CONSUMERS one-at-a-time disconnects plus one batch of $CONSUMERS"
  echo "- Running backfills at the disconnect: ${R[running_at_disconnect]} on average (${R[finished_early]} of $((CONSUMERS * ROUNDS)) consumers had none left: no sample); stat polled every $(fmt1 "${R[poll_us]}") µs on average (the resolution)"
  echo
  echo "| disconnect -> ep_dcp_num_running_backfills = 0 | samples | p50 | p90 | p99 | max | mean |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| one consumer at a time (µs) | ${R[samples]} | $(fmt1 "${R[p50_us]}") | $(fmt1 "${R[p90_us]}") | $(fmt1 "${R[p99_us]}") | $(fmt1 "${R[max_us]}") | $(fmt1 "${R[mean_us]}") |"
  echo
  echo "Batch (all $CONSUMERS closed together, first close -> 0), per round: ${BATCH_MS}ms (backfills running at the close: $BATCH_RUNNING; polled with \`stats dcp {\"stream_format\":\"skip\",\"filter\":{\"port\":0}}\`, which lists no connection, only the bucket-wide figures). Server RSS (MiB) before the first round, then 2.5 s after each round's last producer went (the server trims its heap once a second passed without a disconnect): ${RSS_MIB}; the engine's mem_used (MiB) at the same points: ${MEM_USED_MIB}."
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| p99 disconnect -> no running backfills | ${P99_MS} ms | < 10 ms | $VERDICT |"
  echo "| all $CONSUMERS at once: first close -> no running backfills (slowest round) | $(awk -v v="${BATCH_MAX:-0}" 'BEGIN {printf "%.1f", v / 1000}') ms | < 10 ms | $BATCH_VERDICT |"
  echo "| RSS after the last round - after the first | $(mib "$RSS_GROWTH") MiB | < 16 MiB | $MEM_VERDICT |"
  echo "| RSS after the last round - before the first | $(mib "$RSS_OVER_BASE") MiB | (memory given back) | |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports and pid as in this run):"
  echo
  echo '```'
  echo "${R[server.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
