#!/usr/bin/env bash
# A local cluster for trying sluice out (`make cluster`): etcd and NODES sluiced nodes on loopback,
# data under ./cluster-data (kept between runs: a second run restarts the same cluster). The first
# run forms it with `sluice cluster init`. Prints how to connect; Ctrl-C stops everything.
#
# Usage: scripts/local-cluster.sh [BUILD_DIR]        (default: build)
# Environment (defaults in brackets): NODES [3]  REPLICAS [1]  VBUCKETS [64]
#   BASE_PORT [12000]: node i listens on BASE_PORT+i, its console on BASE_PORT+100+i; etcd on
#   BASE_PORT+379 (clients) and BASE_PORT+380 (peers).   CLUSTER_DATA [./cluster-data]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
NODES="${NODES:-3}"
REPLICAS="${REPLICAS:-1}"
VBUCKETS="${VBUCKETS:-64}"
BASE_PORT="${BASE_PORT:-12000}"
DATA="${CLUSTER_DATA:-$ROOT/cluster-data}"
CLUSTER=local
USERS="$ROOT/etc/dev-users.json"
AUTH=(--user Administrator --password password)
ETCD_URL="http://127.0.0.1:$((BASE_PORT + 379))"
ETCD_PEER="http://127.0.0.1:$((BASE_PORT + 380))"

die() { echo "local-cluster: $*" >&2; exit 1; }
command -v etcd >/dev/null || die "etcd is missing (Debian: etcd-server; make deps installs it)"
[[ -x "$BUILD_DIR/sluiced" && -x "$BUILD_DIR/sluice" ]] || die "no binaries in $BUILD_DIR (make binaries)"
ports=($((BASE_PORT + 379)) $((BASE_PORT + 380)))
for ((i = 0; i < NODES; i++)); do ports+=($((BASE_PORT + i)) $((BASE_PORT + 100 + i))); done
for p in "${ports[@]}"; do
  ! ss -Htln "sport = :$p" | grep -q . || die "port $p is taken (set BASE_PORT)"
done

mkdir -p "$DATA"
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping ${#PIDS[@]} processes"
  # The nodes first (each revokes its lease), then etcd.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all INT TERM EXIT

etcd --name sluice-local --data-dir "$DATA/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "$ETCD_PEER" --initial-advertise-peer-urls "$ETCD_PEER" \
  --initial-cluster "sluice-local=$ETCD_PEER" >"$DATA/etcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  curl -fsS "$ETCD_URL/health" 2>/dev/null | grep -q '"true"' && break
  sleep 0.05
done
curl -fsS "$ETCD_URL/health" 2>/dev/null | grep -q '"true"' || die "etcd did not start: $DATA/etcd.log"

ids=()
for ((i = 0; i < NODES; i++)); do
  id="n$((i + 1))"
  ids+=("$id")
  "$BUILD_DIR/sluiced" --etcd "$ETCD_URL" --cluster "$CLUSTER" --node-id "$id" \
    --port $((BASE_PORT + i)) --metrics-port $((BASE_PORT + 100 + i)) \
    --data-dir "$DATA/$id" --users "$USERS" --vbuckets "$VBUCKETS" \
    --set replication_user=Administrator >"$DATA/$id.out" 2>"$DATA/$id.log" &
  PIDS+=($!)
done
for ((i = 0; i < NODES; i++)); do
  for _ in $(seq 1 600); do
    grep -q '^sluiced listening on ' "$DATA/${ids[i]}.out" 2>/dev/null && break
    kill -0 "${PIDS[i + 1]}" 2>/dev/null || die "${ids[i]} exited: $(tail -5 "$DATA/${ids[i]}.log")"
    sleep 0.05
  done
done

FLAGS=(--etcd "$ETCD_URL" --cluster "$CLUSTER")
if "$BUILD_DIR/sluice" cluster status --json "${FLAGS[@]}" 2>/dev/null | grep -Eq '"map_rev": ?[0-9]'; then
  echo "the cluster exists in $DATA: restarted it"
else
  nodes="$(IFS=,; echo "${ids[*]}")"
  "$BUILD_DIR/sluice" cluster init --nodes "$nodes" --replicas "$REPLICAS" --vbuckets "$VBUCKETS" \
    "${FLAGS[@]}" ||
    die "sluice cluster init failed"
fi

hosts=""
for ((i = 0; i < NODES; i++)); do hosts+="${hosts:+,}127.0.0.1:$((BASE_PORT + i))"; done
cat <<EOF

sluice cluster '$CLUSTER': $NODES nodes, $REPLICAS replica(s), $VBUCKETS vbuckets; data in $DATA
  etcd             $ETCD_URL
  SDK              couchbase://$hosts   (user Administrator, password password, bucket default)
  CLI              $BUILD_DIR/sluice set KEY VALUE --port $BASE_PORT ${AUTH[*]}
  status           $BUILD_DIR/sluice cluster status ${FLAGS[*]}
  console          http://127.0.0.1:$((BASE_PORT + 100))/console
  logs             $DATA/<node>.log, $DATA/etcd.log
Ctrl-C stops everything.
EOF
wait -n "${PIDS[@]}" || true
echo "a process exited; see the logs in $DATA" >&2
