#!/usr/bin/env bash
# Backfill throughput: a full DCP drain of every vbucket after a restart (a pure disk backfill)
# against a plain RocksDB iteration of the same data directory (and the project's own scan of it),
# and the drain's MB/s against the loopback TCP bandwidth, all measured in one run on this machine.
# (Issue 3's bench/ requirement; benchmark 2 of issue 5; the plain-iteration baseline of issue 8.)
#
#   1. A fresh sluiced (1024 vbuckets) is loaded with ITEMS distinct keys of VALUE_SIZE bytes by
#      `sluice load --populate` (crc routing, as a Couchbase client), persisted, and stopped.
#   2. sluiced restarts on the same data dir: its checkpoints are empty, so every stream from
#      seqno 0 backfills from disk. `sluice drain --json` streams all vbuckets to their high seqno
#      (one connection, the default 10 MiB flow-control window). The server's peak RSS during the
#      drain is read from /proc/PID/status VmHWM (reset first via clear_refs; a 50 ms VmRSS sampler
#      backs it up), with its RSS before the drain as the baseline.
#   3. With sluiced stopped, bench/sluice_plain_scan opens the same data dir read-only with RocksDB's
#      default options and iterates the `seq` column family from end to end, touching each key and
#      value slice, decoding nothing (one thread): what reading those files costs anyone, the
#      baseline of the target. Then bench/sluice_raw_scan, the project's own scan: the store opened
#      read-only, every vbucket scanned with the SeqnoScan a backfill uses (one thread, like the
#      server's one auxio thread), documents decoded in place.
#   4. Rounds 2..ROUNDS repeat the pair on the same data: restart, drain, stop, plain iteration.
#      On this shared 2-core machine other work takes cores from the drain (three busy threads)
#      more than from the one-threaded iteration: each round's CPU line says how much, and the
#      verdict is on the median of the rounds' ratios, with their range reported.
#   5. bench/sluice_loopback_bw: one TCP connection's bandwidth over 127.0.0.1.
# Both reads find the data in the OS page cache (just written, and read by the warmup): the
# comparison is CPU-bound on both sides, as a drain of a warm node is.
#
# Target (issue 8): drain items/s >= 0.6x plain-iteration items/s, both measured in this run.
# (Issue 5's target, drain >= 0.7x the project's own scan, is reported too.) The report gives the
# CPU per item of every busy sluiced thread (the auxio backfill thread, the io thread), of the
# client and of both scans.
#
# Usage: bench/drain_vs_scan.sh [BUILD_DIR]            (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   ITEMS [5000000]  VALUE_SIZE [100]  VBUCKETS [1024]
#   DRAIN_CONNECTIONS [1]  DRAIN_BUFFER [10485760] (flow-control window per connection)
#   MAX_SIZE [4294967296] (sluiced's quota: the whole data set fits, no eviction while loading)
#   LOAD_CONNECTIONS [4]  LOAD_PIPELINE [32]  LOOPBACK_SECONDS [3]
#   ROUNDS [3] (drain + plain iteration pairs; the verdict is on their median ratio)
#   QUICK=1            ITEMS=200000 (a smoke run; RESULTS.md says so)
#   PROFILE=1          also sample sluiced with `perf record` (999 Hz software clock, call graphs)
#                      during the drain and print its CPU by thread and top symbols to stderr;
#                      PERF_DATA=FILE keeps the samples
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=drain_vs_scan
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"
RAW_SCAN="$BUILD_DIR/bench/sluice_raw_scan"
PLAIN_SCAN="$BUILD_DIR/bench/sluice_plain_scan"
LOOPBACK="$BUILD_DIR/bench/sluice_loopback_bw"

