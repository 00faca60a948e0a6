#!/usr/bin/env bash
# KV throughput: pipelined GET and SET with 100-byte values, sluiced against memcached, both with 2
# worker threads, driven by the same `sluice load` client, in one run on this machine.
# (Issue 2's first benchmark; benchmark 1 of issue 5. With CONNECTIONS=200 PIPELINE=1 it is issue
# 15's "many plain clients": bench/many_clients.sh.)
#
# For each server in turn: start it, populate KEYS keys, run a GET-only phase and a SET-only phase
# (CONNECTIONS connections x PIPELINE requests in flight, DURATION seconds each), stop it. sluiced
# gets a fresh data directory, 1024 vbuckets and io_threads=2; its GET phase starts only once the
# populated items are persisted (ep_queue_size 0), and its SET phase runs while the flusher persists
# to RocksDB. Then prints the figures and ratios sluice/memcached, and appends them, with the
# machine, the commit and the exact commands, to bench/RESULTS.md.
#
# Targets (issue 5): GET >= 1.0x memcached, SET >= 0.8x memcached.
#
# Usage: bench/kv_throughput.sh [BUILD_DIR]          (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   KEYS [1000000]  VALUE_SIZE [100]  CONNECTIONS [4]  PIPELINE [32]  DURATION [15] (seconds)
#   THREADS [2]     server worker threads (sluiced io_threads, memcached -t)
#   QUICK=1         KEYS=100000 DURATION=5 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
#   MEMCACHED [memcached from PATH]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"
SLUICED="$BUILD_DIR/sluiced"

if [[ "${QUICK:-0}" = 1 ]]; then
  KEYS="${KEYS:-100000}"
  DURATION="${DURATION:-5}"
fi
KEYS="${KEYS:-1000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
CONNECTIONS="${CONNECTIONS:-4}"
PIPELINE="${PIPELINE:-32}"
DURATION="${DURATION:-15}"
THREADS="${THREADS:-2}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"
MEMCACHED="${MEMCACHED:-$(command -v memcached || true)}"

die() { echo "kv_throughput: $*" >&2; exit 1; }
log() { echo "kv_throughput: $*" >&2; }

[[ -x "$SLUICE" && -x "$SLUICED" ]] || die "no $SLUICE or $SLUICED: build first (make build)"
[[ -n "$MEMCACHED" && -x "$MEMCACHED" ]] || die "memcached not found (apt-get install memcached)"
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
if [[ "$BUILD_TYPE" = Debug ]]; then
  log "warning: $BUILD_DIR is a Debug build; figures will not be representative"
fi

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true  # interrupted run: no clean stop needed
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- helpers ----

# json_field JSON NAME: a top-level scalar of a flat one-line JSON object.
json_field() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" <<<"$1" | tr -d '"'; }

# CPU ticks (user + system) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK="$(getconf CLK_TCK)"
# CPU ticks the whole machine has been busy so far (user, nice, system, irq, softirq, steal).
machine_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

wait_for_port() {  # wait_for_port PORT PID
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_sluiced() {
  echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
  rm -rf "$WORK/data"
  SERVER_CMD="$SLUICED --port 0 --data-dir $WORK/data --users $WORK/users.json --vbuckets 1024 --set io_threads=$THREADS --log-level warn"
  $SERVER_CMD >"$WORK/sluiced.out" 2>"$WORK/sluiced.err" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^sluiced listening on ' "$WORK/sluiced.out" 2>/dev/null; then
      PORT="$(sed -n 's/^sluiced listening on .*:\([0-9]*\)$/\1/p' "$WORK/sluiced.out")"
      AUTH=(--user bench --password bench)
      MODE=crc
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/sluiced.err" >&2
  die "sluiced did not start"
}

start_memcached() {
  local user_args=()
  [[ "$(id -u)" -ne 0 ]] || user_args=(-u nobody)  # memcached refuses to run as root without -u
  for _ in 1 2 3; do
    PORT="$(free_port)"
    SERVER_CMD="$MEMCACHED -l 127.0.0.1 -p $PORT -U 0 -t $THREADS -m 4096 -c 4096 ${user_args[*]}"
    $SERVER_CMD >"$WORK/memcached.log" 2>&1 &
    SERVER_PID=$!
    if wait_for_port "$PORT" "$SERVER_PID"; then
      AUTH=(--no-auth)
      MODE=zero
      return 0
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  done
  cat "$WORK/memcached.log" >&2
  die "memcached did not start"
}

# stop_server NAME: SIGTERM, then up to 120 s for a clean exit (sluiced persists everything first);
# records how long it took, or that it hung and was killed.
stop_server() {
  local start
  start="$(date +%s.%N)"
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 1200); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    R[$1.stop]="did not exit within 120 s of SIGTERM (killed)"
    log "  $1 did not exit within 120 s of SIGTERM: killed"
  else
    R[$1.stop]="exited $(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}') s after SIGTERM"
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# sluiced only: wait until every write is persisted; prints the seconds waited.
wait_persisted() {
  local start queue
  start="$(date +%s.%N)"
  while true; do
    queue="$(json_field "$("$SLUICE" stats --port "$PORT" "${AUTH[@]}" --json)" ep_queue_size)"
    [[ "$queue" = 0 ]] && break
    awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {exit !(n - s < 600)}' ||
      die "sluiced did not persist its queue within 600 s"
    sleep 0.2
  done
  awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}'
}

