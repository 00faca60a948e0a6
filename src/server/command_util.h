// File: server/command_util.h
//
// Small helpers shared by the command handlers: the document key of a request (collection
// prefix stripped on collection-aware connections), the selected bucket, and the response
// datatype a connection may see.
//
// Thread safety: the connection's I/O thread.
#pragma once

#include <optional>
#include <string_view>

#include "protocol/datatype.h"
#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

// The logical key, or nullopt after answering the request (EINVAL / UNKNOWN_COLLECTION).
std::optional<std::string_view> DocumentKey(Connection& conn, const protocol::Frame& req);

// The selected bucket, or null after answering NO_BUCKET.
engine::Bucket* RequireBucket(Connection& conn, const protocol::Frame& req);

// The datatype bits of a stored document that this connection negotiated (JSON, XATTR).
inline uint8_t VisibleDatatype(const Connection& conn, uint8_t stored) {
  uint8_t visible = protocol::kDatatypeRaw;
  if (conn.HasFeature(protocol::Feature::kJson)) visible |= stored & protocol::kDatatypeJson;
  if (conn.HasFeature(protocol::Feature::kXattr)) visible |= stored & protocol::kDatatypeXattr;
  return visible;
}

}  // namespace sluice::server
