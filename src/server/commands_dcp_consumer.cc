// File: server/commands_dcp_consumer.cc
//
// DCP commands of a consumer connection (a DCP_OPEN without the Producer flag): the connection
// hands them to its replication::Consumer, which answers them and sends its own requests on the
// same connection (the driver relays those to the producer). docs/replication.md, "The consumer
// connection".
#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "protocol/dcp_codec.h"
#include "replication/consumer.h"
#include "server/commands.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;

namespace {

// The open flags a consumer honours: what its producer's messages may carry (xattrs, deletions
// with their delete time, deleted documents' user xattrs). The rest are a producer's.
constexpr uint32_t kConsumerFlags = protocol::kDcpOpenIncludeXattrs |
                                    protocol::kDcpOpenIncludeDeleteTimes |
                                    protocol::kDcpOpenIncludeDeletedUserXattrs;

// The consumer_name of the DCP_OPEN value (the validator checked its form).
std::string ConsumerName(std::string_view json_value) {
  if (json_value.empty()) return {};
  const auto json = nlohmann::json::parse(json_value, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("consumer_name")) return {};
  return json["consumer_name"].get<std::string>();
}

}  // namespace

CommandResult OpenConsumer(Connection& conn, const Frame& req,
                           const protocol::DcpOpenRequest& open) {
  if ((open.flags & ~kConsumerFlags) != 0) {
    conn.RespondError(req, Status(Errc::kInvalid,
                                  "DCP_OPEN: a consumer takes only the flags "
                                  "IncludeXattrs, IncludeDeleteTimes and "
                                  "IncludeDeletedUserXattrs"));
    return CommandResult::kDone;
  }
  if (open.name.empty()) {
    conn.RespondError(req, Status(Errc::kInvalid, "DCP_OPEN needs a connection name"));
    return CommandResult::kDone;
  }
  const Config& config = conn.ctx().config();
  replication::ConsumerOptions options;
  options.name = std::string(open.name);
  options.user = conn.user();
  options.controls.consumer_name = ConsumerName(open.json_value);
  options.controls.noop_interval_seconds = static_cast<uint32_t>(config.replication_noop_interval);
  options.controls.buffer_size = static_cast<uint32_t>(config.replication_buffer_size);
  options.throttle_mem_bytes =
      static_cast<uint64_t>(static_cast<double>(conn.bucket()->config().max_size) *
                            config.replication_throttle_threshold);
  options.collections = conn.HasFeature(protocol::Feature::kCollections);
  options.xattrs = (open.flags & protocol::kDcpOpenIncludeXattrs) != 0;
  options.delete_times = (open.flags & protocol::kDcpOpenIncludeDeleteTimes) != 0;
  LOG_INFO("conn {} ({}): DCP consumer '{}' opened (consumer_name '{}', flags {:#x})", conn.id(),
           conn.peer(), open.name, options.controls.consumer_name, open.flags);
  conn.Respond(req, McbpStatus::kSuccess);
  conn.SetConsumer(
      std::make_unique<replication::Consumer>(std::move(options), conn.shared_bucket()));
  return CommandResult::kDone;
}

CommandResult ConsumerRequest(Connection& conn, const Frame& req, const CommandFacts&) {
  replication::Consumer* consumer = conn.consumer();
  if (consumer == nullptr) {
    conn.RespondError(req,
                      Status(Errc::kInvalid, "not a DCP consumer connection (DCP_OPEN first)"));
    return CommandResult::kDone;
  }
  return consumer->OnRequest(req, conn.out()).ok() ? CommandResult::kDone : CommandResult::kClose;
}

}  // namespace sluice::server
