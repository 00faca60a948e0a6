#!/usr/bin/env bash
# Runs every benchmark in bench/ in turn; each appends its dated figures to bench/RESULTS.md.
# Not part of `make test` (several minutes, and the figures need a quiet machine).
#
# Usage: bench/run-all.sh [BUILD_DIR]   (default: build, which should be a RelWithDebInfo build)
# Each script's own knobs pass through the environment (e.g. QUICK=1 for a short smoke run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"

BENCHMARKS=(
  kv_throughput.sh  # 1. pipelined GET/SET vs memcached (issue 5, benchmark 1)
  drain_vs_scan.sh  # 2. backfill: drain after restart vs raw RocksDB scan, vs loopback bandwidth
  live_latency.sh   # 3. write -> sluice tail receipt latency at 20k writes/s
  many_consumers.sh     # 4. 8 concurrent drains: aggregate items/s, peak RSS within the buffers
  early_termination.sh  # 5. consumers disconnecting mid-backfill: time to no running backfills
  scaling.sh            # 6. drain items/s, CPU and RSS per item at growing data sizes (plot)
  replication.sh        # 7. replica lag under SET load; catch-up of an empty replica vs the drain
  durable_latency.sh    # 8. majority durable write latency with one replica vs Redis SET + WAIT 1 0
  rollback.sh           # 9. a replica's rollback from history vs reset + re-copy; history write cost
  fixed_cost.sh         # 10. RSS of an empty 1024-vbucket bucket after one write to each vs memcached
  many_clients.sh       # 11. GET/SET from 200 connections, one request in flight each, vs memcached
  disk_reads.sh         # 12. GETs of a value-evicted dataset 3x the quota vs plain RocksDB lookups
  failover.sh           # 13. SIGKILL of a node holding actives: kill -> first write, vs Redis Cluster
  rebalance.sh          # 14. a third node rebalanced in and out under a writer: items/s vs drain, Redis
)
# ONLY="drain_vs_scan.sh scaling.sh" runs a subset.
[[ -z "${ONLY:-}" ]] || read -r -a BENCHMARKS <<<"$ONLY"

"$ROOT/bench/install-bench-deps.sh" ||
  echo "bench-only packages could not be installed: no plot, no perf profile" >&2

failed=0
for bench in "${BENCHMARKS[@]}"; do
  echo "== bench/$bench" >&2
  if ! "$ROOT/bench/$bench" "$BUILD_DIR"; then
    echo "== bench/$bench FAILED" >&2
    failed=1
  fi
done
exit "$failed"
