// File: protocol/byte_order.h
//
// Big-endian loads and stores for the memcached binary protocol, which puts every multi-byte
// integer on the wire in network byte order. The helpers work on unaligned `char` pointers (frames
// are views into arbitrary socket buffers); compilers turn them into one load plus a byte swap.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::protocol {

inline uint16_t LoadBe16(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint16_t>((uint16_t{u[0]} << 8) | uint16_t{u[1]});
}

inline uint32_t LoadBe32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

inline uint64_t LoadBe64(const char* p) {
  return (uint64_t{LoadBe32(p)} << 32) | uint64_t{LoadBe32(p + 4)};
}

inline void StoreBe16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}

inline void StoreBe32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

inline void StoreBe64(char* p, uint64_t v) {
  StoreBe32(p, static_cast<uint32_t>(v >> 32));
  StoreBe32(p + 4, static_cast<uint32_t>(v));
}

inline void AppendBe16(std::string* out, uint16_t v) {
  char b[2];
  StoreBe16(b, v);
  out->append(b, sizeof(b));
}

inline void AppendBe32(std::string* out, uint32_t v) {
  char b[4];
  StoreBe32(b, v);
  out->append(b, sizeof(b));
}

inline void AppendBe64(std::string* out, uint64_t v) {
  char b[8];
  StoreBe64(b, v);
  out->append(b, sizeof(b));
}

}  // namespace sluice::protocol
