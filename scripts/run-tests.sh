#!/usr/bin/env bash
# Runs every test of a build directory (default: build). Used by `make test` and CI.
set -euo pipefail
BUILD_DIR="${1:-build}"
cd "$(dirname "$0")/.."
JOBS="${JOBS:-$(nproc)}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600
