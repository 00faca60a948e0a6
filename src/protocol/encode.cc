// File: protocol/encode.cc
#include "protocol/encode.h"

#include <cassert>
#include <cstring>

#include "protocol/byte_order.h"
#include "protocol/leb128.h"

namespace sluice::protocol {

namespace {

// One resize, then header and sections copied in place. `key_prefix` is the optional LEB128
// collection prefix that goes in front of the key.
void AppendImpl(std::string* out, Magic magic, uint8_t opcode, uint16_t specific, uint8_t datatype,
                uint32_t opaque, uint64_t cas, std::string_view framing_extras,
                std::string_view extras, std::string_view key_prefix, std::string_view key,
                std::string_view value) {
  const size_t key_len = key_prefix.size() + key.size();
  const size_t body = framing_extras.size() + extras.size() + key_len + value.size();
  const size_t start = out->size();
  out->resize(start + kHeaderSize + body);
  char* p = out->data() + start;
  WriteHeader(p, magic, opcode, specific, datatype, opaque, cas, framing_extras.size(),
              extras.size(), key_len, value.size());
  p += kHeaderSize;
  auto copy = [&p](std::string_view section) {
    if (!section.empty()) std::memcpy(p, section.data(), section.size());
    p += section.size();
  };
  copy(framing_extras);
  copy(extras);
  copy(key_prefix);
  copy(key);
  copy(value);
}

}  // namespace

void AppendFrame(std::string* out, Magic magic, uint8_t opcode, uint16_t specific, uint8_t datatype,
                 uint32_t opaque, uint64_t cas, std::string_view framing_extras,
                 std::string_view extras, std::string_view key, std::string_view value) {
  AppendImpl(out, magic, opcode, specific, datatype, opaque, cas, framing_extras, extras, {}, key,
             value);
}

void AppendRequest(std::string* out, const RequestFields& r) {
  char prefix[kMaxLeb128U32Size];
  size_t prefix_len = 0;
  if (r.collection) prefix_len = EncodeLeb128(*r.collection, prefix);
  const Magic magic = r.framing_extras.empty() ? Magic::kClientRequest : Magic::kAltClientRequest;
  AppendImpl(out, magic, static_cast<uint8_t>(r.opcode), r.vbucket, r.datatype, r.opaque, r.cas,
             r.framing_extras, r.extras, std::string_view(prefix, prefix_len), r.key, r.value);
}

void AppendResponse(std::string* out, const ResponseFields& r) {
  const Magic magic = r.framing_extras.empty() ? Magic::kClientResponse : Magic::kAltClientResponse;
  AppendImpl(out, magic, static_cast<uint8_t>(r.opcode), static_cast<uint16_t>(r.status),
             r.datatype, r.opaque, r.cas, r.framing_extras, r.extras, {}, r.key, r.value);
}

void AppendStatusResponse(std::string* out, const Frame& request, McbpStatus status) {
  ResponseFields response;
  response.opcode = request.client_opcode();
  response.status = status;
  response.opaque = request.opaque;
  AppendResponse(out, response);
}

RequestBuilder& RequestBuilder::Extras(std::string_view extras) {
  if (extras.size() <= kInlineExtras) {
    if (!extras.empty()) std::memcpy(extras_buf_, extras.data(), extras.size());
    fields_.extras = std::string_view(extras_buf_, extras.size());
  } else {
    fields_.extras = extras;
  }
  return *this;
}

RequestBuilder& RequestBuilder::MutationExtras(uint32_t flags, uint32_t expiry) {
  StoreBe32(extras_buf_, flags);
  StoreBe32(extras_buf_ + 4, expiry);
  fields_.extras = std::string_view(extras_buf_, 8);
  return *this;
}

RequestBuilder& RequestBuilder::ArithmeticExtras(uint64_t delta, uint64_t initial,
                                                 uint32_t expiry) {
  StoreBe64(extras_buf_, delta);
  StoreBe64(extras_buf_ + 8, initial);
  StoreBe32(extras_buf_ + 16, expiry);
  fields_.extras = std::string_view(extras_buf_, 20);
  return *this;
}

RequestBuilder& RequestBuilder::ExpiryExtras(uint32_t expiry) {
  StoreBe32(extras_buf_, expiry);
  fields_.extras = std::string_view(extras_buf_, 4);
  return *this;
}

}  // namespace sluice::protocol
