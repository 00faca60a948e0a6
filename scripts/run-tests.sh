#!/usr/bin/env bash
# Runs the tests of one build directory with ctest. Used by `make test*` and so by CI.
#
#   scripts/run-tests.sh [BUILD_DIR] [ctest arguments...]
#     scripts/run-tests.sh build                      every test
#     scripts/run-tests.sh build -L integration       one label (unit, integration, or a test
#                                                     binary's name: -L '^dcp_test$')
#     scripts/run-tests.sh build-asan -R KvCommands   tests whose name matches
#
# Sanitizer builds (SLUICE_SANITIZE in BUILD_DIR's CMake cache) get their runtime options here:
# every process of the run (test binaries and the sluiced they start) writes its sanitizer reports
# to BUILD_DIR/sanitizer-reports/{report,tsan}.<pid>. They are printed at the end and any report fails
# the run, even when its test passed (a sluiced a test killed, or a leak found at exit).
# Suppressions (scripts/tsan.supp, scripts/lsan.supp) only name frames inside uninstrumented
# system libraries, never our own code.
set -euo pipefail
BUILD_DIR="${1:-build}"
shift || true
cd "$(dirname "$0")/.."
ROOT="$PWD"
JOBS="${JOBS:-$(nproc)}"

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "run-tests.sh: $BUILD_DIR is not a configured build directory" >&2
  exit 2
fi
BUILD_ABS="$(cd "$BUILD_DIR" && pwd)"
SANITIZE="$(sed -n 's/^SLUICE_SANITIZE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
REPORTS="$BUILD_ABS/sanitizer-reports"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"

case "$SANITIZE" in
  "") ;;
  *thread*)
    export TSAN_OPTIONS="suppressions=$ROOT/scripts/tsan.supp:log_path=$REPORTS/tsan:second_deadlock_stack=1:history_size=4"
    ;;
  *address*|*undefined*)
    export ASAN_OPTIONS="log_path=$REPORTS/report:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="log_path=$REPORTS/report:print_stacktrace=1:halt_on_error=1"
    ;;
esac

status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j "$JOBS" --timeout 600 "$@" ||
  status=$?

if [ -n "$SANITIZE" ]; then
  shopt -s nullglob
  reports=("$REPORTS"/*)
  if [ ${#reports[@]} -gt 0 ]; then
    echo
    echo "==== ${#reports[@]} sanitizer report(s) ($SANITIZE) in $REPORTS ===="
    for f in "${reports[@]}"; do
      echo "---- $(basename "$f")"
      cat "$f"
    done
    status=1
  else
    echo "sanitizer ($SANITIZE): no reports"
  fi
fi
exit "$status"
