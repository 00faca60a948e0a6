// File: server/commands.h
//
// The command handlers, by the file that holds them, and what a handler is (Handler, the facts it
// is given); the command table (server/command_table.h) is their only caller. Each one answers its
// request on the connection. Before a handler runs, the dispatcher has validated the request
// (protocol/validate.h) and checked what its row Needs: a handler of a kBucket row may use
// *conn.bucket().
//
// Thread safety: the connection's I/O thread.
#pragma once

#include <cstdint>

#include "protocol/dcp_codec.h"
#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

// The change a document mutation makes, for the handlers that serve several opcodes.
enum class Mutation : uint8_t {
  kNone,
  kSet,
  kAdd,
  kReplace,
  kIncrement,
  kDecrement,
  kAppend,
  kPrepend,
};

// What a handler learns about the opcode it runs, beyond the frame: the facts that tell apart
// the opcodes one handler serves.
struct CommandFacts {
  // The quiet twin of a row: GETQ/GETKQ/GETQ_META send nothing on a miss, the quiet mutations
  // answer only on error, QUITQ never answers.
  bool quiet = false;
  bool returns_key = false;    // GETK: the response carries the request's key
  bool returns_value = false;  // GAT: TOUCH that answers the document as GET does
  Mutation mutation = Mutation::kNone;
};

// A command's handler. It answers `req` on `conn` (or not, for a quiet command that stays
// silent) and says whether the connection goes on, waits for the engine, or closes.
using Handler = CommandResult (*)(Connection& conn, const protocol::Frame& req,
                                  const CommandFacts& facts);

// ---- commands_session.cc ----

