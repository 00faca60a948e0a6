#!/usr/bin/env bash
# Durable write latency with one replica: sluice's `majority` SyncWrite against Redis's SET +
# `WAIT 1 0`, each with a primary and one replica on this machine, measured in one run. (Issue
# 13's benchmark "majority durable write latency".)
#
# 1. Redis: a primary and a replica (`--replicaof`), no persistence (`majority` is an in-memory
#    acknowledgement on the replica, and so is WAIT's). Once the replica's link is up,
#    `sluice_redis_wait` runs CONNECTIONS closed loops of SET + WAIT 1 0 for DURATION s.
# 2. sluice: a static two-node cluster (a active, b replica for every vbucket). Once b's
#    replication connection is up, `sluice load --durability majority` runs CONNECTIONS closed
#    loops (pipeline 1) of SETs against a for DURATION s: each SET is answered only once b has
#    acknowledged its prepare.
# Both sides: 100-byte values over KEYS random keys, one request in flight per connection.
#
# Targets (issue 13): p99 under 2 ms, and at least as fast as Redis WAIT (p50 and p99).
#
# Usage: bench/durable_latency.sh [BUILD_DIR]          (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   DURATION [10] s   CONNECTIONS [1]   KEYS [100000]   VALUE_SIZE [100]   VBUCKETS [1024]
#   LEVEL [majority] (also majorityAndPersistActive, persistToMajority: Redis has no equal, its
#   row stays SET + WAIT 1 0)
#   REDIS_SERVER [redis-server from PATH]   REDIS_CLI [redis-cli from PATH]
#   QUICK=1   DURATION=3 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=durable_latency
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

[[ "${QUICK:-0}" = 1 ]] && DURATION="${DURATION:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-1}"
KEYS="${KEYS:-100000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
LEVEL="${LEVEL:-majority}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
REDIS_CLI="${REDIS_CLI:-$(command -v redis-cli || true)}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
declare -A R
COMMANDS=()
REDIS_PIDS=()
cleanup() {
  local pid
  for pid in "${REDIS_PIDS[@]}" "${NODE_PID[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced" "$BUILD_DIR/bench/sluice_redis_wait"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
[[ -x "$REDIS_SERVER" && -x "$REDIS_CLI" ]] ||
  die "redis-server / redis-cli not found (bench/install-bench-deps.sh installs redis-server)"
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"
R[redis.version]="$("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"

# ---- 1. Redis primary + replica ----
start_redis() {  # start_redis NAME PORT [ARGS...]
  local name="$1" port="$2" cmd
  shift 2
  mkdir -p "$WORK/redis-$name"
  cmd="$REDIS_SERVER --port $port --bind 127.0.0.1 --dir $WORK/redis-$name --save '' --appendonly no${*:+ $*}"
  R[redis.$name.cmd]="$(sed "s#$WORK#\$TMP#g" <<<"$cmd")"
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$name" --save '' \
    --appendonly no "$@" >"$WORK/redis-$name.log" 2>&1 &
  REDIS_PIDS+=($!)
}
REDIS_PRIMARY="$(free_port)"
REDIS_REPLICA="$(free_port)"
start_redis primary "$REDIS_PRIMARY"
start_redis replica "$REDIS_REPLICA" --replicaof 127.0.0.1 "$REDIS_PRIMARY"
for _ in $(seq 1 300); do
  "$REDIS_CLI" -p "$REDIS_REPLICA" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
  sleep 0.1
done
"$REDIS_CLI" -p "$REDIS_REPLICA" info replication | grep -q 'master_link_status:up' ||
  die "the Redis replica did not connect: $(tail -5 "$WORK/redis-replica.log")"
REDIS_WAIT=("$BUILD_DIR/bench/sluice_redis_wait" --port "$REDIS_PRIMARY" --connections "$CONNECTIONS"
  --duration "$DURATION" --keys "$KEYS" --value-size "$VALUE_SIZE" --replicas 1)
record "${REDIS_WAIT[@]}"
log "redis: ${REDIS_WAIT[*]}"
redis_before="$(machine_busy_ticks)"
redis="$("${REDIS_WAIT[@]}")" || die "sluice_redis_wait failed"
R[redis.cpu]="$(cores_between $(($(machine_busy_ticks) - redis_before)) "$(json_field "$redis" seconds)")"
for pid in "${REDIS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
wait "${REDIS_PIDS[@]}" 2>/dev/null || true
REDIS_PIDS=()

# ---- 2. sluice a (active) + b (replica) ----
cluster_file "$WORK/cluster.json"
start_node b "$WORK/b"
start_node a "$WORK/a"
for _ in $(seq 1 300); do
  "$SLUICE" stats replication --port "${NODE_PORT[b]}" "${AUTH[@]}" --json 2>/dev/null |
    grep -q '"eq_dcpq:replication:a->b:default:connected":"true"' && break
  sleep 0.1
done
"$SLUICE" stats replication --port "${NODE_PORT[b]}" "${AUTH[@]}" --json |
  grep -q '"eq_dcpq:replication:a->b:default:connected":"true"' || die "b's replication did not connect"
# `sluice load --durability` spells the levels as the SDKs' enums do.
case "$LEVEL" in
  majority) LOAD_LEVEL=majority ;;
  majorityAndPersistActive) LOAD_LEVEL=majority_and_persist_on_master ;;
  persistToMajority) LOAD_LEVEL=persist_to_majority ;;
  *) die "LEVEL must be majority, majorityAndPersistActive or persistToMajority" ;;
