// File: protocol/frame_info.cc
#include "protocol/frame_info.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "protocol/byte_order.h"

namespace sluice::protocol {

bool ReadFrameInfo(std::string_view fe, size_t* offset, FrameInfoEntry* entry) {
  size_t pos = *offset;
  const auto first = static_cast<uint8_t>(fe[pos++]);
  size_t id = first >> 4;
  size_t len = first & 0x0f;
  if (id == 0x0f) {
    if (pos >= fe.size()) return false;
    id += static_cast<uint8_t>(fe[pos++]);
  }
  if (len == 0x0f) {
    if (pos >= fe.size()) return false;
    len += static_cast<uint8_t>(fe[pos++]);
  }
  if (len > fe.size() - pos) return false;
  entry->id = static_cast<uint16_t>(id);
  entry->payload = fe.substr(pos, len);
  *offset = pos + len;
  return true;
}

std::string_view DurabilityLevelName(DurabilityLevel level) {
  switch (level) {
    case DurabilityLevel::kNone:
      return "none";
    case DurabilityLevel::kMajority:
      return "majority";
    case DurabilityLevel::kMajorityAndPersistOnMaster:
      return "majority_and_persist_on_master";
    case DurabilityLevel::kPersistToMajority:
      return "persist_to_majority";
  }
  return "unknown";
}

namespace {

Status ParseDurability(std::string_view payload, DurabilityRequirement* out) {
  if (payload.size() != 1 && payload.size() != 3) {
    return Status(Errc::kInvalid, "durability frame info must be 1 or 3 bytes");
  }
  const auto level = static_cast<uint8_t>(payload[0]);
  if (level < 1 || level > 3) {
    return Status(Errc::kDurabilityInvalidLevel, "invalid durability level");
  }
  out->level = static_cast<DurabilityLevel>(level);
  out->timeout_ms.reset();
  if (payload.size() == 3) {
    const uint16_t timeout = LoadBe16(payload.data() + 1);
    if (timeout == 0 || timeout == 0xffff) {
      return Status(Errc::kDurabilityInvalidLevel, "durability timeout must be 1..65534 ms");
    }
    out->timeout_ms = timeout;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<RequestFrameInfos> ParseRequestFrameInfos(std::string_view framing_extras) {
  RequestFrameInfos infos;
  size_t offset = 0;
  FrameInfoEntry entry;
  while (offset < framing_extras.size()) {
    if (!ReadFrameInfo(framing_extras, &offset, &entry)) {
      return Status(Errc::kInvalid, "truncated frame info");
    }
    switch (static_cast<RequestFrameInfoId>(entry.id)) {
      case RequestFrameInfoId::kBarrier:
        if (!entry.payload.empty()) return Status(Errc::kInvalid, "barrier must be empty");
        infos.barrier = true;
        break;
      case RequestFrameInfoId::kDurability: {
        DurabilityRequirement requirement;
        RETURN_IF_ERROR(ParseDurability(entry.payload, &requirement));
        infos.durability = requirement;
        break;
      }
      case RequestFrameInfoId::kDcpStreamId:
        if (entry.payload.size() != 2) {
          return Status(Errc::kInvalid, "DCP stream-id frame info must be 2 bytes");
        }
        infos.dcp_stream_id = LoadBe16(entry.payload.data());
        break;
      case RequestFrameInfoId::kImpersonate:
        if (entry.payload.empty()) return Status(Errc::kInvalid, "impersonated user must be set");
        infos.impersonate = entry.payload;
        break;
      case RequestFrameInfoId::kPreserveTtl:
        if (!entry.payload.empty()) return Status(Errc::kInvalid, "preserve TTL must be empty");
        infos.preserve_ttl = true;
        break;
      case RequestFrameInfoId::kImpersonateExtraPrivilege:
        if (entry.payload.empty()) return Status(Errc::kInvalid, "privilege name must be set");
        if (infos.extra_privileges++ == 0) infos.first_extra_privilege = entry.payload;
        break;
      case RequestFrameInfoId::kImpersonateWithTokenAuthDataId:
        if (entry.payload.size() != 2) {
          return Status(Errc::kInvalid, "token auth-data id frame info must be 2 bytes");
        }
        infos.impersonate_token_auth_data_id = LoadBe16(entry.payload.data());
        break;
      default:
        return Status(Errc::kNotSupported, "unknown frame info id");
    }
  }
  return infos;
}

void AppendFrameInfo(std::string* out, uint16_t id, std::string_view payload) {
  assert(id < 15 + 256);
  assert(payload.size() < 15 + 256);
  char head[3];
  size_t n = 1;
  uint8_t first = 0;
  if (id < 15) {
    first = static_cast<uint8_t>(id << 4);
  } else {
    first = 0xf0;
    head[n++] = static_cast<char>(id - 15);
  }
  if (payload.size() < 15) {
    first |= static_cast<uint8_t>(payload.size());
  } else {
    first |= 0x0f;
    head[n++] = static_cast<char>(payload.size() - 15);
  }
  head[0] = static_cast<char>(first);
  out->append(head, n);
  out->append(payload);
}

void AppendDurabilityFrameInfo(std::string* out, const DurabilityRequirement& requirement) {
  char payload[3];
  payload[0] = static_cast<char>(requirement.level);
  size_t n = 1;
  if (requirement.timeout_ms) {
    StoreBe16(payload + 1, *requirement.timeout_ms);
    n = 3;
  }
  AppendFrameInfo(out, static_cast<uint16_t>(RequestFrameInfoId::kDurability),
                  std::string_view(payload, n));
}

void AppendDcpStreamIdFrameInfo(std::string* out, uint16_t stream_id) {
  char payload[2];
  StoreBe16(payload, stream_id);
  AppendFrameInfo(out, static_cast<uint16_t>(RequestFrameInfoId::kDcpStreamId),
                  std::string_view(payload, 2));
}

void AppendPreserveTtlFrameInfo(std::string* out) {
  AppendFrameInfo(out, static_cast<uint16_t>(RequestFrameInfoId::kPreserveTtl), {});
}

void AppendBarrierFrameInfo(std::string* out) {
  AppendFrameInfo(out, static_cast<uint16_t>(RequestFrameInfoId::kBarrier), {});
}

void AppendImpersonateFrameInfo(std::string* out, std::string_view user) {
  AppendFrameInfo(out, static_cast<uint16_t>(RequestFrameInfoId::kImpersonate), user);
}

uint16_t EncodeServerDuration(std::chrono::microseconds duration) {
  const double micros = static_cast<double>(std::max<int64_t>(duration.count(), 0));
  const double encoded = std::pow(micros * 2.0, 1.0 / 1.74);
  return encoded >= 65535.0 ? uint16_t{65535} : static_cast<uint16_t>(encoded);
}

std::chrono::microseconds DecodeServerDuration(uint16_t encoded) {
  return std::chrono::microseconds(
      static_cast<int64_t>(std::pow(static_cast<double>(encoded), 1.74) / 2.0));
}

void AppendServerDurationFrameInfo(std::string* out, std::chrono::microseconds duration) {
  char payload[2];
  StoreBe16(payload, EncodeServerDuration(duration));
  AppendFrameInfo(out, static_cast<uint16_t>(ResponseFrameInfoId::kServerDuration),
                  std::string_view(payload, 2));
}

}  // namespace sluice::protocol