// Enables the features sluice implements among those asked for (replacing an earlier HELLO's)
// and answers with them; remembers the agent name (the key, or its "a" member when it is JSON).
CommandResult Hello(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult SaslListMechs(Connection& conn, const protocol::Frame& req,
                            const CommandFacts& facts);
// SASL_AUTH starts an exchange (dropping any earlier identity), SASL_STEP continues it. On
// success the connection selects the server's bucket if the user may use it (memcached clients
// never send SELECT_BUCKET). Every failure is the same AUTH_ERROR (the reason goes to the log);
// failures after the first are answered only after auth_failure_delay_ms (Connection::PauseFor),
// and the auth_failure_limit-th closes the connection.
CommandResult SaslAuth(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult SaslStep(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// An unknown bucket and one the user may not use both get EACCESS (bucket names do not leak);
// "@no bucket@" deselects.
CommandResult SelectBucket(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// The bucket the user may select (sluice has one), or an empty list.
CommandResult ListBuckets(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// The error map of the version asked for (at most protocol::kErrorMapMaxVersion).
CommandResult GetErrorMap(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult Version(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// NOOP, and VERBOSITY (accepted, no effect): success.
CommandResult Noop(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// QUIT answers and closes; QUITQ closes.
CommandResult Quit(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);

// ---- commands_kv.cc ----
// The document commands on the default collection. Mutations with a durability frame info are
// SyncWrites (server/durable_write.h). Extended attributes (docs/xattrs.md): GET and GAT answer
// the body only; SET/ADD/REPLACE store the value as given (with the XATTR datatype: xattrs and
// body), so a plain SET drops the xattrs a document had; APPEND/PREPEND/INCR/DECR keep them;
// DELETE keeps the system ones.

// GET/GETK and their quiet twins (silent on a miss).
CommandResult Get(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// SET/ADD/REPLACE (facts.mutation). JSON is detected on the body, whatever datatype the client set.
CommandResult Store(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult Delete(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// INCREMENT/DECREMENT (facts.mutation): answers the new value.
CommandResult Arithmetic(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// APPEND/PREPEND (facts.mutation) of the body.
CommandResult AppendPrepend(Connection& conn, const protocol::Frame& req,
                            const CommandFacts& facts);
// TOUCH (answers the CAS) and GAT (answers the document, as GET).
CommandResult Touch(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// The metadata of a document or tombstone; extras version 2 adds the datatype.
CommandResult GetMeta(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);

// ---- commands_subdoc.cc, subdoc_mutation.cc ----
// The subdocument commands on the default collection (docs/xattrs.md): the lookups SUBDOC_GET,
// SUBDOC_EXISTS, SUBDOC_GET_COUNT and SUBDOC_MULTI_LOOKUP; the mutations SUBDOC_DICT_ADD ..
// SUBDOC_COUNTER, SUBDOC_REPLACE_BODY_WITH_XATTR and SUBDOC_MULTI_MUTATION, with the doc flags
// Mkdoc, Add, AccessDeleted, CreateAsDeleted and ReviveDocument, CAS, expiry and user flags from
// the extras, durability and preserve-TTL frame infos. Paths may address the document's extended
// attributes (XattrPath, after HELLO XATTR) and the virtual ones; macros are expanded.
//
// How a command runs: protocol/subdoc_request.h checks it (before the bucket is required); the
// document is fetched (a tombstone too with AccessDeleted or CreateAsDeleted);
// server/subdoc_context.h runs the specs on it; a mutation stores the result with a CAS check
// against what it read (or an add when it creates the document) and, when another write came in
// between and the client gave no CAS, starts over (up to 100 times, then TMPFAIL), as kv_engine
// does. The reply carries SubdocSuccessDeleted / SubdocMultiPathFailureDeleted for a deleted
// document.
//
// Not supported (refused, protocol/subdoc_request.h): the BinaryValue path flag, the ReplicaRead
// doc flag. There are no xattr privileges: every user of the bucket may read and write system
// xattrs.
CommandResult Subdoc(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);

// ---- commands_admin.cc ----

// One response per stat (key = name, value = text), then an empty one. The default group adds
// the server's own stats; "dcp"/"dcpagg" go to the DCP ConnMap; "timings" answers the per-opcode
// latencies (server/command_timings.h), as text to cbstats (by its HELLO agent) and JSON to
// everyone else; the other groups go to the bucket. An error answers alone (no partial list).
CommandResult Stat(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult SetVBucket(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult GetVBucket(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult DelVBucket(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// Optionally filtered by vbucket state; only the default collection exists.
CommandResult GetAllVbSeqnos(Connection& conn, const protocol::Frame& req,
                             const CommandFacts& facts);
CommandResult ObserveSeqno(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult GetFailoverLog(Connection& conn, const protocol::Frame& req,
                             const CommandFacts& facts);
// The terse bucket config as seen from the address the client connected to; an empty success
// when the client's copy (extras: epoch, revision) is current.
CommandResult GetClusterConfig(Connection& conn, const protocol::Frame& req,
                               const CommandFacts& facts);
// GET_CMD_TIMER (mctimings): extras = the opcode (1 byte), key = "" (the selected bucket), the
// selected bucket's name, "/all/" or "@no bucket@"; the answer is that opcode's latency histogram
// as HdrHistogram JSON (an empty one if it never ran). sluice has one bucket and keeps timings
// per server, so every accepted name gives the same histogram; another bucket's name is
// NotSupported, as kv_engine answers it.
CommandResult GetCmdTimer(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);

// ---- commands_replica.cc ----

// GET_REPLICA: a document of a replica vbucket, answered as GET; any other state (or none) is
// NOT_MY_VBUCKET, and a document past its expiry is not found (the active expires it).
CommandResult GetReplica(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);

// ---- commands_dcp.cc ----
// The producer side of DCP; the stream machinery is in src/dcp/. Every command but DCP_OPEN
// needs a connection that DCP_OPEN made a producer (else EINVAL).

// Makes the connection a DCP producer (from the open flags and its HELLO features); a second
// DCP_OPEN on it is EINVAL.
CommandResult DcpOpen(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult DcpControl(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
// Answers the failover log (or Rollback with the seqno to roll back to) before any message of
// the new stream.
CommandResult DcpStreamReq(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult DcpCloseStream(Connection& conn, const protocol::Frame& req,
                             const CommandFacts& facts);
// The producer's view of the failover log, or the bucket's on a connection that is not one.
CommandResult DcpGetFailoverLog(Connection& conn, const protocol::Frame& req,
                                const CommandFacts& facts);
// Flow control: no response, as kv_engine.
CommandResult DcpBufferAck(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult DcpNoop(Connection& conn, const protocol::Frame& req, const CommandFacts& facts);
CommandResult DcpSeqnoAcknowledged(Connection& conn, const protocol::Frame& req,
                                   const CommandFacts& facts);
// A response frame from the client: on a producer, a DCP consumer answering our NOOP (or another
// message); on a consumer, the producer's answer (relayed by the driver) to one of the
// consumer's requests (kClose when it makes no sense); dropped on any other connection.
CommandResult OnClientResponse(Connection& conn, const protocol::Frame& response);

// ---- commands_dcp_consumer.cc ----
// The consumer side of DCP (replication/consumer.h): a DCP_OPEN without the Producer flag makes
// the connection a consumer; its requests then go to the consumer (any request that is not one
// of replication::Consumer::Takes() closes the connection, in the dispatcher).

// DCP_OPEN without the Producer flag (called by DcpOpen): the connection becomes a consumer named
// by the key, with the value's {"consumer_name"}; a producer's open flag is EINVAL.
CommandResult OpenConsumer(Connection& conn, const protocol::Frame& req,
                           const protocol::DcpOpenRequest& open);
// ADD_STREAM, the producer's messages (STREAM_END, SNAPSHOT_MARKER, MUTATION, DELETION,
// EXPIRATION, SET_VBUCKET_STATE, SEQNO_ADVANCED), and CLOSE_STREAM / NOOP on a consumer: handed
// to the consumer; EINVAL on a connection that is not one.
CommandResult ConsumerRequest(Connection& conn, const protocol::Frame& req,
                              const CommandFacts& facts);

}  // namespace sluice::server
