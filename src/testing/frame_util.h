// File: testing/frame_util.h
//
// What the codec unit tests (src/protocol) share: Bytes() spells a byte string as a list of
// values, DecodeWhole() decodes a frame that must be exactly the given bytes.
//
// Ownership: test-only, header-only. Thread safety: pure functions.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "protocol/frame.h"

namespace sluice::testing {

inline std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// Decodes `wire`, which must hold one whole frame and nothing more.
inline protocol::Frame DecodeWhole(const std::string& wire) {
  const protocol::DecodeResult d = protocol::DecodeFrame(wire, 1 << 20);
  EXPECT_EQ(d.status, protocol::DecodeStatus::kOk);
  EXPECT_EQ(d.size, wire.size());
  return d.frame;
}

}  // namespace sluice::testing
