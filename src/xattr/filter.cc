// File: xattr/filter.cc
#include "xattr/filter.h"

#include <algorithm>

#include "xattr/blob.h"

namespace sluice::xattr {
namespace {

constexpr uint8_t kDatatypeJson = 0x01;
constexpr uint8_t kDatatypeSnappy = 0x02;

}  // namespace

StreamValue ForStream(std::string_view value, uint8_t datatype, bool deleted,
                      const StreamOptions& options) {
  StreamValue out;
  out.datatype = datatype;
  out.part = value;
  const bool has_xattrs = (datatype & kDatatypeXattr) != 0;
  const auto split = has_xattrs ? SplitValue(value) : std::nullopt;
  if (!options.include_body) {
    if (split) {
      out.part = split->section;
      out.datatype = kDatatypeXattr;
    } else {
      out.part = {};
      out.datatype = 0;
    }
  }
  if (!options.include_xattrs && split) {
    out.part = out.part.substr(std::min(out.part.size(), split->section.size()));
    out.datatype &= static_cast<uint8_t>(~kDatatypeXattr);
    if (out.part.empty()) out.datatype &= static_cast<uint8_t>(~kDatatypeJson);
  }
  if (deleted && !options.include_deleted_user_xattrs && split &&
      (out.datatype & kDatatypeXattr) != 0) {
    out.storage = Prune(out.part.substr(0, split->section.size()), Keep::kSystem);
    out.rebuilt = true;
    if (out.storage.empty()) out.datatype &= static_cast<uint8_t>(~kDatatypeXattr);
    out.datatype &= static_cast<uint8_t>(~(kDatatypeJson | kDatatypeSnappy));
  }
  if (options.underlying_datatype) out.datatype = datatype;
  return out;
}

}  // namespace sluice::xattr
