#!/usr/bin/env bash
# Many consumers: CONSUMERS `sluice drain` processes, each streaming every vbucket from seqno 0 at
# the same time, after a restart (all backfills come from disk). Aggregate items/s, and the
# server's peak RSS, which must stay below baseline + CONSUMERS x backfill buffer + 64 MiB whatever
# the data size: each DCP connection holds at most dcp_backfill_byte_limit bytes read from disk
# and not yet sent, so the memory a drain costs is bounded by the buffers, not by the data.
# (Benchmark 4 of issue 5.)
#
#   For each data size in ITEMS (several sizes show that the bound holds "regardless of size"):
#   1. a fresh sluiced (1024 vbuckets) is loaded with that many distinct keys, persisted, stopped;
#   2. it restarts on the same data dir; its RSS then is the baseline;
#   3. CONSUMERS `sluice drain --json` run at once (one connection each, 10 MiB flow-control
#      window); VmHWM (reset just before, backed by 50 ms VmRSS samples) is the peak;
#      aggregate items/s = all items delivered / wall time from the first start to the last end.
#
# Target: peak RSS < baseline + CONSUMERS x dcp_backfill_byte_limit + 64 MiB (the drains' items/s
# are reported; every consumer must receive every item).
#
# Usage: bench/many_consumers.sh [BUILD_DIR]          (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   ITEMS ["1000000 4000000"] (one run per size)  VALUE_SIZE [100]  VBUCKETS [1024]
#   CONSUMERS [8]  DRAIN_BUFFER [10485760]  BACKFILL_BUFFER [20971520] (dcp_backfill_byte_limit)
#   MAX_SIZE [4294967296]  LOAD_CONNECTIONS [4]  LOAD_PIPELINE [32]
#   QUICK=1   ITEMS=200000 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=many_consumers
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

