#include "replication/consumer_common.h"

#include <algorithm>
#include <type_traits>
#include <variant>

namespace sluice::replication {

std::vector<std::pair<std::string, std::string>> ConsumerControls(const ControlOptions& options) {
  std::vector<std::pair<std::string, std::string>> controls;
  if (!options.consumer_name.empty()) controls.emplace_back("consumer_name", options.consumer_name);
  controls.emplace_back("enable_noop", "true");
  controls.emplace_back("set_noop_interval", std::to_string(options.noop_interval_seconds));
  controls.emplace_back("set_priority", "high");
  controls.emplace_back("connection_buffer_size", std::to_string(options.buffer_size));
  controls.emplace_back("enable_expiry_opcode", "true");
  controls.emplace_back("v7_dcp_status_codes", "true");
  if (options.sync_writes) controls.emplace_back("enable_sync_writes", "true");
  return controls;
}

std::chrono::milliseconds SilenceLimit(uint32_t noop_interval_seconds) {
  return std::chrono::milliseconds(uint64_t{noop_interval_seconds} * 3000 + 2000);
}

std::optional<std::pair<Vbid, uint32_t>> AddressOf(const client::DcpMessage& message) {
  return std::visit(
      [](const auto& m) -> std::optional<std::pair<Vbid, uint32_t>> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, client::Response>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, client::DcpOtherRequest>) {
          if (m.magic == protocol::Magic::kServerRequest) return std::nullopt;
          return std::make_pair(m.vbucket, m.opaque);
        } else {
          return std::make_pair(m.vbucket, m.opaque);
        }
      },
      message);
}

std::optional<std::pair<Vbid, uint32_t>> AddressOf(const client::DcpMessageView& message) {
  return std::visit(
      [](const auto& m) -> std::optional<std::pair<Vbid, uint32_t>> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::Frame>) {
          if (m.is_response() || m.magic == protocol::Magic::kServerRequest) return std::nullopt;
          return std::make_pair(m.vbucket(), m.opaque);
        } else {
          return std::make_pair(m.vbucket, m.opaque);
        }
      },
      message.message);
}

uint32_t BufferAcker::Take(int64_t mem_used, bool idle, bool* throttled) {
  if (pending_ == 0) return 0;
  if (static_cast<uint64_t>(std::max<int64_t>(mem_used, 0)) > throttle_mem_bytes_) {
    if (throttled != nullptr) *throttled = true;
    return 0;
  }
  if (!idle && pending_ < buffer_size_ / 4) return 0;
  const uint32_t bytes = pending_;
  pending_ = 0;
  return bytes;
}

}  // namespace sluice::replication
