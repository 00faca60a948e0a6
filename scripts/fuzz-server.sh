#!/usr/bin/env bash
# Live-server fuzzing: starts sluiced (by default the ASan+UBSan build) on a free port with a
# fresh data directory, lets fuzz/server_fuzz throw mutated frames at it over TCP from several
# connections for a bounded time, checks a fresh client is still served, then stops the server
# with SIGTERM. Fails when server_fuzz fails, the server dies or does not exit 0, or the server
# (or the client) wrote any sanitizer report.
#
#   scripts/fuzz-server.sh [--sluiced BIN] [--client BIN] [--seconds N] [--connections N]
#                          [--seed N] [--corpus DIR] [--crash-dir DIR]
#
# `make test` runs it for 30 s, `make fuzz` for 10 minutes. On failure the server's log and the
# last batches every connection sent are left in CRASH_DIR (default fuzz/crashes/server-*).
set -euo pipefail
cd "$(dirname "$0")/.."
SLUICED=build-asan/sluiced
CLIENT=build-fuzz/fuzz/server_fuzz
SECONDS_TO_RUN=30
CONNECTIONS=8
SEED=0
CORPUS=fuzz/corpus/frame
CRASH_DIR=fuzz/crashes
while [ $# -gt 0 ]; do
  case "$1" in
    --sluiced) SLUICED="$2"; shift 2 ;;
    --client) CLIENT="$2"; shift 2 ;;
    --seconds) SECONDS_TO_RUN="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --corpus) CORPUS="$2"; shift 2 ;;
    --crash-dir) CRASH_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "fuzz-server.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for bin in "$SLUICED" "$CLIENT"; do
  [ -x "$bin" ] || { echo "fuzz-server.sh: $bin not built" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-server.XXXXXX")"
mkdir -p "$WORK/reports" "$WORK/data"
cat >"$WORK/users.json" <<'USERS'
{"users": [{"name": "admin", "password": "password"}]}
USERS
export ASAN_OPTIONS="log_path=$WORK/reports/report:detect_leaks=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$WORK/reports/report:print_stacktrace=1:halt_on_error=1"

SERVER_PID=""
failed=0
fail() {
  echo "fuzz-server.sh: $*" >&2
  failed=1
}
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; fi
}
trap cleanup EXIT

"$SLUICED" --port 0 --data-dir "$WORK/data" --users "$WORK/users.json" \
  --memory-quota 256M --log-level warn >"$WORK/stdout" 2>"$WORK/sluiced.log" &
SERVER_PID=$!

# Wait for "sluiced listening on HOST:PORT" (at most two minutes: ASan start-up is slow).
PORT=""
for _ in $(seq 1 1200); do
  PORT="$(sed -n 's/^sluiced listening on .*:\([0-9][0-9]*\)$/\1/p' "$WORK/stdout")"
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  fail "sluiced did not start"
  kill -KILL "$SERVER_PID" 2>/dev/null || true
else
  echo "sluiced ($SLUICED) pid $SERVER_PID on port $PORT; fuzzing for ${SECONDS_TO_RUN}s"
  "$CLIENT" --port "$PORT" --corpus "$CORPUS" --seconds "$SECONDS_TO_RUN" \
    --connections "$CONNECTIONS" --seed "$SEED" --crash-dir "$CRASH_DIR" ||
    fail "server_fuzz failed"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    fail "sluiced died"
  else
    kill -TERM "$SERVER_PID"
  fi
fi
# Reap the server; a clean stop exits 0 (an ASan/UBSan error or a leak would not).
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
[ "$status" -eq 0 ] || fail "sluiced exited with status $status"

shopt -s nullglob
reports=("$WORK"/reports/*)
if [ ${#reports[@]} -gt 0 ]; then
  fail "${#reports[@]} sanitizer report(s)"
  for f in "${reports[@]}"; do
    echo "---- $(basename "$f")"
    cat "$f"
  done
fi

if [ "$failed" -ne 0 ]; then
  mkdir -p "$CRASH_DIR"
  cp "$WORK/sluiced.log" "$CRASH_DIR/server-sluiced.log"
  echo "==== sluiced log (last 40 lines; full log $CRASH_DIR/server-sluiced.log) ===="
  tail -n 40 "$WORK/sluiced.log"
  rm -rf "$WORK"
  exit 1
fi
echo "fuzz-server.sh: ok ($(wc -l <"$WORK/sluiced.log") server log lines)"
rm -rf "$WORK"
