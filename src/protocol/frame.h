// File: protocol/frame.h
//
// The 24-byte header and frame delimiting: DecodeFrame() finds the next complete frame in a
// contiguous input buffer and returns views into that buffer (no allocation, no copy).
//
//   off  request (0x80)        response (0x81)        alt request (0x08) / alt response (0x18)
//   0    magic                 magic                  magic
//   1    opcode                opcode                 opcode
//   2-3  key length u16        key length u16         2: framing-extras length, 3: key length
//   4    extras length         extras length          extras length
//   5    datatype              datatype               datatype
//   6-7  vbucket               status                 vbucket / status
//   8-11 body length = framing extras + extras + key + value
//   12-15 opaque, 16-23 CAS (all big-endian)
//
// 0x82/0x83 (server-initiated request / the client's reply) use the 0x80 layout.
//
// Outcomes of DecodeFrame, and what the caller does:
//   kOk        a complete, self-consistent frame; consume `size` bytes.
//   kNeedMore  the buffer holds a prefix of a frame; read until `size` bytes are buffered.
//   kMalformed the stream cannot be delimited safely (unknown magic, body over the limit); the
//              caller logs `reason` and closes the connection.
//   kInvalid   the header delimits `size` bytes fine but its internal lengths do not add up
//              (framing extras + extras + key > body); the frame's header fields are filled in,
//              its sections are empty. A server answers EINVAL with
//              the frame's opaque, consumes `size` bytes and continues. Reported only once the
//              whole frame is buffered, so the caller can always skip it.
//
// DecodeFrame is a pure function of (data, size, max_body): fuzz it directly.
//
// Thread safety: pure functions; a Frame is a value holding views into the caller's buffer and is
// valid as long as that buffer is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/types.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::protocol {

inline constexpr size_t kHeaderSize = 24;

enum class Magic : uint8_t {
  kClientRequest = 0x80,
  kAltClientRequest = 0x08,
  kClientResponse = 0x81,
  kAltClientResponse = 0x18,
  kServerRequest = 0x82,
  kServerResponse = 0x83,
};

bool IsValidMagic(uint8_t magic);
// 0x80, 0x08 or 0x82.
bool IsRequestMagic(Magic magic);
// 0x08 or 0x18: byte 2 is the framing-extras length and byte 3 the key length.
inline bool IsAltMagic(Magic magic) {
  return magic == Magic::kAltClientRequest || magic == Magic::kAltClientResponse;
}
// 0x82 or 0x83 (the opcode is a ServerOpcode).
bool IsServerMagic(Magic magic);

// One decoded frame. `specific` is the vbucket of a request or the status of a response.
struct Frame {
  Magic magic = Magic::kClientRequest;
  uint8_t opcode = 0;
  uint8_t datatype = 0;
  uint16_t specific = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint32_t size = 0;  // header + body: the bytes this frame occupies on the wire
  std::string_view framing_extras;
  std::string_view extras;
  std::string_view key;
  std::string_view value;

  bool is_request() const { return IsRequestMagic(magic); }
  bool is_response() const { return !IsRequestMagic(magic); }
  Opcode client_opcode() const { return static_cast<Opcode>(opcode); }
  ServerOpcode server_opcode() const { return static_cast<ServerOpcode>(opcode); }
  Vbid vbucket() const { return specific; }                                // requests
  McbpStatus status() const { return static_cast<McbpStatus>(specific); }  // responses
  uint32_t body_size() const { return size - static_cast<uint32_t>(kHeaderSize); }
};

enum class DecodeStatus : uint8_t { kOk, kNeedMore, kMalformed, kInvalid };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // kOk / kInvalid: bytes the frame occupies (consume them).
  // kNeedMore: total bytes the frame needs (kHeaderSize while the header is incomplete).
  // kMalformed: 0.
  size_t size = 0;
  std::string_view reason;  // kMalformed / kInvalid: a static description
  Frame frame;              // kOk: complete; kInvalid: header fields only
};

// Delimits the frame at the start of [data, data + size). `max_body` bounds the body length a
// peer may announce (larger is kMalformed: we will not buffer it).
DecodeResult DecodeFrame(const char* data, size_t size, uint32_t max_body) noexcept;
inline DecodeResult DecodeFrame(std::string_view input, uint32_t max_body) noexcept {
  return DecodeFrame(input.data(), input.size(), max_body);
}

}  // namespace sluice::protocol