esac
LOAD=("$SLUICE" load --port "${NODE_PORT[a]}" "${AUTH[@]}" --set-ratio 1 --durability "$LOAD_LEVEL"
  --duration "$DURATION" --keys "$KEYS" --value-size "$VALUE_SIZE" --connections "$CONNECTIONS"
  --pipeline 1 --json)
record "${LOAD[@]}"
log "sluice: ${LOAD[*]}"
sluice_before="$(machine_busy_ticks)"
sluice="$("${LOAD[@]}")" || die "sluice load failed"
R[sluice.cpu]="$(cores_between $(($(machine_busy_ticks) - sluice_before)) "$(json_field "$sluice" seconds)")"
stop_node a
stop_node b

for side in redis sluice; do
  for f in ops ops_per_sec p50_us p90_us p99_us p999_us max_us errors; do
    R[$side.$f]="$(json_field "${!side}" "$f")"
  done
done
log "  -> redis p50 ${R[redis.p50_us]} p99 ${R[redis.p99_us]} us; sluice p50 ${R[sluice.p50_us]} p99 ${R[sluice.p99_us]} us"

P99_MS="$(awk -v v="${R[sluice.p99_us]}" 'BEGIN {printf "%.3f", v / 1000}')"
P99_VERDICT="$(awk -v v="${R[sluice.p99_us]}" 'BEGIN { if (v < 2000) printf "met"; else printf "**missed** (%.3f ms)", v / 1000 }')"
# Lower is better: the ratio is Redis's latency over sluice's (>= 1.0x: at least as fast).
P50_RATIO="$(ratio "${R[redis.p50_us]}" "${R[sluice.p50_us]}")"
P99_RATIO="$(ratio "${R[redis.p99_us]}" "${R[sluice.p99_us]}")"
QUICK_NOTE=""
[[ "$DURATION" = 10 ]] || QUICK_NOTE=" — reduced run (${DURATION} s)"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Durable writes: \`$LEVEL\` with one replica against Redis SET + WAIT 1 0${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); both servers of a side and the client share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR")); Redis ${R[redis.version]}"
  echo "- Load: $CONNECTIONS connection(s), one request in flight each, ${VALUE_SIZE}-byte values over $KEYS random keys, $DURATION s per side; whole-machine CPU: Redis side ${R[redis.cpu]} cores, sluice side ${R[sluice.cpu]}"
  echo "- Redis: \`${R[redis.primary.cmd]}\` and \`${R[redis.replica.cmd]}\`"
  echo "- sluice: \`${R[node.cmd]}\` (a and b; a cluster file with $VBUCKETS vbuckets, a active and b replica for each)"
  echo
  echo "| side | writes | writes/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "| Redis SET + WAIT 1 0 | ${R[redis.ops]} | ${R[redis.ops_per_sec]} | ${R[redis.p50_us]} | ${R[redis.p90_us]} | ${R[redis.p99_us]} | ${R[redis.p999_us]} | ${R[redis.max_us]} | ${R[redis.errors]} |"
  echo "| sluice SET, durability \`$LEVEL\` | ${R[sluice.ops]} | $(fmt0 "${R[sluice.ops_per_sec]}") | $(fmt1 "${R[sluice.p50_us]}") | $(fmt1 "${R[sluice.p90_us]}") | $(fmt1 "${R[sluice.p99_us]}") | $(fmt1 "${R[sluice.p999_us]}") | $(fmt1 "${R[sluice.max_us]}") | ${R[sluice.errors]} |"
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  echo "| sluice p99 | ${P99_MS} ms | < 2 ms | $P99_VERDICT |"
  echo "| Redis p50 / sluice p50 | ${P50_RATIO}x | >= 1.0x | $(verdict "$P50_RATIO" 1.0) |"
  echo "| Redis p99 / sluice p99 | ${P99_RATIO}x | >= 1.0x | $(verdict "$P99_RATIO" 1.0) |"
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  echo "${R[redis.primary.cmd]}"
  echo "${R[redis.replica.cmd]}"
  echo "${R[node.cmd]}   # and b"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
