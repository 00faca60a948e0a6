// File: server/commands_subdoc.h
//
// The subdocument commands on the default collection (docs/xattrs.md, kv_engine
// docs/SubDocument.md): the lookups SUBDOC_GET (0xc5), SUBDOC_EXISTS (0xc6), SUBDOC_GET_COUNT
// (0xd2) and SUBDOC_MULTI_LOOKUP (0xd0); the mutations SUBDOC_DICT_ADD .. SUBDOC_COUNTER
// (0xc7-0xcf), SUBDOC_REPLACE_BODY_WITH_XATTR (0xd3) and SUBDOC_MULTI_MUTATION (0xd1), with the
// doc flags Mkdoc, Add, AccessDeleted, CreateAsDeleted and ReviveDocument, CAS, expiry and user
// flags from the extras, durability and preserve-TTL frame infos. Paths may address the
// document's extended attributes (XattrPath, after HELLO XATTR) and the virtual ones; macros are
// expanded with ExpandMacros.
//
// How a command runs: protocol/subdoc_request.h checks it; the document is fetched (a tombstone
// too with AccessDeleted or CreateAsDeleted); server/subdoc_context.h runs the specs on it; a
// mutation stores the result with a CAS check against what it read (or an add when it creates
// the document) and, when another write came in between and the client gave no CAS, starts over
// (up to 100 times, then TMPFAIL), as kv_engine does. The reply carries SubdocSuccessDeleted /
// SubdocMultiPathFailureDeleted for a deleted document.
//
// Not supported (refused, protocol/subdoc_request.h): the BinaryValue path flag, the ReplicaRead
// doc flag. There are no xattr privileges: every user of the bucket may read and write system
// xattrs.
//
// Thread safety: the connection's I/O thread (called from DispatchKv).
#pragma once

#include <optional>

#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

// The command's result, or nullopt if the opcode is not a subdoc command.
std::optional<CommandResult> DispatchSubdoc(Connection& conn, const protocol::Frame& req);

}  // namespace sluice::server
