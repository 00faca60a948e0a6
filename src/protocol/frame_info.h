// File: protocol/frame_info.h
//
// Frame infos: the entries of a frame's "framing extras" (only present with the alt magics 0x08 /
// 0x18). Each entry starts with one byte: id in the high nibble, payload length in the low nibble.
// A nibble of 15 is an escape: the real id (or length) is 15 + the next byte (id escape byte
// first, then length escape byte). The payload follows.
//
// Request ids (client -> server): 0 barrier (empty), 1 durability (level u8 [+ timeout u16 ms]),
// 2 DCP stream-id (u16), 4 impersonate (user; leading '^' = external domain), 5 preserve TTL
// (empty), 6 impersonate extra privilege (name), 7 impersonate-with-token auth-data id (u16).
// Response ids (server -> client): 0 server recv->send duration (u16, encoded), 1 read units,
// 2 write units, 3 throttle duration.
//
// Parsing allocates nothing: ForEachFrameInfo walks the views; ParseRequestFrameInfos collects the
// typed request entries into a small struct of views.
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::protocol {

enum class RequestFrameInfoId : uint16_t {
  kBarrier = 0,
  kDurability = 1,
  kDcpStreamId = 2,
  kImpersonate = 4,
  kPreserveTtl = 5,
  kImpersonateExtraPrivilege = 6,
  kImpersonateWithTokenAuthDataId = 7,
};

enum class ResponseFrameInfoId : uint16_t {
  kServerDuration = 0,
  kReadUnits = 1,
  kWriteUnits = 2,
  kThrottleDuration = 3,
};

struct FrameInfoEntry {
  uint16_t id = 0;
  std::string_view payload;
};

// Reads the entry starting at *offset into *entry and advances *offset past it. Returns false if
// the entry (its escape bytes or its payload) runs past the end of `framing_extras`.
// REQUIRES: *offset < framing_extras.size().
bool ReadFrameInfo(std::string_view framing_extras, size_t* offset, FrameInfoEntry* entry);

// Calls `fn(const FrameInfoEntry&) -> bool` for each entry in order; stops early (returning OK)
// when `fn` returns false. kInvalid if an entry is truncated (entries before it were visited).
template <class Fn>
Status ForEachFrameInfo(std::string_view framing_extras, Fn&& fn) {
  size_t offset = 0;
  FrameInfoEntry entry;
  while (offset < framing_extras.size()) {
    if (!ReadFrameInfo(framing_extras, &offset, &entry)) {
      return Status(Errc::kInvalid, "truncated frame info");
    }
    if (!fn(entry)) break;
  }
  return Status::Ok();
}

enum class DurabilityLevel : uint8_t {
  kNone = 0,  // not valid on the wire
  kMajority = 1,
  kMajorityAndPersistOnMaster = 2,
  kPersistToMajority = 3,
};
// kv_engine's spelling: "majority", "majority_and_persist_on_master", "persist_to_majority".
std::string_view DurabilityLevelName(DurabilityLevel level);

struct DurabilityRequirement {
  DurabilityLevel level = DurabilityLevel::kMajority;
  // Milliseconds; nullopt = the bucket default. 0 and 0xffff are not valid on the wire.
  std::optional<uint16_t> timeout_ms;
};

// The typed view of a request's framing extras.
struct RequestFrameInfos {
  bool barrier = false;
  std::optional<DurabilityRequirement> durability;
  std::optional<uint16_t> dcp_stream_id;
  bool preserve_ttl = false;
  std::optional<std::string_view> impersonate;  // user name as sent ('^' prefix = external)
  int extra_privileges = 0;                     // count of impersonate-extra-privilege entries
  std::string_view first_extra_privilege;
  std::optional<uint16_t> impersonate_token_auth_data_id;
};

// Parses and checks a request's framing extras, with kv_engine's rules:
//   kInvalid               truncated entry; barrier or preserve-TTL with a payload; stream-id or
//                          token-id payload not 2 bytes; durability payload not 1 or 3 bytes;
//                          empty impersonate user or privilege
//   kDurabilityInvalidLevel durability level not 1..3, or timeout 0 / 0xffff
//   kNotSupported          unknown id (kv_engine answers UnknownFrameInfo 0x80; sluice's Errc has
//                          no such code, so the server sees NotSupported — see the report)
// Whether the opcode permits durability / preserve-TTL is checked by ValidateRequest().
StatusOr<RequestFrameInfos> ParseRequestFrameInfos(std::string_view framing_extras);

// Encoders (append one entry, with escapes as needed). `id` must be < 15 + 256 and the payload
// shorter than 15 + 256 bytes.
void AppendFrameInfo(std::string* out, uint16_t id, std::string_view payload);
void AppendDurabilityFrameInfo(std::string* out, const DurabilityRequirement& requirement);
void AppendDcpStreamIdFrameInfo(std::string* out, uint16_t stream_id);
void AppendPreserveTtlFrameInfo(std::string* out);
void AppendBarrierFrameInfo(std::string* out);
void AppendImpersonateFrameInfo(std::string* out, std::string_view user);

// Response side: server recv->send duration, encoded as kv_engine does:
// encoded = (micros * 2) ^ (1 / 1.74), saturated to u16; decoded = encoded ^ 1.74 / 2.
uint16_t EncodeServerDuration(std::chrono::microseconds duration);
std::chrono::microseconds DecodeServerDuration(uint16_t encoded);
void AppendServerDurationFrameInfo(std::string* out, std::chrono::microseconds duration);

}  // namespace sluice::protocol
