// File: server/commands_subdoc.h
//
// Subdocument lookups on the default collection: SUBDOC_GET (0xc5), SUBDOC_EXISTS (0xc6),
// SUBDOC_GET_COUNT (0xd2) and SUBDOC_MULTI_LOOKUP (0xd0) with GET / SUBDOC_GET / SUBDOC_EXISTS /
// SUBDOC_GET_COUNT specs (the wire format is protocol/subdoc.h). The document is parsed with
// nlohmann::json; a fragment comes back re-serialised (compact), not as the stored bytes.
// Extended attributes are not stored by sluice (HELLO XATTR is not agreed): an xattr spec
// answers SUBDOC_PATH_ENOENT, or SUBDOC_XATTR_UNKNOWN_VATTR for a virtual ('$') path.
// Subdoc mutations (0xc7-0xcf, 0xd1) stay unknown commands.
//
// Thread safety: the connection's I/O thread (called from DispatchKv).
#pragma once

#include <optional>

#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

// The lookup's result, or nullopt if the opcode is not a subdoc lookup.
std::optional<CommandResult> DispatchSubdoc(Connection& conn, const protocol::Frame& req);

}  // namespace sluice::server
