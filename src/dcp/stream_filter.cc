#include "dcp/stream_filter.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::dcp {
namespace {

bool ParseUnsigned(std::string_view text, int base, uint64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

Status ParseStreamId(const nlohmann::json& value, StreamFilter* filter) {
  if (!value.is_number_unsigned()) return Status::Invalid("sid must be an unsigned integer");
  const uint64_t sid = value.get<uint64_t>();
  if (sid == 0 || sid > UINT16_MAX) {
    return Status(Errc::kDcpStreamIdInvalid, "sid must be in 1..65535");
  }
  filter->stream_id = static_cast<uint16_t>(sid);
  return Status::Ok();
}

Status ParseCollections(const nlohmann::json& value) {
  if (!value.is_array()) return Status::Invalid("collections must be an array of hex ids");
  for (const nlohmann::json& entry : value) {
    uint64_t id = 0;
    if (!entry.is_string() || !ParseUnsigned(entry.get_ref<const std::string&>(), 16, &id)) {
      return Status::Invalid("collections entries must be hex strings");
    }
    if (id != 0) {
      return Status(Errc::kUnknownCollection,
                    "unknown collection " + entry.get<std::string>() + " (manifest uid 0)");
    }
  }
  return Status::Ok();
}

Status ParseScope(const nlohmann::json& value) {
  uint64_t id = 0;
  if (!value.is_string() || !ParseUnsigned(value.get_ref<const std::string&>(), 16, &id)) {
    return Status::Invalid("scope must be a hex string");
  }
  if (id != 0) {
    return Status(Errc::kUnknownScope,
                  "unknown scope " + value.get<std::string>() + " (manifest uid 0)");
  }
  return Status::Ok();
}

Status ParsePurgeSeqno(const nlohmann::json& value, StreamFilter* filter) {
  if (value.is_number_unsigned()) {
    filter->remote_purge_seqno = value.get<uint64_t>();
    return Status::Ok();
  }
  if (value.is_string() &&
      ParseUnsigned(value.get_ref<const std::string&>(), 10, &filter->remote_purge_seqno)) {
    return Status::Ok();
  }
  return Status::Invalid("purge_seqno must be an unsigned integer (or its decimal text)");
}

}  // namespace

StatusOr<StreamFilter> ParseStreamFilter(std::string_view json) {
  StreamFilter filter;
  if (json.empty()) return filter;
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Invalid("stream request value is not a JSON object");
  }
  const auto sid = doc.find("sid");
  const auto uid = doc.find("uid");
  const auto collections = doc.find("collections");
  const auto scope = doc.find("scope");
  const auto purge = doc.find("purge_seqno");
  if (doc.contains("cts")) {
    return Status(Errc::kNotSupported, "cache-transfer streams (cts) are not supported");
  }
  if (sid == doc.end() && uid == doc.end() && collections == doc.end() && scope == doc.end() &&
      purge == doc.end()) {
    return Status::Invalid(
        "stream request value has no sid, uid, scope, collections or purge_seqno");
  }
  if (collections != doc.end() && scope != doc.end()) {
    return Status::Invalid("a stream request cannot name both a scope and collections");
  }
  if (sid != doc.end()) RETURN_IF_ERROR(ParseStreamId(*sid, &filter));
  if (uid != doc.end() && !uid->is_string()) return Status::Invalid("uid must be a hex string");
  if (collections != doc.end()) {
    RETURN_IF_ERROR(ParseCollections(*collections));
    filter.collection_filter = true;
  }
  if (scope != doc.end()) {
    RETURN_IF_ERROR(ParseScope(*scope));
    filter.collection_filter = true;
  }
  if (purge != doc.end()) RETURN_IF_ERROR(ParsePurgeSeqno(*purge, &filter));
  return filter;
}

}  // namespace sluice::dcp
