// File: server/subdoc_command.h
//
// What the subdoc lookup (commands_subdoc.cc) and mutation (subdoc_mutation.cc) handlers share:
// the fetch of the document and its translation into a SubdocInput. Internal to server/.
//
// Thread safety: the connection's I/O thread.
#pragma once

#include <optional>

#include "engine/bucket.h"
#include "protocol/frame.h"
#include "protocol/subdoc_request.h"
#include "server/connection.h"
#include "server/subdoc_context.h"

namespace sluice::server {

// The document as read: a live document, or a tombstone when `include_deleted`.
struct SubdocFetch {
  CommandResult result = CommandResult::kDone;  // when !done: kWouldBlock or an answer was sent
  bool done = false;                            // false: the handler must return `result`
  std::optional<engine::GetResult> doc;         // nullopt: the key has no document
};
SubdocFetch FetchForSubdoc(Connection& conn, const protocol::Frame& req, engine::Bucket& bucket,
                           std::string_view key, bool include_deleted);

// The execution input for a fetched document.
SubdocInput InputFrom(engine::Bucket& bucket, Vbid vbid, const engine::GetResult& doc);

// The body of a multi lookup's or multi mutation's answer, and the single-path answer's value.
std::string SubdocResponseBody(const protocol::SubdocRequest& request, const SubdocExecution& exec);

CommandResult SubdocMutation(Connection& conn, const protocol::Frame& req,
                             const protocol::SubdocRequest& request, engine::Bucket& bucket);

}  // namespace sluice::server
