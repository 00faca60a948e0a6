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

#include "protocol/opcode.h"
#include "server/commands.h"

namespace sluice::server {

// What must hold before a command runs. Checked by the dispatcher in this order: a connection
// that is not authenticated gets EACCESS for anything but kNothing; then, for kBucket, one with
// no bucket selected gets NO_BUCKET.
enum class Needs : uint8_t {
  kNothing,  // allowed before authentication (kv_engine's list: HELLO, SASL, VERSION, ...)
  kAuth,     // an authenticated connection
  kBucket,   // an authenticated connection with a selected bucket
};

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
