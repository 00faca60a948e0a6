// File: protocol/frame.cc
#include "protocol/frame.h"

#include "protocol/byte_order.h"

namespace sluice::protocol {

bool IsValidMagic(uint8_t magic) {
  switch (static_cast<Magic>(magic)) {
    case Magic::kClientRequest:
    case Magic::kAltClientRequest:
    case Magic::kClientResponse:
    case Magic::kAltClientResponse:
    case Magic::kServerRequest:
    case Magic::kServerResponse:
      return true;
  }
  return false;
}

bool IsRequestMagic(Magic magic) {
  return magic == Magic::kClientRequest || magic == Magic::kAltClientRequest ||
         magic == Magic::kServerRequest;
}

bool IsServerMagic(Magic magic) {
  return magic == Magic::kServerRequest || magic == Magic::kServerResponse;
}

DecodeResult DecodeFrame(const char* data, size_t size, uint32_t max_body) noexcept {
  DecodeResult result;
  if (size == 0) {
    result.status = DecodeStatus::kNeedMore;
    result.size = kHeaderSize;
    return result;
  }
  // Check the magic as soon as one byte is there, so garbage is refused without waiting.
  const auto magic_byte = static_cast<uint8_t>(data[0]);
  if (!IsValidMagic(magic_byte)) {
    result.status = DecodeStatus::kMalformed;
    result.reason = "unknown magic";
    return result;
  }
  if (size < kHeaderSize) {
    result.status = DecodeStatus::kNeedMore;
    result.size = kHeaderSize;
    return result;
  }

  const uint32_t body = LoadBe32(data + 8);
  if (body > max_body) {
    result.status = DecodeStatus::kMalformed;
    result.reason = "body length exceeds the limit";
    return result;
  }
  const size_t total = kHeaderSize + body;

  Frame& frame = result.frame;
  frame.magic = static_cast<Magic>(magic_byte);
  frame.opcode = static_cast<uint8_t>(data[1]);
  frame.datatype = static_cast<uint8_t>(data[5]);
  frame.specific = LoadBe16(data + 6);
  frame.opaque = LoadBe32(data + 12);
  frame.cas = LoadBe64(data + 16);
  frame.size = static_cast<uint32_t>(total);

  if (size < total) {
    result.status = DecodeStatus::kNeedMore;
    result.size = total;
    return result;
  }

  size_t framing_len = 0;
  size_t key_len = 0;
  if (IsAltMagic(frame.magic)) {
    framing_len = static_cast<uint8_t>(data[2]);
    key_len = static_cast<uint8_t>(data[3]);
  } else {
    key_len = LoadBe16(data + 2);
  }
  const size_t extras_len = static_cast<uint8_t>(data[4]);
  result.size = total;
  if (framing_len + extras_len + key_len > body) {
    result.status = DecodeStatus::kInvalid;
    result.reason = "framing extras, extras and key exceed the body length";
    return result;
  }

  const char* p = data + kHeaderSize;
  frame.framing_extras = std::string_view(p, framing_len);
  p += framing_len;
  frame.extras = std::string_view(p, extras_len);
  p += extras_len;
  frame.key = std::string_view(p, key_len);
  p += key_len;
  frame.value = std::string_view(p, body - framing_len - extras_len - key_len);
  result.status = DecodeStatus::kOk;
  return result;
}

}  // namespace sluice::protocol
