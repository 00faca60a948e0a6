// File: protocol/encode.h
//
// Frame encoders. Each appends one complete frame to a caller-owned std::string with a single
// resize (the caller reuses the string across frames, so steady-state encoding allocates nothing).
// Lengths and the header are computed here; callers only supply the sections.
//
//   AppendRequest   magic 0x80, or 0x08 when framing extras are present (then key and framing
//                   extras must each be <= 255 bytes: the alt header has one byte for each)
//   AppendResponse  magic 0x81, or 0x18 when framing extras are present (same limits)
//   AppendFrame     any magic, for server-initiated requests (0x82), their replies (0x83), tests
//   WriteHeader     just the 24 header bytes, for callers that send the body from elsewhere
//
// DCP producer messages are requests (0x80 / 0x08): see dcp_codec.h for their bodies.
// RequestBuilder covers the common client cases in one expression.
//
// Thread safety: pure functions; a RequestBuilder is a value owned by one thread.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "protocol/byte_order.h"
#include "protocol/frame.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::protocol {

struct RequestFields {
  Opcode opcode = Opcode::kNoop;
  uint8_t datatype = 0;
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string_view framing_extras;
  std::string_view extras;
  // When set, the key goes on the wire as LEB128(collection) + key (collection-aware connections).
  std::optional<uint32_t> collection;
  std::string_view key;
  std::string_view value;
};

struct ResponseFields {
  Opcode opcode = Opcode::kNoop;
  uint8_t datatype = 0;
  McbpStatus status = McbpStatus::kSuccess;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string_view framing_extras;
  std::string_view extras;
  std::string_view key;
  std::string_view value;
};

// Writes a 24-byte header at `dst`. Alt magics take framing_len and key_len as single bytes.
// Inline: the in-place DCP item writers (dcp_item_writer.h) write a header per message.
inline void WriteHeader(char* dst, Magic magic, uint8_t opcode, uint16_t specific, uint8_t datatype,
                        uint32_t opaque, uint64_t cas, size_t framing_len, size_t extras_len,
                        size_t key_len, size_t value_len) {
  dst[0] = static_cast<char>(magic);
  dst[1] = static_cast<char>(opcode);
  if (IsAltMagic(magic)) {
    assert(framing_len <= 0xff && key_len <= 0xff);
    dst[2] = static_cast<char>(framing_len);
    dst[3] = static_cast<char>(key_len);
  } else {
    assert(framing_len == 0 && key_len <= 0xffff);
    StoreBe16(dst + 2, static_cast<uint16_t>(key_len));
  }
  assert(extras_len <= 0xff);
  dst[4] = static_cast<char>(extras_len);
  dst[5] = static_cast<char>(datatype);
  StoreBe16(dst + 6, specific);
  StoreBe32(dst + 8, static_cast<uint32_t>(framing_len + extras_len + key_len + value_len));
  StoreBe32(dst + 12, opaque);
  StoreBe64(dst + 16, cas);
}

void AppendFrame(std::string* out, Magic magic, uint8_t opcode, uint16_t specific, uint8_t datatype,
                 uint32_t opaque, uint64_t cas, std::string_view framing_extras,
                 std::string_view extras, std::string_view key, std::string_view value);

void AppendRequest(std::string* out, const RequestFields& request);
void AppendResponse(std::string* out, const ResponseFields& response);

// A response with the request's opcode and opaque and the given status, no body (the common
// error answer).
void AppendStatusResponse(std::string* out, const Frame& request, McbpStatus status);

// Fluent builder for requests: copies small extras into itself, so extras helpers can be chained.
//   RequestBuilder(Opcode::kSet).Key("k").Value("v").MutationExtras(0, 0).Opaque(7).AppendTo(&b);
// Views passed to Key()/Value()/FramingExtras()/Extras() of more than kInlineExtras bytes must
// outlive AppendTo().
class RequestBuilder {
 public:
  static constexpr size_t kInlineExtras = 48;

  explicit RequestBuilder(Opcode opcode) { fields_.opcode = opcode; }
  // Not copyable or movable: fields_.extras may point into extras_buf_.
  RequestBuilder(const RequestBuilder&) = delete;
  RequestBuilder& operator=(const RequestBuilder&) = delete;

  RequestBuilder& Vbucket(Vbid vb) {
    fields_.vbucket = vb;
    return *this;
  }
  RequestBuilder& Opaque(uint32_t opaque) {
    fields_.opaque = opaque;
    return *this;
  }
  RequestBuilder& Cas(uint64_t cas) {
    fields_.cas = cas;
    return *this;
  }
  RequestBuilder& Datatype(uint8_t datatype) {
    fields_.datatype = datatype;
    return *this;
  }
  RequestBuilder& Key(std::string_view key) {
    fields_.key = key;
    return *this;
  }
  RequestBuilder& Collection(uint32_t cid) {
    fields_.collection = cid;
    return *this;
  }
  RequestBuilder& Value(std::string_view value) {
    fields_.value = value;
    return *this;
  }
  RequestBuilder& FramingExtras(std::string_view fe) {
    fields_.framing_extras = fe;
    return *this;
  }
  // Copied when <= kInlineExtras bytes, else viewed.
  RequestBuilder& Extras(std::string_view extras);
  // SET/ADD/REPLACE: flags u32 + expiry u32.
  RequestBuilder& MutationExtras(uint32_t flags, uint32_t expiry);
  // INCR/DECR: delta u64 + initial u64 + expiry u32.
  RequestBuilder& ArithmeticExtras(uint64_t delta, uint64_t initial, uint32_t expiry);
  // TOUCH/GAT: expiry u32.
  RequestBuilder& ExpiryExtras(uint32_t expiry);

  void AppendTo(std::string* out) const { AppendRequest(out, fields_); }
  std::string Build() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  RequestFields fields_;
  char extras_buf_[kInlineExtras];
};

}  // namespace sluice::protocol