[[ "${QUICK:-0}" = 1 ]] && ITEMS="${ITEMS:-200000}"
ITEMS="${ITEMS:-5000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
DRAIN_CONNECTIONS="${DRAIN_CONNECTIONS:-1}"
DRAIN_BUFFER="${DRAIN_BUFFER:-10485760}"
MAX_SIZE="${MAX_SIZE:-4294967296}"
LOAD_CONNECTIONS="${LOAD_CONNECTIONS:-4}"
LOAD_PIPELINE="${LOAD_PIPELINE:-32}"
LOOPBACK_SECONDS="${LOOPBACK_SECONDS:-3}"
ROUNDS="${ROUNDS:-3}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SAMPLER_PID=""
cleanup() {
  [[ -z "$SAMPLER_PID" ]] || kill "$SAMPLER_PID" 2>/dev/null || true
  kill_sluiced
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced" "$RAW_SCAN" "$PLAIN_SCAN" "$LOOPBACK"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

declare -A R
COMMANDS=()
DATA="$WORK/data"
SERVER_ARGS=(--vbuckets "$VBUCKETS" --set "max_size=$MAX_SIZE" --log-level warn)
record() { COMMANDS+=("$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$*")"); }

# ---- 1. load ----
start_sluiced "$DATA" "${SERVER_ARGS[@]}"
R[server.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$SERVER_CMD")"
LOAD=("$SLUICE" load --port "$PORT" "${AUTH[@]}" --keys "$ITEMS" --value-size "$VALUE_SIZE"
  --populate --set-ratio 1 --ops 1 --connections "$LOAD_CONNECTIONS" --pipeline "$LOAD_PIPELINE"
  --json)
record "${LOAD[@]}"
log "loading $ITEMS items: ${LOAD[*]}"
out="$("${LOAD[@]}")" || die "sluice load failed"
R[load.seconds]="$(json_field "$out" populate_seconds)"
R[load.errors]="$(json_field "$out" populate_errors)"
[[ "${R[load.errors]}" = 0 ]] || die "the load had ${R[load.errors]} failed writes"
R[load.persist]="$(wait_persisted)"
log "  loaded in ${R[load.seconds]} s, persisted ${R[load.persist]} s later"
stop_sluiced load
R[disk]="$(du -sm "$DATA" | cut -f1)"

# ---- 2. restart, drain ----
start="$(now)"
start_sluiced "$DATA" "${SERVER_ARGS[@]}"
R[restart.seconds]="$(since "$start")"
stats="$("$SLUICE" stats --port "$PORT" "${AUTH[@]}" --json)"
R[curr_items]="$(json_field "$stats" curr_items)"
log "  restarted (warmup included) in ${R[restart.seconds]} s; curr_items ${R[curr_items]}"

echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null && R[hwm_reset]=1 || R[hwm_reset]=0
R[rss.before]="$(vm_kib "$SERVER_PID" VmRSS)"
( while kill -0 "$SERVER_PID" 2>/dev/null; do vm_kib "$SERVER_PID" VmRSS; sleep 0.05; done ) \
  >"$WORK/rss.txt" &
SAMPLER_PID=$!

DRAIN=("$SLUICE" drain --port "$PORT" "${AUTH[@]}" --json --progress never
  --connections "$DRAIN_CONNECTIONS" --buffer "$DRAIN_BUFFER")
record "${DRAIN[@]}"
log "drain: ${DRAIN[*]}"
PERF_PID=""
if [[ "${PROFILE:-0}" = 1 ]]; then
  command -v perf >/dev/null || die "PROFILE=1 needs perf (apt-get install linux-perf)"
  PERF_DATA="${PERF_DATA:-$WORK/perf.data}"
  perf record -e cpu-clock -F 999 -g -o "$PERF_DATA" -p "$SERVER_PID" 2>"$WORK/perf.err" &
  PERF_PID=$!
  sleep 1  # perf attaches
fi
server_before="$(cpu_ticks "$SERVER_PID")"
thread_ticks "$SERVER_PID" >"$WORK/threads.before"
all_before="$(machine_busy_ticks)"
TIMEFORMAT="%U %S"
{ time "${DRAIN[@]}" >"$WORK/drain.json" 2>"$WORK/drain.err"; } 2>"$WORK/drain.time" ||
  { cat "$WORK/drain.err" >&2; die "sluice drain failed"; }
server_after="$(cpu_ticks "$SERVER_PID")"
thread_ticks "$SERVER_PID" >"$WORK/threads.after"
all_after="$(machine_busy_ticks)"
if [[ -n "$PERF_PID" ]]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  report() { perf report -i "$PERF_DATA" --stdio -g none "$@" 2>/dev/null | grep '%' || true; }
  {
    echo "== sluiced during the drain: CPU samples by thread (threads are unnamed: see the symbols)"
    report --no-children --sort pid
    echo "== top symbols (self)"
    report --no-children --sort pid,dso,symbol | head -45 | cut -c1-170
    echo "== inclusive (children), top 60"
    report --children --sort symbol | head -60 | cut -c1-170
  } >&2 || true
fi
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
R[rss.hwm]="$(vm_kib "$SERVER_PID" VmHWM)"
R[rss.sampled]="$(sort -n "$WORK/rss.txt" | tail -1)"
drain="$(cat "$WORK/drain.json")"
for f in items bytes seconds items_per_sec mb_per_sec vbuckets snapshot_markers; do
  R[drain.$f]="$(json_field "$drain" "$f")"
done
# CPU over the drain: server, client, everything else (a noisy-run flag).
R[drain.server_cpu]="$(awk -v t=$((server_after - server_before)) -v hz="$CLK_TCK" -v s="${R[drain.seconds]}" 'BEGIN {printf "%.2f", t / hz / s}')"
THREADS_CPU="$(thread_cpu "$WORK/threads.before" "$WORK/threads.after" "${R[drain.seconds]}" "${R[drain.items]}" | head -6)"
R[drain.client_cpu]="$(awk -v s="${R[drain.seconds]}" '{printf "%.2f", ($1 + $2) / s}' "$WORK/drain.time")"
R[drain.other_cpu]="$(awk -v all=$((all_after - all_before)) -v hz="$CLK_TCK" -v s="${R[drain.seconds]}" \
  -v a="${R[drain.server_cpu]}" -v b="${R[drain.client_cpu]}" 'BEGIN {o = all / hz / s - a - b; printf "%.2f", (o < 0 ? 0 : o)}')"
log "  -> ${R[drain.items]} items in ${R[drain.seconds]} s: ${R[drain.items_per_sec]} items/s, ${R[drain.mb_per_sec]} MB/s; server RSS ${R[rss.before]} KiB before, peak ${R[rss.hwm]} KiB"
[[ "${R[drain.items]}" = "$ITEMS" ]] || log "warning: the drain delivered ${R[drain.items]} items, not $ITEMS"
stop_sluiced drain

# ---- 3. plain RocksDB iteration and the project's scan of the same data dir (sluiced stopped) ----
PLAIN=("$PLAIN_SCAN" "$DATA/default" --json)
record "${PLAIN[@]}"
log "plain iteration: ${PLAIN[*]}"
plain="$("${PLAIN[@]}")" || die "plain iteration failed"
for f in items bytes seconds items_per_sec mb_per_sec cpu_us_per_item open_seconds; do
  R[plain.$f]="$(json_field "$plain" "$f")"
done
[[ "${R[plain.items]}" = "${R[drain.items]}" ]] ||
  log "warning: the plain iteration read ${R[plain.items]} entries, the drain ${R[drain.items]} items"
log "  -> ${R[plain.items]} entries in ${R[plain.seconds]} s: ${R[plain.items_per_sec]} entries/s, ${R[plain.cpu_us_per_item]} µs CPU each"

SCAN=("$RAW_SCAN" "$DATA/default" --json)
record "${SCAN[@]}"
log "raw scan: ${SCAN[*]}"
{ time "${SCAN[@]}" >"$WORK/scan.json"; } 2>"$WORK/scan.time" || die "raw scan failed"
scan="$(cat "$WORK/scan.json")"
for f in items dcp_bytes seconds items_per_sec mb_per_sec open_seconds; do
  R[scan.$f]="$(json_field "$scan" "$f")"
done
R[scan.cpu]="$(awk -v s="${R[scan.seconds]}" -v o="${R[scan.open_seconds]}" '{printf "%.2f", ($1 + $2) / (s + o)}' "$WORK/scan.time")"
R[scan.us_per_item]="$(awk -v n="${R[scan.items]}" '{printf "%.3f", ($1 + $2) * 1e6 / n}' "$WORK/scan.time")"
R[drain.client_us_per_item]="$(awk -v n="${R[drain.items]}" '{printf "%.3f", ($1 + $2) * 1e6 / n}' "$WORK/drain.time")"
log "  -> ${R[scan.items]} items in ${R[scan.seconds]} s: ${R[scan.items_per_sec]} items/s"

# ---- 4. more rounds: restart, drain, stop, plain iteration ----
# busiest_us THREAD_CPU_LINES PATTERN: µs/item of the busiest thread whose name matches.
busiest_us() { awk -v p="$2" '$1 ~ p {print $(NF - 1); exit}' <<<"$1"; }
round_figures() {  # round_figures N: the ratio and the per-thread figures of round N
  R[r$1.ratio]="$(ratio "${R[r$1.drain]}" "${R[r$1.plain]}")"
  R[r$1.backfill_us]="$(busiest_us "${R[r$1.threads]}" '^sluiced$')"
  R[r$1.io_us]="$(busiest_us "${R[r$1.threads]}" '^io:')"
}
R[r1.drain]="${R[drain.items_per_sec]}"
R[r1.plain]="${R[plain.items_per_sec]}"
R[r1.threads]="$THREADS_CPU"
R[r1.client_us]="${R[drain.client_us_per_item]}"
R[r1.plain_us]="${R[plain.cpu_us_per_item]}"
R[r1.other]="${R[drain.other_cpu]}"
round_figures 1
for ((round = 2; round <= ROUNDS; round++)); do
  start_sluiced "$DATA" "${SERVER_ARGS[@]}"
  DRAIN=("$SLUICE" drain --port "$PORT" "${AUTH[@]}" --json --progress never
    --connections "$DRAIN_CONNECTIONS" --buffer "$DRAIN_BUFFER")
  server_before="$(cpu_ticks "$SERVER_PID")"
  thread_ticks "$SERVER_PID" >"$WORK/threads.before"
  all_before="$(machine_busy_ticks)"
  { time "${DRAIN[@]}" >"$WORK/drain.json" 2>"$WORK/drain.err"; } 2>"$WORK/drain.time" ||
    { cat "$WORK/drain.err" >&2; die "sluice drain failed (round $round)"; }
  server_after="$(cpu_ticks "$SERVER_PID")"
  thread_ticks "$SERVER_PID" >"$WORK/threads.after"
  all_after="$(machine_busy_ticks)"
  stop_sluiced "drain$round"
  drain="$(cat "$WORK/drain.json")"
  seconds="$(json_field "$drain" seconds)"
  items="$(json_field "$drain" items)"
  R[r$round.drain]="$(json_field "$drain" items_per_sec)"
  R[r$round.threads]="$(thread_cpu "$WORK/threads.before" "$WORK/threads.after" "$seconds" "$items" | head -6)"
  R[r$round.client_us]="$(awk -v n="$items" '{printf "%.3f", ($1 + $2) * 1e6 / n}' "$WORK/drain.time")"
  R[r$round.other]="$(awk -v all=$((all_after - all_before)) -v srv=$((server_after - server_before)) -v hz="$CLK_TCK" -v s="$seconds" \
    '{o = (all - srv) / hz / s - ($1 + $2) / s; printf "%.2f", (o < 0 ? 0 : o)}' "$WORK/drain.time")"
  plain="$("${PLAIN[@]}")" || die "plain iteration failed (round $round)"
  R[r$round.plain]="$(json_field "$plain" items_per_sec)"
  R[r$round.plain_us]="$(json_field "$plain" cpu_us_per_item)"
  round_figures "$round"
  log "  round $round: drain ${R[r$round.drain]} items/s, plain ${R[r$round.plain]} entries/s: ${R[r$round.ratio]}x"
done
RATIOS=()
for ((round = 1; round <= ROUNDS; round++)); do RATIOS+=("${R[r$round.ratio]}"); done
MEDIAN_RATIO="$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{v[NR] = $1} END {printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}')"
RANGE_RATIO="$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2fx", lo, hi}')"

# ---- 5. loopback bandwidth ----
BW=("$LOOPBACK" --seconds "$LOOPBACK_SECONDS" --json)
record "${BW[@]}"
bw="$("${BW[@]}")" || die "loopback measurement failed"
R[bw.mb_per_sec]="$(json_field "$bw" mb_per_sec)"
log "loopback: ${R[bw.mb_per_sec]} MB/s"

# ---- report ----
ITEMS_RATIO="$(ratio "${R[drain.items_per_sec]}" "${R[scan.items_per_sec]}")"
BW_SHARE="$(awk -v a="${R[drain.mb_per_sec]}" -v b="${R[bw.mb_per_sec]}" 'BEGIN {printf "%.1f", (b > 0 ? 100 * a / b : 0)}')"
MIB() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
if [[ "${R[hwm_reset]}" = 1 ]]; then
  PEAK="$(MIB "${R[rss.hwm]}") MiB (VmHWM, reset just before the drain; 50 ms samples: $(MIB "${R[rss.sampled]}") MiB)"
  PEAK_KIB="${R[rss.hwm]}"
else
  PEAK="$(MIB "${R[rss.sampled]}") MiB (50 ms VmRSS samples; VmHWM could not be reset, since start: $(MIB "${R[rss.hwm]}") MiB)"
  PEAK_KIB="${R[rss.sampled]}"
fi
QUICK_NOTE=""
[[ "$ITEMS" = 5000000 ]] || QUICK_NOTE=" — reduced run ($ITEMS items instead of 5,000,000)"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Backfill: drain after restart vs plain RocksDB iteration, $ITEMS x ${VALUE_SIZE}-byte values${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); client and server share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Server: \`${R[server.cmd]}\` (defaults otherwise: 1 auxio thread for backfills, 20 MiB backfill buffer per connection); data dir ${R[disk]} MB on disk"
  echo "- Load: $(fmt1 "${R[load.seconds]}") s for $ITEMS distinct keys (crc routing), persisted ${R[load.persist]} s later; restart with warmup ${R[restart.seconds]} s, curr_items ${R[curr_items]}"
  echo "- Drain: $DRAIN_CONNECTIONS connection(s), flow-control window $DRAIN_BUFFER bytes; ${R[drain.vbuckets]} vbuckets, ${R[drain.snapshot_markers]} snapshot markers; CPU during the drain: server ${R[drain.server_cpu]}, client ${R[drain.client_cpu]}, other ${R[drain.other_cpu]} cores"
  echo "- Plain iteration: one thread, RocksDB defaults, opened in ${R[plain.open_seconds]} s (not counted), ${R[plain.cpu_us_per_item]} µs CPU per entry"
  echo "- Project's scan: one thread, store opened read-only in ${R[scan.open_seconds]} s (not counted), ${R[scan.cpu]} cores, ${R[scan.us_per_item]} µs CPU per item (open included)"
  echo "- CPU per thread during the drain (sluiced: io:N = network threads, unnamed = executor threads, the busy one being the auxio backfill thread; client: ${R[drain.client_us_per_item]} µs/item):"
  sed 's/^/  - /' <<<"$THREADS_CPU"
  echo "- Server RSS: $(MIB "${R[rss.before]}") MiB before the drain, peak $PEAK during it (+$(MIB $((PEAK_KIB - R[rss.before]))) MiB)"
  echo
  echo "| side | items | seconds | items/s | MB/s |"
  echo "|---|---:|---:|---:|---:|"
  echo "| \`sluice drain\` (DCP backfill over TCP) | ${R[drain.items]} | $(fmt2 "${R[drain.seconds]}") | $(fmt0 "${R[drain.items_per_sec]}") | $(fmt1 "${R[drain.mb_per_sec]}") |"
  echo "| plain RocksDB iteration of \`seq\` (\`sluice_plain_scan\`) | ${R[plain.items]} | $(fmt2 "${R[plain.seconds]}") | $(fmt0 "${R[plain.items_per_sec]}") | ($(fmt1 "${R[plain.mb_per_sec]}")) |"
  echo "| project's scan, decoding (\`sluice_raw_scan\`) | ${R[scan.items]} | $(fmt2 "${R[scan.seconds]}") | $(fmt0 "${R[scan.items_per_sec]}") | $(fmt1 "${R[scan.mb_per_sec]}") |"
  echo "| loopback TCP, one connection (\`sluice_loopback_bw\`) | | | | $(fmt1 "${R[bw.mb_per_sec]}") |"
  echo
  echo "MB/s: 10^6 bytes of DCP messages per second (the project's scan's items weighed as the DCP messages they would become); in brackets, the plain iteration's key + value bytes (it decodes nothing)."
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| drain / plain iteration items/s, median of $ROUNDS rounds (range $RANGE_RATIO) | ${MEDIAN_RATIO}x | 0.6x | $(verdict "$MEDIAN_RATIO" 0.6) |"
  echo "| drain / project's scan items/s | ${ITEMS_RATIO}x | 0.7x (issue 5) | $(verdict "$ITEMS_RATIO" 0.7) |"
  echo "| drain MB/s / loopback MB/s | ${BW_SHARE}% | (reported) | |"
  echo
  echo "Rounds (each: restart, drain, stop, plain iteration; round 1 is the one above; CPU µs per item of the auxio backfill thread, the io thread, the client, the plain iteration; other: cores used by other work during the drain):"
  echo
  echo "| round | drain items/s | plain entries/s | ratio | backfill µs | io µs | client µs | plain µs | other cores |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for ((round = 1; round <= ROUNDS; round++)); do
    echo "| $round | $(fmt0 "${R[r$round.drain]}") | $(fmt0 "${R[r$round.plain]}") | ${R[r$round.ratio]}x | ${R[r$round.backfill_us]} | ${R[r$round.io_us]} | ${R[r$round.client_us]} | ${R[r$round.plain_us]} | ${R[r$round.other]} |"
  done
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run; rounds 2-$ROUNDS repeat the server, drain and plain-iteration commands):"
  echo
  echo '```'
  echo "${R[server.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
