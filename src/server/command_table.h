// File: server/command_table.h
//
// The command table: for every opcode sluice serves, its handler and the facts about it that the
// dispatcher and the handler need — whether it may run before authentication or needs a selected
// bucket, whether it is a quiet twin, and which variant of a shared handler it is (GETK returns
// the key, ADD is a store that must not find the document, ...). Each opcode appears once, in
// command_table.cc; a quiet twin (GETQ, SETQ, ...) shares its row, as protocol/opcode.h pairs
// them. kv_engine keeps the same kind of table (its handler array per opcode).
//
// Thread safety: immutable after the first lookup (a function-local static); any thread.
#pragma once

#include <cstdint>

#include "protocol/frame.h"
#include "protocol/opcode.h"
#include "server/connection.h"

namespace sluice::server {

// What must hold before a command runs. Checked by the dispatcher in this order: a connection
// that is not authenticated gets EACCESS for anything but kNothing; then, for kBucket, one with
// no bucket selected gets NO_BUCKET.
enum class Needs : uint8_t {
  kNothing,  // allowed before authentication (kv_engine's list: HELLO, SASL, VERSION, ...)
  kAuth,     // an authenticated connection
  kBucket,   // an authenticated connection with a selected bucket
};

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

// One row of the table.
struct Command {
  protocol::Opcode opcode = protocol::Opcode::kInvalid;
  Handler handler = nullptr;  // null: not a command sluice serves (UNKNOWN_COMMAND)
  Needs needs = Needs::kAuth;
  CommandFacts facts;
};

// The row of `op` (one with a null handler for an opcode sluice does not serve).
const Command& CommandOf(protocol::Opcode op);

}  // namespace sluice::server
