#!/usr/bin/env bash
# Reads from disk: GETs of a value-evicted dataset about 3x the memory quota, against plain RocksDB
# point lookups of the same documents (issue 15).
#
# sluiced (quota QUOTA) is loaded with KEYS documents of VALUE_SIZE bytes, about 3x the quota, and
# persists them (the item pager ejects values as memory fills). It is restarted: warmup loads
# values only up to the low watermark, so most values are on disk only. Then `sluice load` GETs
# random keys for DURATION seconds (CONNECTIONS x PIPELINE in flight); ep_bg_fetched says how many
# GETs read the disk (a fetched value becomes resident until the pager ejects it again). sluiced
# stops, and sluice_point_lookup (bench/point_lookup.cc) reads the same data dir with RocksDB alone:
# THREADS threads of DB::Get on the documents in random order, DURATION seconds.
#
# Target (issue 15): sluiced's GET rate >= 0.7x the plain point-lookup rate.
#
# Usage: bench/disk_reads.sh [BUILD_DIR]      (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   KEYS [400000]  VALUE_SIZE [1024]  QUOTA [128M]  CONNECTIONS [4]  PIPELINE [32]
#   DURATION [15] (seconds)  THREADS [2] (sluiced io_threads and the lookup program's threads)
#   QUICK=1  KEYS=100000 QUOTA=32M DURATION=5     RESULTS [bench/RESULTS.md]
set -euo pipefail

BENCH=disk_reads
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
if [[ "${QUICK:-0}" = 1 ]]; then
  KEYS="${KEYS:-100000}"
  QUOTA="${QUOTA:-32M}"
  DURATION="${DURATION:-5}"
