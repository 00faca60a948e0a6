// File: common/crc32c.h
//
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), what kv_engine reports as a document's
// value_crc32c (subdoc's $document and ${Mutation.value_crc32c}).
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

uint32_t Crc32c(std::string_view data);

}  // namespace sluice
