# shellcheck shell=bash
# Helpers shared by the benchmark scripts in bench/ (sourced, not run). The caller sets BENCH (its
# name, for messages), ROOT, BUILD_DIR and WORK (a temporary directory it removes), and
# `declare -A R` for recorded figures.
#
#   start_sluiced DATA_DIR [ARGS...]   start sluiced on a free port (--port 0) with DATA_DIR kept as
#                                      is (fresh or existing); sets SERVER_PID, PORT, AUTH, SERVER_CMD
#   stop_sluiced NAME                  SIGTERM, wait up to 120 s (records R[NAME.stop])
#   wait_persisted                     until ep_queue_size is 0 (at most PERSIST_TIMEOUT s, default
#                                      900); prints the seconds waited
#   json_field JSON NAME               a top-level scalar of a flat one-line JSON object
#   cpu_ticks PID / machine_busy_ticks CPU time used so far (ticks of CLK_TCK)
#   thread_ticks PID / thread_cpu      per-thread CPU snapshots and their difference
#   vm_kib PID FIELD                   a /proc/PID/status figure in KiB (VmRSS, VmHWM)
#   machine_info                       sets CPU_MODEL, RAM_GB, COMMIT, BUILD_TYPE, LOADAVG
#   ratio A B / verdict RATIO TARGET / fmt0 / fmt1 / fmt2
#   append_report FILE                 print FILE and append it to $RESULTS (unless /dev/null)

die() { echo "$BENCH: $*" >&2; exit 1; }
log() { echo "$BENCH: $*" >&2; }

json_field() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" <<<"$1" | tr -d '"'; }

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
vm_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# thread_ticks PID: one line per thread, "TID COMM TICKS" (user + system).
thread_ticks() {
  local task
  for task in /proc/"$1"/task/*; do
    awk -v tid="${task##*/}" -v comm="$(cat "$task/comm" 2>/dev/null)" \
      '{sub(/^.*\) /, ""); print tid, comm, $12 + $13}' "$task/stat" 2>/dev/null || true
  done
}
# thread_cpu BEFORE AFTER SECONDS ITEMS: the threads that used CPU between two thread_ticks
# snapshots, busiest first: "comm (tid): CPU s, share of the wall time, µs per item".
thread_cpu() {
  awk -v hz="$CLK_TCK" -v s="$3" -v n="$4" '
    NR == FNR { before[$1] = $3; next }
    { d = $3 - before[$1]; if (d > 0) printf "%d %s %d\n", d, $2, $1 }' "$1" "$2" |
    sort -rn | awk -v hz="$CLK_TCK" -v s="$3" -v n="$4" '
      { cpu = $1 / hz; printf "%s (tid %s): %.2f CPU s, busy %.0f%% of the drain, %.3f µs/item\n", $2, $3, cpu, 100 * cpu / s, (n > 0 ? cpu * 1e6 / n : 0) }'
}

now() { date +%s.%N; }
since() { awk -v s="$1" -v n="$(now)" 'BEGIN {printf "%.2f", n - s}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() {  # verdict RATIO TARGET (higher is better)
  awk -v r="$1" -v t="$2" 'BEGIN {
    if (r >= t) printf "met"; else printf "**missed** by %.0f%% (%.2fx of %.2fx)", (t - r) / t * 100, r, t }'
}
fmt0() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
fmt1() { awk -v v="$1" 'BEGIN {printf "%.1f", v}'; }
fmt2() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }

SERVER_PID=""
start_sluiced() {  # start_sluiced DATA_DIR [ARGS...]
  local data_dir="$1"
  shift
  echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
  SERVER_CMD="$BUILD_DIR/sluiced --port 0 --data-dir $data_dir --users $WORK/users.json $*"
  : >"$WORK/sluiced.out"
  $SERVER_CMD >"$WORK/sluiced.out" 2>>"$WORK/sluiced.err" &
  SERVER_PID=$!
  for _ in $(seq 1 3000); do
    if grep -q '^sluiced listening on ' "$WORK/sluiced.out" 2>/dev/null; then
      PORT="$(sed -n 's/^sluiced listening on .*:\([0-9]*\)$/\1/p' "$WORK/sluiced.out")"
      AUTH=(--user bench --password bench)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$WORK/sluiced.err" >&2
  die "sluiced did not start"
}