# run_load NAME PHASE ARGS...: runs sluice load, recording its JSON and the CPU each side used.
declare -A R
COMMANDS=()
run_load() {
  local name="$1" phase="$2"
  shift 2
  local cmd=("$SLUICE" load --port "$PORT" "${AUTH[@]}" --vbuckets-mode "$MODE" --keys "$KEYS"
    --value-size "$VALUE_SIZE" --connections "$CONNECTIONS" --pipeline "$PIPELINE" --json "$@")
  COMMANDS+=("$name $phase: ${cmd[*]#"$BUILD_DIR/"}")
  log "$name $phase: ${cmd[*]}"
  local before_server after_server before_all after_all out client_cpu
  before_server="$(cpu_ticks "$SERVER_PID")"
  before_all="$(machine_busy_ticks)"
  local TIMEFORMAT="%U %S"
  { time "${cmd[@]}" >"$WORK/load.json" 2>"$WORK/load.err"; } 2>"$WORK/time.txt" ||
    { cat "$WORK/load.err" >&2; die "$name $phase: sluice load failed"; }
  after_server="$(cpu_ticks "$SERVER_PID")"
  after_all="$(machine_busy_ticks)"
  out="$(cat "$WORK/load.json")"
  client_cpu="$(awk '{print $1 + $2}' "$WORK/time.txt")"
  local seconds populate_seconds wall
  seconds="$(json_field "$out" seconds)"
  populate_seconds="$(json_field "$out" populate_seconds)"
  wall="$(awk -v a="$seconds" -v b="$populate_seconds" 'BEGIN {print a + b}')"
  R[$name.$phase.ops_per_sec]="$(json_field "$out" ops_per_sec)"
  R[$name.$phase.ops]="$(json_field "$out" ops)"
  R[$name.$phase.p50]="$(json_field "$out" p50_us)"
  R[$name.$phase.p99]="$(json_field "$out" p99_us)"
  R[$name.$phase.errors]="$(json_field "$out" errors)"
  R[$name.$phase.misses]="$(json_field "$out" misses)"
  R[$name.$phase.populated]="$(json_field "$out" populated)"
  R[$name.$phase.populate_seconds]="$populate_seconds"
  # Cores used on average over the run (populate included when there was one).
  R[$name.$phase.server_cpu]="$(awk -v t=$((after_server - before_server)) -v hz="$CLK_TCK" \
    -v s="$wall" 'BEGIN {printf "%.2f", (s > 0 ? t / hz / s : 0)}')"
  R[$name.$phase.client_cpu]="$(awk -v c="$client_cpu" -v s="$wall" \
    'BEGIN {printf "%.2f", (s > 0 ? c / s : 0)}')"
  # Everything else the machine ran meanwhile (other users' builds and tests): a noisy-run flag.
  R[$name.$phase.other_cpu]="$(awk -v all=$((after_all - before_all)) -v hz="$CLK_TCK" -v s="$wall" \
    -v server="${R[$name.$phase.server_cpu]}" -v client="${R[$name.$phase.client_cpu]}" \
    'BEGIN {o = (s > 0 ? all / hz / s : 0) - server - client; printf "%.2f", (o < 0 ? 0 : o)}')"
  log "  -> ${R[$name.$phase.ops_per_sec]} ops/s, p50 ${R[$name.$phase.p50]} us, p99 ${R[$name.$phase.p99]} us, errors ${R[$name.$phase.errors]}, cpu server ${R[$name.$phase.server_cpu]} client ${R[$name.$phase.client_cpu]} other ${R[$name.$phase.other_cpu]}"
}

run_server() {  # run_server NAME
  local name="$1"
  if [[ "$name" = sluiced ]]; then start_sluiced; else start_memcached; fi
  R[$name.cmd]="${SERVER_CMD//$WORK/\$TMP}"
  R[$name.cmd]="${R[$name.cmd]//$BUILD_DIR\//}"
  log "$name on port $PORT: $SERVER_CMD"
  # Populate (one op after it: load needs a measured phase).
  run_load "$name" populate --populate --set-ratio 1 --ops 1
  if [[ "$name" = sluiced ]]; then
    R[$name.persist_wait]="$(wait_persisted)"
    log "  populated items persisted after ${R[$name.persist_wait]} s more"
  fi
  run_load "$name" get --set-ratio 0 --duration "$DURATION" --seed 2
  run_load "$name" set --set-ratio 1 --duration "$DURATION" --seed 3
  if [[ "$name" = sluiced ]]; then
    R[$name.queue_after_set]="$(json_field "$("$SLUICE" stats --port "$PORT" "${AUTH[@]}" --json)" ep_queue_size)"
    R[$name.drain_after_set]="$(wait_persisted)"
    log "  SET backlog ${R[$name.queue_after_set]} items, persisted ${R[$name.drain_after_set]} s after the phase"
  fi
  stop_server "$name"
}

