#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (build-fuzz: SLUICE_FUZZ=ON, ASan+UBSan) for a
# bounded time each, starting from the committed seeds in fuzz/corpus/<name>/.
#
#   scripts/fuzz.sh [--build DIR] [--seconds N] [--jobs N] [--crash-dir DIR] [--keep]
#                   [TARGET...]          (default: every *_fuzzer in DIR/fuzz)
#
# `make test` runs it with --seconds 20 as a smoke test; `make fuzz` with --seconds 600 --keep.
# New inputs a run discovers go to a temporary directory, never into fuzz/corpus (which stays the
# reviewed, committed seed set); with --keep it is left in place and printed, to merge by hand:
#   build-fuzz/fuzz/frame_fuzzer -merge=1 fuzz/corpus/frame <that dir>/frame_fuzzer
# A crash, leak, timeout or out-of-memory input is written to CRASH_DIR (default fuzz/crashes/)
# as <target>-crash-<sha1> (or -leak-, -timeout-, -oom-); the target's log is printed and the
# script fails. Reproduce: build-fuzz/fuzz/<target> <file>. Once fixed, copy the file into
# fuzz/corpus/<name>/ so every later run replays it (a regression input).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-fuzz
SECONDS_PER_TARGET=20
JOBS="$(nproc)"
CRASH_DIR=fuzz/crashes
KEEP=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --crash-dir) CRASH_DIR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
if [ ${#TARGETS[@]} -eq 0 ]; then
  for bin in "$BUILD"/fuzz/*_fuzzer; do
    [ -x "$bin" ] && TARGETS+=("$(basename "$bin")")
  done
fi
if [ ${#TARGETS[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in $BUILD/fuzz (build them: make test-fuzz or make fuzz)" >&2
  exit 2
fi

mkdir -p "$CRASH_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() {
  local target="$1"
  local name="${target%_fuzzer}"
  local seeds="fuzz/corpus/$name"
  local grown="$WORK/$target"
  mkdir -p "$grown" "$seeds"
  # -timeout: one input may take this long (SCRAM runs PBKDF2); -rss_limit_mb: per process.
  "$BUILD/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$CRASH_DIR/$target-" "$grown" "$seeds" \
    >"$WORK/$target.log" 2>&1
}

echo "fuzzing ${TARGETS[*]} for ${SECONDS_PER_TARGET}s each, $JOBS at a time (work dir $WORK)"
declare -A PIDS=()
failed=()
wait_one() {
  local done_pid target status
  wait -n -p done_pid && status=0 || status=$?
  target="${PIDS[$done_pid]}"
  unset "PIDS[$done_pid]"
  local execs cov
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$target.log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$WORK/$target.log" | tail -1)"
  if [ "$status" -eq 0 ]; then
    printf '  %-16s ok      %10s runs  %s\n' "$target" "${execs:-?}" "${cov:-}"
  else
    printf '  %-16s FAILED  (exit %d)\n' "$target" "$status"
    failed+=("$target")
  fi
}
for target in "${TARGETS[@]}"; do
  while [ ${#PIDS[@]} -ge "$JOBS" ]; do wait_one; done
  run_one "$target" &
  PIDS[$!]="$target"
done
while [ ${#PIDS[@]} -gt 0 ]; do wait_one; done

if [ ${#failed[@]} -gt 0 ]; then
  for target in "${failed[@]}"; do
    echo
    echo "==== $target log (last 80 lines; full log $WORK/$target.log) ===="
    tail -n 80 "$WORK/$target.log"
  done
  echo
  echo "fuzz.sh: ${failed[*]} failed; crash inputs in $CRASH_DIR (see the log for the file)" >&2
  exit 1
fi
if [ "$KEEP" -eq 1 ]; then
  echo "new inputs kept in $WORK/<target>/ (merge into fuzz/corpus with -merge=1, see --help)"
else
  rm -rf "$WORK"
fi
