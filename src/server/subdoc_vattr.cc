// File: server/subdoc_vattr.cc
#include "server/subdoc_vattr.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/crc32c.h"
#include "protocol/datatype.h"
#include "xattr/blob.h"

namespace sluice::server {
namespace {

// kv_engine's datatype names, in its order ("raw" alone).
nlohmann::json DatatypeNames(uint8_t datatype) {
  nlohmann::json names = nlohmann::json::array();
  if (datatype == 0) names.push_back("raw");
  if ((datatype & protocol::kDatatypeSnappy) != 0) names.push_back("snappy");
  if ((datatype & protocol::kDatatypeJson) != 0) names.push_back("json");
  if ((datatype & protocol::kDatatypeXattr) != 0) names.push_back("xattr");
  return names;
}

// Seconds of a HLC CAS (nanoseconds since the epoch).
uint64_t CasSeconds(uint64_t cas) { return cas / 1'000'000'000; }

uint64_t ByteSwap64(uint64_t v) { return __builtin_bswap64(v); }

// Replaces every `from` in out[begin, end) with `to` (the same length).
void ReplaceAll(std::string* out, size_t begin, size_t end, std::string_view from,
                std::string_view to) {
  if (from.empty()) return;
  for (size_t pos = out->find(from, begin); pos != std::string::npos && pos + from.size() <= end;
       pos = out->find(from, pos + to.size())) {
    out->replace(pos, from.size(), to);
  }
}

}  // namespace

std::string Hex64(uint64_t v) { return fmt::format("0x{:016x}", v); }
std::string Hex32(uint32_t v) { return fmt::format("0x{:08x}", v); }

std::string DocumentVattr(const SubdocDocMeta& doc, bool wrapped) {
  nlohmann::json d;
  d["CAS"] = Hex64(doc.cas);
  d["vbucket_uuid"] = Hex64(doc.vbucket_uuid);
  d["seqno"] = Hex64(doc.seqno);
  d["revid"] = std::to_string(doc.rev_seqno);
  d["exptime"] = doc.expiry;
  d["flags"] = doc.flags;
  d["value_bytes"] = doc.body.size();
  d["datatype"] = DatatypeNames(doc.datatype);
  d["deleted"] = doc.deleted;
  d["last_modified"] = std::to_string(CasSeconds(doc.cas));  // every sluice CAS is a HLC
  d["value_crc32c"] = Hex32(Crc32c(doc.body));
  if (!wrapped) return d.dump();
  nlohmann::json root;
  root["$document"] = std::move(d);
  return root.dump();
}

std::string VbucketVattr(const engine::HlcNow& hlc) {
  nlohmann::json root = {
      {"$vbucket",
       {{"HLC", {{"now", std::to_string(hlc.seconds)}, {"mode", hlc.real ? "real" : "logical"}}}}}};
  return root.dump();
}

std::string XtocVattr(std::string_view xattr_section) {
  nlohmann::json keys = nlohmann::json::array();
  xattr::ForEach(xattr_section,
                 [&](std::string_view key, std::string_view) { keys.push_back(std::string(key)); });
  nlohmann::json root;
  root["$XTOC"] = std::move(keys);
  return root.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ExpandDocumentMacro(std::string_view macro, const SubdocDocMeta& doc) {
  constexpr std::string_view kPrefix = R"("${$document)";
  if (!macro.starts_with(kPrefix)) return {};
  if (macro == R"("${$document}")") return DocumentVattr(doc, /*wrapped=*/false);
  const std::string_view field = macro.substr(kPrefix.size());
  if (field == R"(.CAS}")") return "\"" + Hex64(doc.cas) + "\"";
  if (field == R"(.vbucket_uuid}")") return "\"" + Hex64(doc.vbucket_uuid) + "\"";
  if (field == R"(.seqno}")") return "\"" + Hex64(doc.seqno) + "\"";
  if (field == R"(.revid}")") return "\"" + std::to_string(doc.rev_seqno) + "\"";
  if (field == R"(.exptime}")") return std::to_string(doc.expiry);
  if (field == R"(.flags}")") return std::to_string(doc.flags);
  if (field == R"(.value_bytes}")") return std::to_string(doc.body.size());
  if (field == R"(.datatype}")") return DatatypeNames(doc.datatype).dump();
  if (field == R"(.deleted}")") return doc.deleted ? "true" : "false";
  if (field == R"(.last_modified}")") return std::to_string(CasSeconds(doc.cas));
  return {};
}

void MacroPadding::Generate(std::string_view xattrs, const std::vector<std::string_view>& values) {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  auto unique = [&](const std::string& candidate) {
    if (xattrs.find(candidate) != std::string_view::npos) return false;
    for (std::string_view v : values) {
      if (v.find(candidate) != std::string_view::npos) return false;
    }
    return true;
  };
  auto pick = [&](bool wide) {
    std::string candidate;
    do {
      const uint64_t r = gen();
      candidate = "\"" + (wide ? Hex64(r) : Hex32(static_cast<uint32_t>(r))) + "\"";
    } while (!unique(candidate) || candidate == cas_ || candidate == seqno_);
    return candidate;
  };
  cas_ = pick(true);
  seqno_ = pick(true);
  crc_ = pick(false);
}

std::string_view MacroPadding::For(std::string_view macro) const {
  if (macro == R"("${Mutation.CAS}")") return cas_;
  if (macro == R"("${Mutation.seqno}")") return seqno_;
  if (macro == R"("${Mutation.value_crc32c}")") return crc_;
  return {};
}

engine::PreLinkFn MacroPadding::PreLink(std::vector<std::string> keys) const {
  return [keys = std::move(keys), padding = *this](const engine::BlobPtr& value, uint64_t cas,
                                                   uint64_t seqno) {
    const auto split = xattr::SplitValue(value.view());
    if (!split) return value;
    std::string out(value.view());
    const std::string cas_text = "\"" + Hex64(ByteSwap64(cas)) + "\"";
    const std::string seqno_text = "\"" + Hex64(seqno) + "\"";
    const std::string crc_text = "\"" + Hex32(Crc32c(split->body)) + "\"";
    xattr::ForEach(split->section, [&](std::string_view key, std::string_view v) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) return;
      const size_t begin = static_cast<size_t>(v.data() - value.view().data());
      const size_t end = begin + v.size();
      ReplaceAll(&out, begin, end, padding.cas_, cas_text);
      ReplaceAll(&out, begin, end, padding.seqno_, seqno_text);
      ReplaceAll(&out, begin, end, padding.crc_, crc_text);
    });
    return engine::Blob::Make(out);
  };
}

}  // namespace sluice::server
