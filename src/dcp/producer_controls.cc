// Producer::Control: one table of the DCP_CONTROL keys sluice knows (kv_engine's
// DcpControlKeys), each with the method that applies it. A key in the table is honoured, or
// refused with NotSupported (ControlNotSupported); a key not in it is Invalid.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/clock.h"
#include "common/logging.h"
#include "dcp/producer.h"

namespace sluice::dcp {
namespace {

bool ParseU32(std::string_view text, uint32_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseSeconds(std::string_view text, double* out) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(*out) &&
         *out >= 0;
}

}  // namespace

const Producer::ControlEntry* Producer::FindControl(std::string_view key) {
  static constexpr ControlEntry kControls[] = {
      {"backfill_order", &Producer::ControlBackfillOrder},
      {"connection_buffer_size", &Producer::ControlBufferSize},
      {"consumer_name", &Producer::ControlConsumerName},
      {"enable_expiry_opcode", &Producer::ControlExpiryOpcode},
      {"enable_noop", &Producer::ControlEnableNoop},
      {"enable_out_of_order_snapshots", &Producer::ControlOutOfOrder},
      {"enable_stream_id", &Producer::ControlStreamId},
      {"enable_sync_writes", &Producer::ControlSyncWrites},
      {"include_deleted_user_xattrs", &Producer::ControlDeletedUserXattrs},
      {"max_marker_version", &Producer::ControlMaxMarkerVersion},
      {"send_stream_end_on_client_close_stream", &Producer::ControlStreamEndOnClose},
      {"set_noop_interval", &Producer::ControlNoopInterval},
      {"set_priority", &Producer::ControlPriority},
      {"supports_cursor_dropping", &Producer::ControlCursorDropping},
      {"supports_cursor_dropping_vulcan", &Producer::ControlCursorDropping},
      {"supports_hifi_MFU", &Producer::ControlHifiMfu},
      {"v7_dcp_status_codes", &Producer::ControlV7StatusCodes},
      // Known to kv_engine, not implemented here: refused, never silently accepted.
      {"cache_transfer", &Producer::ControlNotSupported},
      {"change_streams", &Producer::ControlNotSupported},
      {"flatbuffers_system_events", &Producer::ControlNotSupported},
      {"force_value_compression", &Producer::ControlNotSupported},
      {"stream_buffer_size", &Producer::ControlNotSupported},
  };
  for (const ControlEntry& entry : kControls) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

Status Producer::Control(std::string_view key, std::string_view value) {
  MessageReceived();
  if (disconnecting_.load()) return Errc::kDisconnect;
  const ControlEntry* entry = FindControl(key);
  if (entry == nullptr) return InvalidControl(key, value);
  Status s = (this->*(entry->apply))(value);
  if (s.code() == Errc::kNotSupported) {
    return Status(Errc::kNotSupported, "DCP control " + std::string(key) + "=" +
                                           std::string(value) + " is not supported");
  }
  if (s.code() == Errc::kInvalid) return InvalidControl(key, value);
  return s;
}

Status Producer::InvalidControl(std::string_view key, std::string_view value) const {
  LOG_WARN("dcp {}: invalid control {}={}", conn_name_, key, value);
  return Status(Errc::kInvalid, "invalid value for DCP control " + std::string(key));
}

Status Producer::ControlNotSupported(std::string_view) { return Errc::kNotSupported; }

Status Producer::ControlBufferSize(std::string_view value) {
  uint32_t size = 0;
  if (!ParseU32(value, &size)) return Errc::kInvalid;
  bool unblocked = false;
  {
    MutexLock lock(&mu_);
    const bool was_full = flow_.IsFull();
    flow_.SetBufferSize(size);
    unblocked = was_full && !flow_.IsFull();
  }
  if (unblocked) NotifyConnection();
  return Status::Ok();
}

Status Producer::ControlEnableNoop(std::string_view value) {
  MutexLock lock(&mu_);
  noop_enabled_ = value == "true";
  return Status::Ok();
}

Status Producer::ControlNoopInterval(std::string_view value) {
  double seconds = 0;
  // kv_engine: must not be below the connection manager interval (the noop is driven by it).
  if (!ParseSeconds(value, &seconds) || seconds < connection_manager_interval_) {
    return Errc::kInvalid;
  }
  MutexLock lock(&mu_);
  noop_interval_ = Seconds(seconds);
  return Status::Ok();
}

Status Producer::ControlPriority(std::string_view value) {
  if (value == "high") {
    priority_.store(Priority::kHigh);
  } else if (value == "medium") {
    priority_.store(Priority::kMedium);
  } else if (value == "low") {
    priority_.store(Priority::kLow);
  } else {
    return Errc::kInvalid;
  }
  return Status::Ok();
}

Status Producer::ControlCursorDropping(std::string_view value) {
  MutexLock lock(&mu_);
  cursor_dropping_ = value == "true";
  return Status::Ok();
}

Status Producer::ControlStreamEndOnClose(std::string_view value) {
  // One way, as kv_engine: it cannot be turned off again.
  if (value == "true") {
    MutexLock lock(&mu_);
    send_stream_end_on_close_ = true;
  }
  return Status::Ok();
}

Status Producer::ControlExpiryOpcode(std::string_view value) {
  // Expirations use the deletion-v2 layout: only with DCP_OPEN IncludeDeleteTimes.
  MutexLock lock(&mu_);
  expiry_opcode_ = value == "true" && (open_flags_ & protocol::kDcpOpenIncludeDeleteTimes) != 0;
  return Status::Ok();
}

Status Producer::ControlBackfillOrder(std::string_view value) {
  BackfillManager::Order order;
  if (value == "round-robin") {
    order = BackfillManager::Order::kRoundRobin;
  } else if (value == "sequential") {
    order = BackfillManager::Order::kSequential;
  } else {
    return Errc::kInvalid;
  }
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    manager = manager_;
  }
  if (manager == nullptr) return Errc::kDisconnect;
  manager->SetOrder(order);
  return Status::Ok();
}

Status Producer::ControlV7StatusCodes(std::string_view value) {
  if (value != "true") return Errc::kInvalid;
  v7_status_codes_.store(true);
  return Status::Ok();
}

Status Producer::ControlConsumerName(std::string_view value) {
  MutexLock lock(&mu_);
  consumer_name_ = std::string(value);  // shown in stats; names the consumer in logs
  return Status::Ok();
}

Status Producer::ControlHifiMfu(std::string_view value) {
  // The consumer can take 8-bit MFU values; this producer sends none (the nru byte stays 0,
  // which both encodings read as "no hint"), so there is nothing to switch.
  return value == "true" || value == "false" ? Status::Ok() : Status(Errc::kInvalid);
}

Status Producer::ControlOutOfOrder(std::string_view value) {
  // One way, as kv_engine. Honoured by every stream requested from 0 afterwards.
  StreamOptions::Oso oso;
  if (value == "true") {
    oso = StreamOptions::Oso::kOn;
  } else if (value == "true_with_seqno_advanced") {
    oso = StreamOptions::Oso::kWithSeqnoAdvanced;
  } else {
    return Errc::kInvalid;
  }
  // OSO markers and SeqnoAdvanced are messages of collection-aware consumers.
  if (!collections_) return Errc::kNotSupported;
  MutexLock lock(&mu_);
  oso_ = oso;
  return Status::Ok();
}

Status Producer::ControlStreamId(std::string_view value) {
  // One way, as kv_engine: only "true" is accepted.
  if (value != "true") return Errc::kInvalid;
  MutexLock lock(&mu_);
  if (!streams_.empty()) return Errc::kInvalid;  // stream ids are chosen before any stream
  if (sync_writes_) return Errc::kNotSupported;  // kv_engine (MB-32318): not with sync writes
  stream_ids_ = true;
  return Status::Ok();
}

Status Producer::ControlSyncWrites(std::string_view value) {
  // One way, as kv_engine; refused beside enable_stream_id (MB-32318).
  if (value != "true") return Errc::kInvalid;
  MutexLock lock(&mu_);
  if (stream_ids_) return Errc::kNotSupported;
  sync_writes_ = true;
  return Status::Ok();
}

Status Producer::ControlMaxMarkerVersion(std::string_view value) {
  if (value != "2.2") return Errc::kInvalid;
  // kv_engine allows V2.2 markers only on collection-aware connections.
  if (!collections_) return Errc::kNotSupported;
  marker_v2_2_.store(true);
  return Status::Ok();
}

Status Producer::ControlDeletedUserXattrs(std::string_view value) {
  // kv_engine: "true" is acknowledged only if DCP_OPEN asked for IncludeDeletedUserXattrs.
  if (value == "true" && (open_flags_ & protocol::kDcpOpenIncludeDeletedUserXattrs) != 0) {
    return Status::Ok();
  }
  return Errc::kInvalid;
}

size_t Producer::StepBudget() const {
  switch (priority_.load()) {
    case Priority::kHigh:
      return 1 << 20;
    case Priority::kMedium:
      return 512 << 10;
    case Priority::kLow:
      return 64 << 10;
  }
  return 512 << 10;
}

}  // namespace sluice::dcp