# ---- run ----

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"

run_server sluiced
run_server memcached

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() {  # verdict RATIO TARGET
  awk -v r="$1" -v t="$2" 'BEGIN {
    if (r >= t) printf "met"; else printf "**missed** by %.0f%% (%.2fx of %.2fx)", (t - r) / t * 100, r, t }'
}
GET_RATIO="$(ratio "${R[sluiced.get.ops_per_sec]}" "${R[memcached.get.ops_per_sec]}")"
SET_RATIO="$(ratio "${R[sluiced.set.ops_per_sec]}" "${R[memcached.set.ops_per_sec]}")"

# ---- report ----

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
RAM_GB="$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi
MC_VERSION="$("$MEMCACHED" -V 2>/dev/null | head -1)"
QUICK_NOTE=""
[[ "$KEYS" = 1000000 ]] || QUICK_NOTE=" — reduced run ($KEYS keys instead of 1,000,000)"

fmt_ops() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
fmt1() { awk -v v="$1" 'BEGIN {printf "%.1f", v}'; }
row() {  # row NAME PHASE
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${2^^}" "$(fmt_ops "${R[$1.$2.ops_per_sec]}")" \
    "$(fmt1 "${R[$1.$2.p50]}")" "$(fmt1 "${R[$1.$2.p99]}")" "${R[$1.$2.server_cpu]}" "${R[$1.$2.client_cpu]}" \
    "${R[$1.$2.other_cpu]}"
}

REPORT="$WORK/report.md"
{
  echo
  if [[ "$PIPELINE" = 1 ]]; then
    SHAPE="$CONNECTIONS plain clients (one request in flight each)"
  else
    SHAPE="pipelined ($CONNECTIONS connections x $PIPELINE in flight)"
  fi
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — KV throughput: GET/SET, $SHAPE, ${VALUE_SIZE}-byte values${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); client and server share the cores; load average at start $LOADAVG"
  echo "- CPU columns: cores used on average during the phase by the server, by the \`sluice load\` client, and by everything else on the machine (other users' work: a high figure means a noisy run)"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Load: $KEYS keys populated first, $CONNECTIONS connections x pipeline $PIPELINE, ${DURATION} s per phase, same \`sluice load\` client for both servers"
  echo "- Servers ($THREADS worker threads each): \`${R[sluiced.cmd]}\`; \`${R[memcached.cmd]}\` ($MC_VERSION)"
  echo "- sluiced: populated items persisted ${R[sluiced.persist_wait]} s after the populate; SET phase ended with ${R[sluiced.queue_after_set]} items unpersisted, persisted ${R[sluiced.drain_after_set]} s later; sluiced ${R[sluiced.stop]}"
  echo
  echo "| server | phase | ops/s | p50 µs | p99 µs | server CPU | client CPU | other CPU |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  row sluiced get
  row memcached get
  row sluiced set
  row memcached set
  echo
  echo "| ratio sluice/memcached | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| GET ops/s | ${GET_RATIO}x | 1.0x | $(verdict "$GET_RATIO" 1.0) |"
  echo "| SET ops/s (persisting to RocksDB) | ${SET_RATIO}x | 0.8x | $(verdict "$SET_RATIO" 0.8) |"
  echo
  echo "Populate: sluiced $(fmt1 "${R[sluiced.populate.populate_seconds]}") s, memcached $(fmt1 "${R[memcached.populate.populate_seconds]}") s for $KEYS keys. Errors: sluiced ${R[sluiced.get.errors]}/${R[sluiced.set.errors]}, memcached ${R[memcached.get.errors]}/${R[memcached.set.errors]} (GET/SET); GET misses: sluiced ${R[sluiced.get.misses]}, memcached ${R[memcached.get.misses]}."
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  echo "${R[sluiced.cmd]}"
  echo "${R[memcached.cmd]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"

cat "$REPORT"
if [[ "$RESULTS" != /dev/null ]]; then
  if [[ ! -s "$RESULTS" ]]; then
    printf '# Benchmark results\n\n# History\n\nAppended by the scripts in bench/ (see bench/run-all.sh); newest last.\n' >"$RESULTS"
  fi
  cat "$REPORT" >>"$RESULTS"
  log "appended to $RESULTS"
fi
