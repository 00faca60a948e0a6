// File: tools/commands.h
//
// The `sluice` subcommands. Each opens its own session (tools/session.h) from the parsed command
// line, does its work, writes its answer to `out` (text or JSON, tools/output.h) and returns the
// process exit code (tools/failure.h).
//
//   get KEY            the value, then a newline (JSON: key, value, flags, cas, datatype, vbucket)
//   set KEY VALUE      "stored KEY (vbucket V, cas C[, seqno S])"
//   rm KEY             "deleted KEY (...)"
//   touch KEY          "touched KEY (...)"
//   stats [GROUP]      two aligned columns (JSON: one object; integer values as numbers)
//   vbucket-seqnos     vbucket and high seqno per line (JSON: {"vbuckets":[{vbucket,high_seqno}]})
//   failover-log VB    entry, vbucket uuid, seqno per line, newest first
//                      (JSON: {"vbucket":VB,"entries":[{"uuid","seqno"}]})
//   vbucket set VB STATE [--topology JSON]
//                      SET_VBUCKET; "vbucket VB: STATE[, topology T]"
//                      (JSON: {"vbucket":VB,"state":STATE,"topology":T or null})
//   load               see tools/load_generator.h; text table or one JSON object with ops, seconds,
//                      ops_per_sec, p50_us, p90_us, p99_us, p999_us, max_us, errors, ...
//   tail               one line per change (tools/change_format.h; JSON: one object per line)
//                      until Ctrl-C / --count; --latency: a latency table or one JSON object
//   drain              see tools/drainer.h; a table or one JSON object with items, bytes,
//                      seconds, items_per_sec, mb_per_sec, vbuckets, ... (+ verify)
//   cluster init       members, epoch and first map in etcd (tools/README.md, "sluice cluster")
//   cluster status     nodes, member status, alive, manager, map rev, vbuckets per node
//   cluster failover NODE            hard failover request; waits for the manager to do it
//   cluster reset-failover-count     allows automatic failovers again
//   cluster add NODE / remove NODE   member pending_add / pending_remove (for the next rebalance)
//   cluster rebalance                requests a rebalance; a progress line until done (--no-wait)
//
// Thread safety: each call runs on the caller's thread (load and drain start and join their own
// threads; tail starts a signal-watching thread, tools/interrupt.h).
#pragma once

#include <ostream>

#include "tools/command_line.h"
#include "tools/output.h"

namespace sluice::tools {

// Runs `cmd`, writing to `out` / `err`; returns the exit code.
int RunCommand(const CommandLine& cmd, std::ostream& out, std::ostream& err);

int RunGet(const CommandLine& cmd, Output& out);
int RunSet(const CommandLine& cmd, Output& out);
int RunRm(const CommandLine& cmd, Output& out);
int RunTouch(const CommandLine& cmd, Output& out);
int RunStats(const CommandLine& cmd, Output& out);
int RunVbucketSeqnos(const CommandLine& cmd, Output& out);
int RunFailoverLog(const CommandLine& cmd, Output& out);
int RunVbucketSet(const CommandLine& cmd, Output& out);
int RunLoad(const CommandLine& cmd, Output& out);
int RunTail(const CommandLine& cmd, Output& out);
int RunDrain(const CommandLine& cmd, Output& out);
int RunClusterInit(const CommandLine& cmd, Output& out);
int RunClusterStatus(const CommandLine& cmd, Output& out);
int RunClusterFailover(const CommandLine& cmd, Output& out);
int RunClusterResetFailoverCount(const CommandLine& cmd, Output& out);
int RunClusterAdd(const CommandLine& cmd, Output& out);
int RunClusterRemove(const CommandLine& cmd, Output& out);
int RunClusterRebalance(const CommandLine& cmd, Output& out);

}  // namespace sluice::tools
