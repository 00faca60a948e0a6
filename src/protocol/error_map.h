// File: protocol/error_map.h
//
// The error map a server returns for GET_ERROR_MAP: for every status the server can send, a name,
// a description and attributes telling a client how to react to a code it does not know
// ("item-only", "temp", "retry-now", "conn-state-invalidated", ...).
//
// The table follows kv_engine's version 2 error map (names and attributes). Version 1 is derived
// from version 2 the way kv_engine derives it: attributes that version 1 did not define
// ("rate-limit", "system-constraint", "no-retry") are dropped and the revision is 4 + the v2
// revision. kv_engine's current maps carry no "retry" specs, so neither do ours.
//
// Thread safety: immutable data; ErrorMapJson builds each version once (thread-safe static init).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/status.h"

namespace sluice::protocol {

struct ErrorMapEntry {
  McbpStatus status;
  std::string_view name;  // error-map name, e.g. "KEY_ENOENT"
  std::string_view desc;
  std::vector<std::string_view> attrs;
};

// Revision of our version-2 map; bump it whenever an entry is added or an attribute changes.
inline constexpr int kErrorMapRevision = 1;
inline constexpr int kErrorMapMaxVersion = 2;

// Every entry, ordered by status code.
const std::vector<ErrorMapEntry>& ErrorMapEntries();
const ErrorMapEntry* FindErrorMapEntry(McbpStatus status);

// The JSON map for `version`: {"version":N,"revision":R,"errors":{"<hex>":{"name","desc","attrs"}}}
// with lowercase hex keys without "0x". Versions above 2 get version 2; version 0 gets "" (the
// server answers KeyEnoent then, as kv_engine does).
std::string ErrorMapJson(int version);

}  // namespace sluice::protocol
