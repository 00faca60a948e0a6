#!/usr/bin/env bash
# Rollback: how long a replica ahead of its active takes to get back in step, rolling back from
# its history against resetting and copying everything again, at several rolled-back distances;
# and what keeping the history costs the write path. (Issue 13: "measure both paths".)
#
# 1. Rollback. For each DISTANCE and each path, a fresh static two-node cluster (a active, b
#    replica for every vbucket; b with the default history_retention_bytes, or with 0 for the
#    reset path). a gets BASE distinct keys (`sluice load --populate`); b catches up; both
#    persist. a stops cleanly and its data dir is copied; a starts again and overwrites DISTANCE
#    of the keys; b catches up and persists. a is killed, its data dir replaced by the copy, and
#    started again: b is DISTANCE changes ahead of it and gets ROLLBACK on every vbucket. The
#    figure is the time from the first rollback b counts (ep_rollback_count, polled every 20 ms)
#    to b's high seqnos equal to a's: the rollbacks plus, for the reset path, the full re-copy of
#    BASE items (b's reconnect back-off before it is excluded). The history path rolls back only
#    while a vbucket's rolled-back changes are under half of its items: at half or more, kv_engine's
#    midpoint rule (midpoint_rollback_optimisation, on by default) resets instead. The default
#    distances stay under half of BASE with a margin (keys spread over the vbuckets by hash, so a
#    distance near BASE/2 would reset some vbuckets and roll back others).
# 2. Write path. One sluiced, history on (default) or off (history_retention_bytes=0): WRITE_ITEMS
#    keys loaded and persisted, then all of them overwritten (every commit writes each key's old
#    version to history): the overwrite load's seconds plus the wait until persisted, and
#    ep_commit_time_total (ms the flusher spent in commits) during it.
#
# Usage: bench/rollback.sh [BUILD_DIR]            (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   DISTANCES ["1000 10000 90000"]   BASE [200000] (>= the largest distance)   VALUE_SIZE [100]
#   VBUCKETS [64]   WRITE_ITEMS [500000]
#   QUICK=1   DISTANCES="1000 5000" BASE=20000 WRITE_ITEMS=100000 (a smoke run; RESULTS.md says so)
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=rollback
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"

QUICK_NOTE=""
if [[ "${QUICK:-0}" = 1 ]]; then
  DISTANCES="${DISTANCES:-1000 5000}"
  BASE="${BASE:-20000}"
  WRITE_ITEMS="${WRITE_ITEMS:-100000}"
  QUICK_NOTE=" (QUICK: a smoke run at small sizes)"
