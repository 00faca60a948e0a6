#!/usr/bin/env bash
# Scaling: a full drain after a restart (a pure disk backfill, one consumer) at several data sizes;
# the cost per item must stay flat as the data grows: items/s, server CPU per item and the RSS the
# drain adds must not degrade with size. (Benchmark 6 of issue 5.)
#
#   For each size in SIZES: a fresh sluiced (1024 vbuckets) is loaded with that many distinct keys
#   (`sluice load --populate`), persisted, restarted on the same data dir (warmup timed), and
#   drained with one `sluice drain --json` (10 MiB flow-control window). Recorded: load and
#   persist time, items/s, MB/s, server CPU µs per item, RSS before the drain and its peak during
#   it (VmHWM reset first). The data dir is removed before the next size.
#   With gnuplot (bench/install-bench-deps.sh installs gnuplot-nox), PLOT (bench/scaling.png) shows
#   items/s and the drain's RSS growth against the size.
#
# Target: flat cost per item: wall µs per item and server CPU µs per item at the largest size
# within 1.25x of the smallest.
#
# The issue's sizes are the default since 2026-11-26: the flusher no longer looks up a new key's
# previous version (which made persisting 20M items crawl at ~10k items/s), and `sluice load`
# retries the TMPFAILs the server answers while its flusher catches up. 20M items need ~7.5 GB of
# RSS, within the 8 GiB MAX_SIZE.
#
# Usage: bench/scaling.sh [BUILD_DIR]                 (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   SIZES ["1000000 5000000 20000000"]  PERSIST_TIMEOUT [900] (s, per size)  VALUE_SIZE [100]  VBUCKETS [1024]
#   DRAIN_BUFFER [10485760]  MAX_SIZE [8589934592]  LOAD_CONNECTIONS [4]  LOAD_PIPELINE [32]
#   PLOT [bench/scaling.png]  QUICK=1   SIZES="100000 200000 400000" (a smoke run)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=scaling
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