[[ "${QUICK:-0}" = 1 ]] && ITEMS="${ITEMS:-200000}"
ITEMS="${ITEMS:-1000000 4000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
CONSUMERS="${CONSUMERS:-8}"
DRAIN_BUFFER="${DRAIN_BUFFER:-10485760}"
BACKFILL_BUFFER="${BACKFILL_BUFFER:-20971520}"
MAX_SIZE="${MAX_SIZE:-4294967296}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
DRAIN_PIDS=()
cleanup() {
  [[ -z "$RSS_SAMPLER_PID" ]] || kill "$RSS_SAMPLER_PID" 2>/dev/null || true
  for pid in "${DRAIN_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
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
SERVER_ARGS=(--vbuckets "$VBUCKETS" --set "max_size=$MAX_SIZE"
  --set "dcp_backfill_byte_limit=$BACKFILL_BUFFER" --log-level warn)
ROWS=()
ALL_MET=1

for items in $ITEMS; do
  DATA="$WORK/data-$items"
  start_sluiced "$DATA" "${SERVER_ARGS[@]}"
  R[server.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$SERVER_CMD")"
  load_items "$items" "$VALUE_SIZE"
  stop_sluiced load
  start_sluiced "$DATA" "${SERVER_ARGS[@]}"
  R[baseline]="$(vm_kib "$SERVER_PID" VmRSS)"
  log "restarted; baseline RSS $(mib "${R[baseline]}") MiB"

  DRAIN=("$SLUICE" drain --port "$PORT" "${AUTH[@]}" --json --progress never
    --buffer "$DRAIN_BUFFER")
  record "${CONSUMERS}x (at once): ${DRAIN[*]}"
  server_before="$(cpu_ticks "$SERVER_PID")"
  all_before="$(machine_busy_ticks)"
  rss_watch_start
  start="$(now)"
  DRAIN_PIDS=()
  for i in $(seq 1 "$CONSUMERS"); do
    "${DRAIN[@]}" >"$WORK/drain.$i.json" 2>"$WORK/drain.$i.err" &
    DRAIN_PIDS+=($!)
  done
  failed=0
  for pid in "${DRAIN_PIDS[@]}"; do wait "$pid" || failed=1; done
  DRAIN_PIDS=()
  wall="$(since "$start")"
  rss_watch_stop
  server_after="$(cpu_ticks "$SERVER_PID")"
  all_after="$(machine_busy_ticks)"
  [[ "$failed" = 0 ]] || { cat "$WORK"/drain.*.err >&2; die "a sluice drain failed"; }

  total=0
  short=0
  slowest=0
  for i in $(seq 1 "$CONSUMERS"); do
    got="$(json_field "$(cat "$WORK/drain.$i.json")" items)"
    secs="$(json_field "$(cat "$WORK/drain.$i.json")" seconds)"
    total=$((total + got))
    [[ "$got" = "$items" ]] || short=$((short + 1))
    slowest="$(awk -v a="$slowest" -v b="$secs" 'BEGIN {print (b > a ? b : a)}')"
  done
  [[ "$short" = 0 ]] || log "warning: $short consumers received fewer than $items items"
  agg="$(awk -v n="$total" -v s="$wall" 'BEGIN {printf "%.0f", n / s}')"
  server_cpu="$(cores_between $((server_after - server_before)) "$wall")"
  other_cpu="$(awk -v all=$((all_after - all_before)) -v hz="$CLK_TCK" -v s="$wall" -v a="$server_cpu" \
    'BEGIN {printf "%.2f", all / hz / s - a}')"
  base="${R[baseline]}"
  peak="${R[rss.peak]}"
  limit=$((base + CONSUMERS * BACKFILL_BUFFER / 1024 + 65536))
  growth=$((peak - base))
  if ((peak < limit)); then
    v="met ($(awk -v g="$growth" -v b=$((limit - base)) 'BEGIN {printf "%.0f%%", 100 * g / b}') of the allowance)"
  else
    v="**missed** by $(mib $((peak - limit))) MiB"
    ALL_MET=0
  fi
  log "  -> $items items x $CONSUMERS: $agg items/s aggregate; RSS $(mib "${R[baseline]}") -> peak $(mib "${R[rss.peak]}") MiB (limit $(mib "$limit")): $v"
  ROWS+=("| $items | $CONSUMERS | $total | $(fmt2 "$wall") | $agg | $(awk -v a="$agg" -v c="$CONSUMERS" 'BEGIN {printf "%.0f", a / c}') | $server_cpu | $other_cpu | $(mib "${R[baseline]}") | $(mib "${R[rss.peak]}") (+$(mib "$growth")) | $(mib "$limit") | $v |")
  R[rss.how.last]="${R[rss.how]}"
  stop_sluiced drain
  rm -rf "$DATA"
done

QUICK_NOTE=""
[[ "${QUICK:-0}" != 1 ]] || QUICK_NOTE=" — reduced run (QUICK=1)"
REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Many consumers: $CONSUMERS concurrent drains of every vbucket after a restart${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); the $CONSUMERS clients and the server share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Server: \`${R[server.cmd]}\` (1 auxio thread runs every backfill); ${VALUE_SIZE}-byte values, distinct keys, loaded with \`sluice load --populate\`, persisted, restarted: every stream backfills from disk"
  echo "- Each consumer: one connection, all $VBUCKETS vbuckets from 0 to the high seqno, flow-control window $DRAIN_BUFFER bytes"
  echo "- Peak RSS: ${R[rss.how.last]}; allowance = baseline (RSS after the restart) + $CONSUMERS x $BACKFILL_BUFFER (dcp_backfill_byte_limit) + 64 MiB"
  echo "- CPU columns: cores used on average over the drains by the server, and by everything else (the $CONSUMERS clients plus other users' work)"
  echo
  echo "| items | consumers | items delivered | seconds | aggregate items/s | per consumer | server CPU | other CPU | baseline MiB | peak RSS MiB | limit MiB | verdict |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| figure | target | verdict |"
  echo "|---|---|---|"
  echo "| peak RSS, every size | < baseline + $CONSUMERS x backfill buffer + 64 MiB | $([[ "$ALL_MET" = 1 ]] && echo met || echo '**missed**') |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  echo "${R[server.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
