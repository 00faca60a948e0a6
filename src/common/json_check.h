// File: common/json_check.h
//
// IsValidJson: whether a document value is a JSON document, to set the JSON datatype bit on
// stores the way kv_engine does (clients need not say so; many memcached clients cannot).
// Thread safety: pure function.
#pragma once

#include <string_view>

namespace sluice {

bool IsValidJson(std::string_view text);

}  // namespace sluice
