// File: fuzz/fuzz_input.h
//
// FuzzInput and FuzzInputWriter: the byte layout of the structured fuzz targets' inputs
// (request_fuzzer, sasl_fuzzer, config_fuzzer), read by the targets and written by make_corpus
// so the committed seeds are exactly what the targets expect. frame_fuzzer takes raw wire bytes
// and needs neither.
//
// Layout, read front to back; every read is total (past the end it yields zeros / empty):
//   U8     one byte
//   U16    two bytes, big-endian
//   Str    U16 length, then that many bytes (clamped to what is left)
//   Rest   every byte not read yet
//
// A fuzzer that flips a length byte only shifts where the next field starts, so mutated inputs
// stay meaningful.
//
// Thread safety: values owned by one thread (libFuzzer runs one input at a time).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit FuzzInput(std::string_view bytes) : rest_(bytes) {}

  uint8_t U8() {
    if (rest_.empty()) return 0;
    const auto v = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return v;
  }
  uint16_t U16() {
    const uint16_t hi = U8();
    return static_cast<uint16_t>((hi << 8) | U8());
  }
  std::string_view Str() {
    const size_t n = std::min<size_t>(U16(), rest_.size());
    std::string_view s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return s;
  }
  std::string_view Rest() {
    std::string_view s = rest_;
    rest_ = {};
    return s;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

class FuzzInputWriter {
 public:
  FuzzInputWriter& U8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  FuzzInputWriter& U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    return U8(static_cast<uint8_t>(v));
  }
  // REQUIRES: s.size() <= 0xffff.
  FuzzInputWriter& Str(std::string_view s) {
    U16(static_cast<uint16_t>(s.size()));
    out_.append(s);
    return *this;
  }
  FuzzInputWriter& Rest(std::string_view s) {
    out_.append(s);
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

}  // namespace sluice::fuzz
