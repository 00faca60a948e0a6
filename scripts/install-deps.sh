#!/usr/bin/env bash
# Installs the Debian packages sluice builds, tests and benchmarks with, then the npm packages of
# the client compatibility tests (scripts/install-node-deps.sh). etcd-server and etcd-client: the
# etcd tests start their own etcd on free loopback ports (src/testing/etcd_process.h); the
# package's system service is not used. chromium: the console's browser test drives it headless.
# Idempotent: only missing packages are installed. Runs apt-get as root or via sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang clang-format libclang-rt-14-dev lld
  librocksdb-dev libsnappy-dev liblz4-dev libzstd-dev libbz2-dev zlib1g-dev libjemalloc-dev
  libasio-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libabsl-dev
  libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libmemcached-tools memcached python3 nodejs
  libcpp-httplib-dev python3-pylibmc openssl curl iproute2
  etcd-server etcd-client
  chromium
)
# Debian's nodejs comes without npm (the npm package); a nodejs that bundles it (e.g. NodeSource's)
# conflicts with that package, so it is only asked for when there is no npm command.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages of the client compatibility tests (tests/compat).
"$(dirname "$0")/install-node-deps.sh"
