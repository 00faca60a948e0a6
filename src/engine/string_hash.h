// File: engine/string_hash.h
//
// Transparent hash and equality for absl hash containers keyed by std::string, so lookups take a
// std::string_view without building a string. (Debian's abseil has its own absl::string_view,
// distinct from std::string_view, so its default transparent functors do not accept ours.)
#pragma once

#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <string_view>

namespace sluice::engine {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

}  // namespace sluice::engine
