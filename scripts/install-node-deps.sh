#!/usr/bin/env bash
# Installs the npm packages of the client compatibility tests (tests/compat/package.json: the
# official Couchbase Node.js SDK with its prebuilt native binary, memjs, and playwright-core, which
# drives Debian's chromium in the console's browser test) into
# tests/compat/node_modules, as pinned by tests/compat/package-lock.json. (`npm ci` refuses this
# lock file: the SDK names a Windows binary package the registry does not serve, so the lock has
# no entry for it; `npm install --no-save` installs the locked versions and keeps the lock as is.)
# Idempotent and quick: does nothing when node_modules already matches the lock file (a stamp
# holds the lock file's checksum) and the packages load. Called by scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../tests/compat"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-node-deps.sh: node and npm are needed (Debian: nodejs npm)" >&2
  exit 1
fi

STAMP=node_modules/.sluice-lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   node -e "require('couchbase'); require('memjs'); require('playwright-core')" >/dev/null 2>&1; then
  exit 0
fi

echo "installing npm packages for tests/compat (couchbase, memjs, playwright-core)" >&2
# The couchbase package's install script only looks for the prebuilt binary, which npm installs
# as its optional dependency @couchbase/couchbase-linux-x64-napi; require() finds it either way.
npm install --no-save --no-audit --no-fund --loglevel=error
node -e "require('couchbase'); require('memjs'); require('playwright-core')"
echo "$want" > "$STAMP"