stop_sluiced() {  # stop_sluiced NAME
  local start
  start="$(now)"
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 1200); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    R[$1.stop]="did not exit within 120 s of SIGTERM (killed)"
    log "  sluiced did not exit within 120 s of SIGTERM: killed"
  else
    R[$1.stop]="exited $(since "$start") s after SIGTERM"
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

kill_sluiced() {  # for EXIT traps: an interrupted run needs no clean stop
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

wait_persisted() {
  local start queue
  start="$(now)"
  while true; do
    queue="$(json_field "$("$BUILD_DIR/sluice" stats --port "$PORT" "${AUTH[@]}" --json)" ep_queue_size)"
    [[ "$queue" = 0 ]] && break
    awk -v s="$start" -v n="$(now)" -v t="${PERSIST_TIMEOUT:-900}" 'BEGIN {exit !(n - s < t)}' ||
      die "sluiced did not persist its queue within ${PERSIST_TIMEOUT:-900} s (PERSIST_TIMEOUT)"
    sleep 0.2
  done
  since "$start"
}

machine_info() {
  CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  RAM_GB="$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
  COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    COMMIT="$COMMIT (with uncommitted changes)"
  fi
  BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
  LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
}

append_report() {
  cat "$1"
  if [[ "$RESULTS" != /dev/null ]]; then
    if [[ ! -s "$RESULTS" ]]; then
      printf '# Benchmark results\n\n# History\n\nAppended by the scripts in bench/ (see bench/run-all.sh); newest last.\n' >"$RESULTS"
    fi
    cat "$1" >>"$RESULTS"
    log "appended to $RESULTS"
  fi
}

# ---- Helpers of the drain benchmarks (many_consumers.sh, early_termination.sh, scaling.sh) ----
#
#   record CMD...                      remember a command for the report ($WORK -> $TMP)
#   load_items ITEMS VALUE_SIZE        `sluice load --populate` of ITEMS distinct keys into the
#                                      running sluiced, then wait until persisted; sets
#                                      R[load.seconds], R[load.persist]; dies on failed writes
#   rss_watch_start / rss_watch_stop   reset the server's VmHWM (clear_refs) and sample VmRSS
#                                      every 50 ms; stop sets R[rss.peak] (KiB: VmHWM when the
#                                      reset worked, else the sampled maximum) and R[rss.how]
#   mib KIB                            KiB -> MiB, rounded
#   cores_between TICKS SECONDS        CPU ticks -> cores used on average
record() { COMMANDS+=("$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$*")"); }

load_items() {  # load_items ITEMS VALUE_SIZE
  local load out
  load=("$BUILD_DIR/sluice" load --port "$PORT" "${AUTH[@]}" --keys "$1" --value-size "$2"
    --populate --set-ratio 1 --ops 1 --connections "${LOAD_CONNECTIONS:-4}"
    --pipeline "${LOAD_PIPELINE:-32}" --json)
  record "${load[@]}"
  log "loading $1 items: ${load[*]}"
  out="$("${load[@]}")" || die "sluice load failed"
  R[load.seconds]="$(json_field "$out" populate_seconds)"
  [[ "$(json_field "$out" populate_errors)" = 0 ]] ||
    die "the load had $(json_field "$out" populate_errors) failed writes (quota too small? MAX_SIZE)"
  R[load.persist]="$(wait_persisted)"
  log "  loaded in ${R[load.seconds]} s, persisted ${R[load.persist]} s later"
}

RSS_SAMPLER_PID=""
rss_watch_start() {
  if echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null; then R[rss.hwm_reset]=1; else R[rss.hwm_reset]=0; fi
  (while kill -0 "$SERVER_PID" 2>/dev/null; do vm_kib "$SERVER_PID" VmRSS; sleep 0.05; done) \
    >"$WORK/rss.samples" &
  RSS_SAMPLER_PID=$!
}
rss_watch_stop() {
  local sampled hwm
  [[ -z "$RSS_SAMPLER_PID" ]] || { kill "$RSS_SAMPLER_PID" 2>/dev/null || true; wait "$RSS_SAMPLER_PID" 2>/dev/null || true; }
  RSS_SAMPLER_PID=""
  sampled="$(sort -n "$WORK/rss.samples" | tail -1)"
  hwm="$(vm_kib "$SERVER_PID" VmHWM)"
  if [[ "${R[rss.hwm_reset]}" = 1 ]]; then
    R[rss.peak]="$hwm"
    R[rss.how]="VmHWM reset before the phase; 50 ms samples peaked at $(mib "${sampled:-0}") MiB"
  else
    R[rss.peak]="${sampled:-0}"
    R[rss.how]="50 ms VmRSS samples (VmHWM could not be reset)"
  fi
}
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
cores_between() { awk -v t="$1" -v hz="$CLK_TCK" -v s="$2" 'BEGIN {printf "%.2f", (s > 0 ? t / hz / s : 0)}'; }

# ---- Helpers of the cluster benchmarks (replication.sh, durable_latency.sh) ----
#
#   free_port                          a loopback port nothing listens on
#   cluster_file FILE                  a static cluster file of nodes a and b ($VBUCKETS vbuckets,
#                                      a active and b replica for each); sets NODE_PORT[a|b]
#   start_node ID DATA_DIR             sluiced as node ID of $WORK/cluster.json (logging in to its
#                                      peer as the bench user; extra arguments from NODE_ARGS[ID]);
#                                      waits until it listens; NODE_PID[ID]
#   stop_node ID                       SIGTERM, wait
#   seqno_sum ID                       the sum of node ID's high seqnos (every vbucket it holds)
declare -A NODE_PID NODE_PORT NODE_ARGS
# A loopback port nothing listens on (the cluster file names each node's port up front).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

# cluster_file FILE: nodes a and b; a active and b replica for every vbucket.
cluster_file() {
  NODE_PORT[a]="$(free_port)"
  NODE_PORT[b]="$(free_port)"
  {
    printf '{"nodes":[{"id":"a","host":"127.0.0.1","port":%s},' "${NODE_PORT[a]}"
    printf '{"id":"b","host":"127.0.0.1","port":%s}],"num_replicas":1,"vbucket_map":[' "${NODE_PORT[b]}"
    for ((vb = 0; vb < VBUCKETS; vb++)); do
      ((vb == 0)) || printf ','
      printf '["a","b"]'
    done
    printf ']}\n'
  } >"$1"
}

# start_node ID DATA_DIR: sluiced as node ID of $WORK/cluster.json; waits until it listens.
start_node() {
  local id="$1" out="$WORK/$1.out" cmd
  [[ -f "$WORK/users.json" ]] || echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
  AUTH=(--user bench --password bench)
  cmd="$BUILD_DIR/sluiced --node-id $id --cluster-map $WORK/cluster.json --data-dir $2 --users $WORK/users.json --vbuckets $VBUCKETS --set replication_user=bench --log-level warn ${NODE_ARGS[$id]:-}"
  R[node.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g" <<<"$cmd")"
  : >"$out"
  $cmd >"$out" 2>>"$WORK/$id.err" &
  NODE_PID[$id]=$!
  for _ in $(seq 1 3000); do
    grep -q '^sluiced listening on ' "$out" 2>/dev/null && return 0
    kill -0 "${NODE_PID[$id]}" 2>/dev/null || break
    sleep 0.02
  done
  tail -20 "$WORK/$id.err" >&2
  die "node $id did not start"
}

stop_node() {
  kill -TERM "${NODE_PID[$1]}" 2>/dev/null || true
  wait "${NODE_PID[$1]}" 2>/dev/null || true
  unset "NODE_PID[$1]"
}

# The sum of node ID's high seqnos (every vbucket it holds).
seqno_sum() {
  "$SLUICE" vbucket-seqnos --port "${NODE_PORT[$1]}" "${AUTH[@]}" --json |
    grep -o '"high_seqno":[0-9]*' | awk -F: '{s += $2} END {print s + 0}'
}


# ---- Helpers of the etcd cluster benchmarks (failover.sh, rebalance.sh) ----
# The caller sets ETCD (the binary), CLUSTER (its name), VBUCKETS, LOG_LEVEL and ETCD_FLAGS=().
#
#   wait_for SECONDS WHAT CMD...       CMD every 0.1 s until it succeeds; dies after SECONDS
#   fixed_port                         a free loopback port below the ephemeral range
#   start_etcd                         etcd on fixed ports (ETCD_PID, ETCD_URL, ETCD_FLAGS)
#   start_etcd_node ID                 sluiced --etcd as node ID (NODE_PORT[ID] kept across restarts)
#   cluster_rows                       `sluice cluster status` rows: "id status alive actives replicas"

# wait_for SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds; dies after SECONDS (with
# the end of the file WAIT_LOG names, if any).
wait_for() {
  local seconds="$1" what="$2" i
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  [[ -z "${WAIT_LOG:-}" ]] || tail -5 "$WAIT_LOG" >&2
  die "$what: not within $seconds s"
}

# fixed_port: a free loopback port below the ephemeral range (32768-60999 by default). A killed
# node restarts on its port, and meanwhile its peers keep connecting to it: with the port in the
# ephemeral range, one of those connects can be given the port itself as its source and connect to
# itself (TCP simultaneous open on loopback), holding the port so the restart cannot listen.
fixed_port() {
  local port
  while true; do
    port=$((22000 + RANDOM % 10000))
    ss -Htan "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

start_etcd() {
  local client peer
  client="$(fixed_port)"
  peer="$(fixed_port)"
  ETCD_URL="http://127.0.0.1:$client"
  R[etcd.cmd]="$ETCD --name bench --data-dir \$TMP/etcd --listen-client-urls $ETCD_URL --advertise-client-urls $ETCD_URL --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer --initial-cluster bench=http://127.0.0.1:$peer --heartbeat-interval 10 --election-timeout 100"
  "$ETCD" --name bench --data-dir "$WORK/etcd" --listen-client-urls "$ETCD_URL" \
    --advertise-client-urls "$ETCD_URL" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bench=http://127.0.0.1:$peer" --heartbeat-interval 10 \
    --election-timeout 100 >"$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!
  wait_for 30 "etcd health" curl -fs "$ETCD_URL/health" -o /dev/null
  ETCD_FLAGS=(--etcd "$ETCD_URL" --cluster "$CLUSTER")
}

# start_etcd_node ID: sluiced as node ID on NODE_PORT[ID] (kept across restarts), data in $WORK/ID.
start_etcd_node() {
  local id="$1" cmd
  [[ -n "${NODE_PORT[$id]:-}" ]] || NODE_PORT[$id]="$(fixed_port)"
  cmd="$BUILD_DIR/sluiced --etcd $ETCD_URL --cluster $CLUSTER --node-id $id --node-ttl ${NODE_TTL:-1} --port ${NODE_PORT[$id]} --data-dir $WORK/$id --users $WORK/users.json --vbuckets $VBUCKETS --set replication_user=bench --log-level $LOG_LEVEL"
  R[node.cmd]="$(sed "s#$WORK#\$TMP#g; s#$BUILD_DIR/##g; s#--port [0-9]*#--port PORT#; s#$ETCD_URL#ETCD_URL#; s#$id#ID#g" <<<"$cmd")"
  : >"$WORK/$id.out"
  $cmd >"$WORK/$id.out" 2>>"$WORK/$id.err" &
  NODE_PID[$id]=$!
  WAIT_LOG="$WORK/$id.err" wait_for 60 "node $id listening" grep -q '^sluiced listening on ' "$WORK/$id.out"
}

# Node rows of `sluice cluster status`: "id status alive actives replicas".
cluster_rows() {
  "$SLUICE" cluster status "${ETCD_FLAGS[@]}" 2>/dev/null |
    awk '$2 ~ /:[0-9]+$/ {st = $3; i = 4; if ($4 == "(auto)") {st = st "(auto)"; i = 5}; print $1, st, $i, $(i + 1), $(i + 2)}'
}

# cluster_bench_preamble: the cluster benchmarks' checks (Redis and etcd present), machine_info,
# a Debug-build warning, and R[redis.version] / R[etcd.version]. Needs REDIS_SERVER, REDIS_CLI,
# ETCD, BUILD_TYPE and BUILD_DIR set, and the associative array R declared.
cluster_bench_preamble() {
  [[ -x "$REDIS_SERVER" && -x "$REDIS_CLI" ]] ||
    die "redis-server / redis-cli not found (bench/install-bench-deps.sh installs redis-server)"
  [[ -x "$ETCD" ]] || die "etcd not found (Debian: etcd-server; make deps installs it)"
  machine_info
  [[ "$BUILD_TYPE" != Debug ]] || log "warning: $BUILD_DIR is a Debug build; figures will not be representative"
  R[redis.version]="$("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
  R[etcd.version]="$("$ETCD" --version | sed -n 's/^etcd Version: //p')"
}