[[ "${QUICK:-0}" = 1 ]] && SIZES="${SIZES:-100000 200000 400000}"
SIZES="${SIZES:-1000000 5000000 20000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
DRAIN_BUFFER="${DRAIN_BUFFER:-10485760}"
MAX_SIZE="${MAX_SIZE:-8589934592}"
PLOT="${PLOT:-$ROOT/bench/scaling.png}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
cleanup() {
  [[ -z "$RSS_SAMPLER_PID" ]] || kill "$RSS_SAMPLER_PID" 2>/dev/null || true
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
SERVER_ARGS=(--vbuckets "$VBUCKETS" --set "max_size=$MAX_SIZE" --log-level warn)
ROWS=()
: >"$WORK/plot.dat"
FIRST_US=""
FIRST_CPU_US=""

for items in $SIZES; do
  DATA="$WORK/data-$items"
  start_sluiced "$DATA" "${SERVER_ARGS[@]}"
  R[server.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$SERVER_CMD")"
  load_items "$items" "$VALUE_SIZE"
  stop_sluiced load
  disk="$(du -sm "$DATA" | cut -f1)"
  start="$(now)"
  start_sluiced "$DATA" "${SERVER_ARGS[@]}"
  warmup="$(since "$start")"
  before="$(vm_kib "$SERVER_PID" VmRSS)"

  DRAIN=("$SLUICE" drain --port "$PORT" "${AUTH[@]}" --json --progress never --buffer "$DRAIN_BUFFER")
  record "${DRAIN[@]}"
  log "drain of $items items: ${DRAIN[*]}"
  server_before="$(cpu_ticks "$SERVER_PID")"
  all_before="$(machine_busy_ticks)"
  rss_watch_start
  out="$("${DRAIN[@]}")" || die "sluice drain failed"
  rss_watch_stop
  server_ticks=$(($(cpu_ticks "$SERVER_PID") - server_before))
  all_ticks=$(($(machine_busy_ticks) - all_before))
  got="$(json_field "$out" items)"
  secs="$(json_field "$out" seconds)"
  ips="$(json_field "$out" items_per_sec)"
  mbs="$(json_field "$out" mb_per_sec)"
  [[ "$got" = "$items" ]] || log "warning: the drain delivered $got items, not $items"
  wall_us="$(awk -v s="$secs" -v n="$got" 'BEGIN {printf "%.3f", s * 1e6 / n}')"
  cpu_us="$(awk -v t="$server_ticks" -v hz="$CLK_TCK" -v n="$got" 'BEGIN {printf "%.3f", t / hz * 1e6 / n}')"
  other="$(awk -v all="$all_ticks" -v t="$server_ticks" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN {printf "%.2f", (all - t) / hz / s}')"
  [[ -n "$FIRST_US" ]] || { FIRST_US="$wall_us"; FIRST_CPU_US="$cpu_us"; }
  peak="${R[rss.peak]}"
  growth=$((peak - before))
  log "  -> $items items: $ips items/s, $wall_us µs/item wall, $cpu_us µs/item server CPU; RSS $(mib "$before") -> $(mib "${R[rss.peak]}") MiB"
  ROWS+=("| $items | $(fmt1 "${R[load.seconds]}") + $(fmt1 "${R[load.persist]}") | $disk | $(fmt1 "$warmup") | $(fmt2 "$secs") | $(fmt0 "$ips") | $(fmt1 "$mbs") | $wall_us ($(ratio "$wall_us" "$FIRST_US")x) | $cpu_us ($(ratio "$cpu_us" "$FIRST_CPU_US")x) | $other | $(mib "$before") | $(mib "${R[rss.peak]}") (+$(mib "$growth")) |")
  echo "$items $ips $(mib "$growth") $(mib "$before") $(mib "${R[rss.peak]}")" >>"$WORK/plot.dat"
  LAST_US="$wall_us"
  LAST_CPU_US="$cpu_us"
  stop_sluiced drain
  rm -rf "$DATA"
done

WALL_RATIO="$(ratio "$LAST_US" "$FIRST_US")"
CPU_RATIO="$(ratio "$LAST_CPU_US" "$FIRST_CPU_US")"
flat() { awk -v r="$1" 'BEGIN { if (r <= 1.25) printf "met"; else printf "**missed** by %.0f%% (%.2fx of 1.25x)", (r - 1.25) / 1.25 * 100, r }'; }

PLOT_NOTE="no plot: gnuplot is not installed (bench/install-bench-deps.sh installs gnuplot-nox)"
if command -v gnuplot >/dev/null; then
  TERM_LINE="set terminal pngcairo size 900,500"
  echo "$TERM_LINE" | gnuplot 2>/dev/null || TERM_LINE="set terminal png size 900,500"
  if gnuplot <<EOF 2>"$WORK/gnuplot.err"; then
$TERM_LINE
set output '$PLOT'
set title 'sluice drain after restart (one consumer, disk backfill), ${VALUE_SIZE}-byte values'
set xlabel 'items in the bucket (millions)'
set ylabel 'drain items/s (thousands)'
set y2label 'RSS added by the drain (MiB)'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key bottom right
set grid
plot '$WORK/plot.dat' using (\$1/1e6):(\$2/1e3) with linespoints lw 2 pt 7 title 'items/s', \
     '' using (\$1/1e6):3 axes x1y2 with linespoints lw 2 pt 5 title 'RSS added during the drain'
EOF
    PLOT_NOTE="plot: \`bench/$(basename "$PLOT")\` (items/s and the RSS the drain adds, against the size)"
  else
    PLOT_NOTE="no plot: gnuplot failed ($(head -1 "$WORK/gnuplot.err"))"
  fi
fi

QUICK_NOTE=""
[[ "${QUICK:-0}" != 1 ]] || QUICK_NOTE=" — reduced run (QUICK=1)"
REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Scaling: drain after restart at $(sed 's/ /, /g' <<<"$SIZES") items${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); client and server share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Server: \`${R[server.cmd]}\`; ${VALUE_SIZE}-byte values, distinct keys; one \`sluice drain\` (one connection, $DRAIN_BUFFER-byte window) after a restart: a pure disk backfill"
  echo "- Load column: \`sluice load --populate\` seconds + seconds until persisted. Other CPU: cores used during the drain by everything but the server (the drain client plus other users' work). Ratios against the smallest size."
  echo "- $PLOT_NOTE"
  echo
  echo "| items | load + persist s | disk MB | restart s | drain s | items/s | MB/s | wall µs/item | server CPU µs/item | other CPU | RSS before MiB | peak RSS MiB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| figure | measured (largest / smallest) | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| wall time per item | ${WALL_RATIO}x | <= 1.25x | $(flat "$WALL_RATIO") |"
  echo "| server CPU per item | ${CPU_RATIO}x | <= 1.25x | $(flat "$CPU_RATIO") |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run; the load and drain repeat per size):"
  echo
  echo '```'
  echo "${R[server.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
