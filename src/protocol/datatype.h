// File: protocol/datatype.h
//
// The datatype byte of a frame: a bit set describing the value. 0 means raw bytes. A client may set
// a bit only after HELLO agreed the matching feature (JSON 0x0b, Snappy 0x0a, XATTR 0x06), though
// real SDKs send JSON regardless, so servers tolerate that bit.
//
// Thread safety: constants and pure functions.
#pragma once

#include <cstdint>

namespace sluice::protocol {

inline constexpr uint8_t kDatatypeRaw = 0x00;
inline constexpr uint8_t kDatatypeJson = 0x01;
inline constexpr uint8_t kDatatypeSnappy = 0x02;
inline constexpr uint8_t kDatatypeXattr = 0x04;
inline constexpr uint8_t kDatatypeAll = kDatatypeJson | kDatatypeSnappy | kDatatypeXattr;

// Only the three defined bits may be set.
constexpr bool IsValidDatatype(uint8_t datatype) { return (datatype & ~kDatatypeAll) == 0; }

}  // namespace sluice::protocol
