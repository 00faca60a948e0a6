#!/usr/bin/env bash
# Prints the build targets of BUILD_DIR whose names match REGEX (anchored), one per line:
# how `make test-tsan` builds only the test binaries it runs.
#   scripts/test-targets.sh BUILD_DIR 'executor_test|dcp_.*'
set -euo pipefail
BUILD_DIR="$1"
REGEX="$2"
ninja -C "$BUILD_DIR" -t targets all |
  sed -n 's/^\([A-Za-z0-9_.-]*\): phony$/\1/p' |
  grep -E "^($REGEX)$" |
  sort -u
