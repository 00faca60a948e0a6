// File: xattr/filter.h
//
// What a DCP consumer gets of a stored value, by what it asked for at DCP_OPEN (kv_engine's
// Item::removeBodyAndOrXattrs, applied in this order):
//   - no body (NoValue / NoValueWithUnderlyingDatatype): only the xattr section remains
//     (datatype XATTR), or nothing (RAW);
//   - no xattrs (IncludeXattrs not set): the section goes and the XATTR bit with it;
//   - a deletion without IncludeDeletedUserXattrs: its user xattrs go (a tombstone has no body,
//     so what remains is its system xattrs, datatype XATTR, or nothing);
//   - an empty result has no JSON bit; NoValueWithUnderlyingDatatype restores the stored
//     datatype at the end.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::xattr {

struct StreamOptions {
  bool include_body = true;
  bool include_xattrs = false;
  bool include_deleted_user_xattrs = false;
  bool underlying_datatype = false;  // NoValueWithUnderlyingDatatype
};

struct StreamValue {
  uint8_t datatype = 0;
  std::string_view part;  // a part of the stored value, unless rebuilt
  bool rebuilt = false;   // the user xattrs were pruned: the value is `storage`
  std::string storage;
  std::string_view value() const { return rebuilt ? std::string_view(storage) : part; }
};

// `value` (with `datatype`) as the stream sends it; the result may point into `value`.
StreamValue ForStream(std::string_view value, uint8_t datatype, bool deleted,
                      const StreamOptions& options);

}  // namespace sluice::xattr