fi
KEYS="${KEYS:-400000}"
VALUE_SIZE="${VALUE_SIZE:-1024}"
QUOTA="${QUOTA:-128M}"
CONNECTIONS="${CONNECTIONS:-4}"
PIPELINE="${PIPELINE:-32}"
DURATION="${DURATION:-15}"
THREADS="${THREADS:-2}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"
WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
declare -A R
COMMANDS=()
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
cleanup() {
  kill_sluiced
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in sluiced sluice bench/sluice_point_lookup; do
  [[ -x "$BUILD_DIR/$bin" ]] || die "no $BUILD_DIR/$bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

stat_of() { json_field "$("$BUILD_DIR/sluice" stats --port "$PORT" "${AUTH[@]}" --json)" "$1"; }
# The share of items whose value is in memory, in percent.
resident_pct() {
  awk -v n="$(stat_of curr_items)" -v out="$(stat_of ep_num_non_resident)" \
    'BEGIN {printf "%.0f", (n > 0 ? 100 * (n - out) / n : 0)}'
}
SERVER_ARGS=(--memory-quota "$QUOTA" --set "io_threads=$THREADS" --log-level warn)

# 1. Load about 3x the quota and persist it.
start_sluiced "$WORK/data" "${SERVER_ARGS[@]}"
record "$SERVER_CMD"
load_items "$KEYS" "$VALUE_SIZE"
stop_sluiced load

# 2. Restart: warmup brings values back only up to the low watermark.
start_sluiced "$WORK/data" "${SERVER_ARGS[@]}"
for _ in $(seq 1 3000); do
  [[ "$(stat_of ep_warmup_thread)" = complete ]] && break
  sleep 0.1
done
R[resident_before]="$(resident_pct)"
R[items]="$(stat_of curr_items)"
[[ "${R[items]}" = "$KEYS" ]] || die "sluiced holds ${R[items]} items after warmup, not $KEYS"
fetched_before="$(stat_of ep_bg_fetched)"
GETS=("$BUILD_DIR/sluice" load --port "$PORT" "${AUTH[@]}" --keys "$KEYS" --value-size "$VALUE_SIZE"
  --set-ratio 0 --duration "$DURATION" --connections "$CONNECTIONS" --pipeline "$PIPELINE"
  --seed 7 --json)
record "${GETS[@]}"
log "GETs: ${GETS[*]}"
server_before="$(cpu_ticks "$SERVER_PID")"
out="$("${GETS[@]}")" || die "sluice load failed"
R[server_cpu]="$(cores_between $(($(cpu_ticks "$SERVER_PID") - server_before)) "$(json_field "$out" seconds)")"
for f in ops ops_per_sec p50_us p99_us errors misses; do R[get.$f]="$(json_field "$out" "$f")"; done
R[fetched]="$(($(stat_of ep_bg_fetched) - fetched_before))"
R[resident_after]="$(resident_pct)"
R[mem_used]="$(stat_of mem_used)"
R[rss]="$(vm_kib "$SERVER_PID" VmRSS)"
stop_sluiced gets
[[ "${R[get.misses]}" = 0 && "${R[get.errors]}" = 0 ]] ||
  die "GETs had ${R[get.misses]} misses and ${R[get.errors]} errors"

# 3. The floor: RocksDB alone on the same files.
LOOKUP=("$BUILD_DIR/bench/sluice_point_lookup" "$WORK/data/default" --threads "$THREADS"
  --seconds "$DURATION" --json)
record "${LOOKUP[@]}"
log "plain lookups: ${LOOKUP[*]}"
plain="$("${LOOKUP[@]}")" || die "sluice_point_lookup failed"
for f in keys lookups lookups_per_sec misses cpu_seconds seconds; do
  R[plain.$f]="$(json_field "$plain" "$f")"
done
R[plain.cpu]="$(awk -v c="${R[plain.cpu_seconds]}" -v s="${R[plain.seconds]}" 'BEGIN {printf "%.2f", c / s}')"

RATIO="$(ratio "${R[get.ops_per_sec]}" "${R[plain.lookups_per_sec]}")"
DISK_SHARE="$(awk -v f="${R[fetched]}" -v o="${R[get.ops]}" 'BEGIN {printf "%.0f", (o > 0 ? 100 * f / o : 0)}')"
log "  -> sluiced ${R[get.ops_per_sec]} GETs/s (${DISK_SHARE}% from disk), plain ${R[plain.lookups_per_sec]} lookups/s: ${RATIO}x"

QUICK_NOTE=""
[[ "$KEYS" = 400000 ]] || QUICK_NOTE=" — reduced run ($KEYS keys)"
REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Reads from disk: GETs of a value-evicted dataset against plain RocksDB point lookups${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); client and server share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Data: $KEYS documents of $VALUE_SIZE bytes, quota $QUOTA; after the restart ${R[resident_before]}% of values resident; the files are in the OS page cache on both sides (this measures the read path, not the device)"
  echo "- sluiced: $CONNECTIONS connections x pipeline $PIPELINE of random GETs, $DURATION s; ${R[fetched]} of ${R[get.ops]} GETs read the disk (${DISK_SHARE}%); ${R[resident_after]}% resident after; mem_used ${R[mem_used]}, RSS $(mib "${R[rss]}") MiB; server CPU ${R[server_cpu]} cores"
  echo "- plain: ${R[plain.keys]} documents, $THREADS threads of DB::Get in random order, $DURATION s, default RocksDB options, read-only; CPU ${R[plain.cpu]} cores; misses ${R[plain.misses]}"
  echo
  echo "| side | reads/s | p50 µs | p99 µs |"
  echo "|---|---:|---:|---:|"
  echo "| sluiced GET | $(fmt0 "${R[get.ops_per_sec]}") | $(fmt1 "${R[get.p50_us]}") | $(fmt1 "${R[get.p99_us]}") |"
  echo "| RocksDB point lookup | $(fmt0 "${R[plain.lookups_per_sec]}") | | |"
  echo
  echo "| ratio | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| sluiced GETs / plain lookups | ${RATIO}x | 0.7x | $(verdict "$RATIO" 0.7) |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory):"
  echo
  echo '```'
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
