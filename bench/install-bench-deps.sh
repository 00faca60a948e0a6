#!/usr/bin/env bash
# Installs the Debian packages only the benchmarks use (not needed by `make build` / `make test`):
#   gnuplot-nox  the PNG plot of bench/scaling.sh (without it the script reports a table only)
#   linux-perf   PROFILE=1 of bench/drain_vs_scan.sh and bench/profile_sluiced.sh
#   memcached    the other side of bench/kv_throughput.sh
#   redis-server the other side of bench/durable_latency.sh (a primary and a replica, WAIT) and of
#                bench/failover.sh (Redis Cluster)
# Idempotent: only missing packages are installed (apt-get as root or via sudo). bench/run-all.sh
# runs it first; a failure to install is reported and the benchmarks run without the extras.
set -euo pipefail

PACKAGES=(gnuplot-nox linux-perf memcached redis-server)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing (benchmarks only): ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