fi
DISTANCES="${DISTANCES:-1000 10000 90000}"
BASE="${BASE:-200000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-64}"
WRITE_ITEMS="${WRITE_ITEMS:-500000}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
declare -A R
COMMANDS=()
cleanup() {
  local pid
  for pid in "${NODE_PID[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  kill_sluiced
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
machine_info
[[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"

stat_of() {  # stat_of PORT NAME
  json_field "$("$SLUICE" stats --port "$1" "${AUTH[@]}" --json)" "$2"
}
# populate PORT KEYS: writes keys 0..KEYS-1 once; dies on failed writes. Prints populate seconds.
populate() {
  local load out
  load=("$SLUICE" load --port "$1" "${AUTH[@]}" --keys "$2" --value-size "$VALUE_SIZE"
    --populate --set-ratio 1 --ops 1 --connections 4 --pipeline 32 --json)
  record "${load[@]}"
  out="$("${load[@]}")" || die "sluice load failed"
  [[ "$(json_field "$out" populate_errors)" = 0 ]] || die "failed writes: $out"
  json_field "$out" populate_seconds
}
wait_until() {  # wait_until SECONDS CMD...: polls CMD every 20 ms
  local deadline
  deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.02
  done
}
in_step() { [[ "$(seqno_sum b)" = "$(seqno_sum a)" ]]; }
persisted() { [[ "$(stat_of "${NODE_PORT[$1]}" ep_queue_size)" = 0 ]]; }
rolled_back() { [[ "$(stat_of "${NODE_PORT[b]}" ep_rollback_count)" != "$1" ]]; }

# rollback_run PATH DISTANCE: sets R[PATH.DISTANCE.*].
rollback_run() {
  local path="$1" distance="$2" key="$1.$2" before start
  rm -rf "$WORK/a" "$WORK/b" "$WORK/a.copy"
  cluster_file "$WORK/cluster.json"
  NODE_ARGS[a]=""
  NODE_ARGS[b]=""
  [[ "$path" = reset ]] && NODE_ARGS[b]="--set history_retention_bytes=0"
  start_node a "$WORK/a"
  start_node b "$WORK/b"
  R[$path.node_b_cmd]="${R[node.cmd]}"
  populate "${NODE_PORT[a]}" "$BASE" >/dev/null
  wait_until 600 in_step || die "b did not catch up with the base load"
  wait_until 600 persisted a && wait_until 600 persisted b || die "not persisted"
  stop_node a
  cp -a "$WORK/a" "$WORK/a.copy"
  start_node a "$WORK/a"
  populate "${NODE_PORT[a]}" "$distance" >/dev/null
  wait_until 600 in_step || die "b did not catch up with the overwrites"
  wait_until 600 persisted b || die "b did not persist"
  kill -KILL "${NODE_PID[a]}"
  wait "${NODE_PID[a]}" 2>/dev/null || true
  rm -rf "$WORK/a"
  mv "$WORK/a.copy" "$WORK/a"
  before="$(stat_of "${NODE_PORT[b]}" ep_rollback_count)"
  start_node a "$WORK/a"
  wait_until 600 rolled_back "$before" || die "b never rolled back"
  start="$(now)"
  wait_until 900 in_step || die "b did not get back in step with a"
  R[$key.seconds]="$(since "$start")"
  R[$key.rollbacks]=$(($(stat_of "${NODE_PORT[b]}" ep_rollback_count) - before))
  R[$key.resets]="$(stat_of "${NODE_PORT[b]}" ep_rollback_resets)"
  R[$key.items]="$(stat_of "${NODE_PORT[b]}" rollback_item_count)"
  R[$key.history]="$(stat_of "${NODE_PORT[b]}" ep_history_disk_size)"
  log "$path, distance $distance: ${R[$key.seconds]} s (${R[$key.rollbacks]} rollbacks, ${R[$key.resets]} resets, ${R[$key.items]} items undone)"
  stop_node a
  stop_node b
}

# write_run PATH: sets R[write.PATH.*].
write_run() {
  local path="$1" args=() commit_before start
  [[ "$path" = off ]] && args=(--set history_retention_bytes=0)
  rm -rf "$WORK/single"
  start_sluiced "$WORK/single" --vbuckets "$VBUCKETS" "${args[@]}"
  record "$SERVER_CMD"
  populate "$PORT" "$WRITE_ITEMS" >/dev/null
  wait_persisted >/dev/null
  commit_before="$(stat_of "$PORT" ep_commit_time_total)"
  start="$(now)"
  R[write.$path.load]="$(fmt2 "$(populate "$PORT" "$WRITE_ITEMS")")"
  R[write.$path.persist]="$(wait_persisted)"
  R[write.$path.seconds]="$(since "$start")"
  R[write.$path.commit_ms]=$(($(stat_of "$PORT" ep_commit_time_total) - commit_before))
  R[write.$path.history]="$(stat_of "$PORT" ep_history_disk_size)"
  R[write.$path.rate]="$(fmt0 "$(awk -v n="$WRITE_ITEMS" -v s="${R[write.$path.seconds]}" 'BEGIN {print n / s}')")"
  log "write path, history $path: ${R[write.$path.seconds]} s, commits ${R[write.$path.commit_ms]} ms"
  stop_sluiced "write.$path"
}

for distance in $DISTANCES; do
  ((distance <= BASE)) || die "DISTANCE $distance > BASE $BASE"
  for path in history reset; do rollback_run "$path" "$distance"; done
done
for path in on off; do write_run "$path"; done
R[write.ratio]="$(ratio "${R[write.on.rate]}" "${R[write.off.rate]}")"
R[write.commit_ratio]="$(ratio "${R[write.on.commit_ms]}" "${R[write.off.commit_ms]}")"

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Rollback: history against reset at $(echo "$DISTANCES" | tr ' ' ',') rolled-back changes; the history's write-path cost${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); both nodes and the loader share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR"))"
  echo "- Cluster: two sluiced on loopback, $VBUCKETS vbuckets, a active and b replica for each; b: \`${R[history.node_b_cmd]}\` (history path), \`${R[reset.node_b_cmd]}\` (reset path)"
  echo "- Each run: $BASE distinct keys x ${VALUE_SIZE} bytes on a, replicated and persisted; a stopped and its data copied; DISTANCE of the keys overwritten on a, replicated and persisted on b; a killed and restarted on the copy, so b is DISTANCE changes ahead on the same failover branch and is answered ROLLBACK on every vbucket"
  echo "- Time: from the first rollback b counts (20 ms polls of ep_rollback_count) to b's high seqnos equal to a's"
  echo
  echo "| rolled-back changes | history: seconds | rollbacks | items undone | reset: seconds (reset + re-copy of $BASE) | resets | reset / history |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  for distance in $DISTANCES; do
    echo "| $distance | ${R[history.$distance.seconds]} | ${R[history.$distance.rollbacks]} | ${R[history.$distance.items]} | ${R[reset.$distance.seconds]} | ${R[reset.$distance.resets]} | $(ratio "${R[reset.$distance.seconds]}" "${R[history.$distance.seconds]}")x |"
  done
  echo
  echo "History resets (ep_rollback_resets on the history path): $(for d in $DISTANCES; do printf '%s ' "${R[history.$d.resets]}"; done)(0 expected below half of $BASE; from about half on, kv_engine's midpoint rule resets)."
  echo
  echo "| write path: $WRITE_ITEMS keys overwritten and persisted | load s | then persisted s | items/s | flusher commit ms | history bytes after |"
  echo "|---|---:|---:|---:|---:|---:|"
  for path in on off; do
    echo "| history $path | ${R[write.$path.load]} | ${R[write.$path.persist]} | ${R[write.$path.rate]} | ${R[write.$path.commit_ms]} | ${R[write.$path.history]} |"
  done
  echo
  echo "Write path with history / without: ${R[write.ratio]}x items/s, ${R[write.commit_ratio]}x flusher commit time."
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  printf '%s\n' "${COMMANDS[@]}" | sort -u
  echo '```'
} >"$REPORT"
append_report "$REPORT"
