#!/usr/bin/env bash
# Fixed memory cost of a sluiced at default settings: RSS with an empty bucket of 1024 vbuckets,
# then after one write to each vbucket (every vbucket then has a checkpoint, a hash table with an
# item, and a flushed RocksDB state). memcached with the same 1024 writes is the peer.
# Target: sluiced's RSS after the writes ≤ 64 MiB.
#
#   bench/fixed_cost.sh [BUILD_DIR]      knobs: VBUCKETS (1024), RESULTS (/dev/null: not recorded)
set -euo pipefail

BENCH=fixed_cost
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
VBUCKETS="${VBUCKETS:-1024}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"
MEMCACHED="${MEMCACHED:-$(command -v memcached || true)}"
WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
declare -A R
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
MC_PID=""
cleanup() {
  kill_sluiced
  if [[ -n "$MC_PID" ]]; then
    kill -KILL "$MC_PID" 2>/dev/null || true
    wait "$MC_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$BUILD_DIR/sluiced" ]] || die "no $BUILD_DIR/sluiced: build first (make build)"
[[ -n "$MEMCACHED" ]] || die "memcached not found (bench/install-bench-deps.sh)"

# One key per vbucket, by Couchbase's key→vbucket mapping (common/types.h, VBucketForKey).
python3 - "$VBUCKETS" >"$WORK/keys" <<'EOF'
import sys, zlib
n = int(sys.argv[1]); keys = {}; i = 0
while len(keys) < n:
    k = f"fixed{i}"; keys.setdefault(((zlib.crc32(k.encode()) >> 16) & 0x7fff) % n, k); i += 1
print("\n".join(keys[v] for v in range(n)))
EOF

value="$(head -c 100 /dev/zero | tr '\0' v)"
write_each() {  # write_each ARGS... : one SET per key
  while read -r key; do
    "$BUILD_DIR/sluice" set --port "$PORT" "$@" "$key" "$value" >/dev/null
  done <"$WORK/keys"
}

machine_info
start_sluiced "$WORK/data" --vbuckets "$VBUCKETS" --log-level warn
R[s.empty]="$(vm_kib "$SERVER_PID" VmRSS)"
write_each "${AUTH[@]}"
wait_persisted >/dev/null
R[s.after]="$(vm_kib "$SERVER_PID" VmRSS)"
R[s.hwm]="$(vm_kib "$SERVER_PID" VmHWM)"
R[s.mem_used]="$(json_field "$("$BUILD_DIR/sluice" stats --port "$PORT" "${AUTH[@]}" --json)" mem_used)"
stop_sluiced s

user_args=()
[[ "$(id -u)" -ne 0 ]] || user_args=(-u nobody)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
MC_CMD="$MEMCACHED -l 127.0.0.1 -p $PORT -U 0 -t 2 ${user_args[*]}"
$MC_CMD >"$WORK/memcached.log" 2>&1 &
MC_PID=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
R[m.empty]="$(vm_kib "$MC_PID" VmRSS)"
write_each --no-auth --vbucket 0
R[m.after]="$(vm_kib "$MC_PID" VmRSS)"

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
target_kib=$((64 * 1024))
ok=met
[[ "${R[s.after]}" -le "$target_kib" ]] || ok="NOT met"
cat >"$WORK/report.md" <<EOF

## fixed_cost — $(date -u +%Y-%m-%d) — commit $COMMIT

Machine: $CPU_MODEL, ${RAM_GB} GB; build $BUILD_TYPE; load average $LOADAVG.
Commands: \`$SERVER_CMD\` (defaults: quota, block cache, write buffers), one \`sluice set\`
of a 100-byte value to each of the $VBUCKETS vbuckets, persisted; peer \`$MC_CMD\`, same writes.

| | RSS empty | RSS after one write per vbucket | peak RSS | mem_used |
|---|---:|---:|---:|---:|
| sluiced | $(mib "${R[s.empty]}") MiB | $(mib "${R[s.after]}") MiB | $(mib "${R[s.hwm]}") MiB | ${R[s.mem_used]} B |
| memcached | $(mib "${R[m.empty]}") MiB | $(mib "${R[m.after]}") MiB | | |

Target: sluiced after the writes ≤ 64 MiB: **$ok**. Clean stop: ${R[s.stop]}.
EOF
append_report "$WORK/report.md"
