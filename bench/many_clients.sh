#!/usr/bin/env bash
# Many plain clients: GET and SET over 200 connections with one request in flight on each, as most
# application clients run (no pipelining), sluiced against memcached in one run. It is
# kv_throughput.sh with CONNECTIONS=200 PIPELINE=1 (every other knob of that script applies), so
# the servers, the load client, the phases and the report are the same; the report's title says
# which shape ran. The client is one thread per connection on the same cores as the server: its
# CPU column shows how much of the machine it took.
#
# Targets (issue 15): GET >= 1.0x memcached, SET >= 0.8x memcached.
#
# Usage: bench/many_clients.sh [BUILD_DIR]   (environment as kv_throughput.sh; CONNECTIONS [200])
set -euo pipefail
export CONNECTIONS="${CONNECTIONS:-200}"
export PIPELINE=1
exec "$(dirname "${BASH_SOURCE[0]}")/kv_throughput.sh" "$@"
