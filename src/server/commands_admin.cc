// File: server/commands_admin.cc
//
// Admin commands: STAT, vbucket state, sequence numbers, failover logs and the cluster config.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/types.h"
#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/payload.h"
#include "server/command_timings.h"
#include "server/command_util.h"
#include "server/commands.h"

namespace sluice::server {

using protocol::Feature;
using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

namespace {

void AddServerStats(Connection& conn, const engine::AddStatFn& add) {
  ServerContext& ctx = conn.ctx();
  ServerStats& s = ctx.stats();
  auto num = [&](std::string_view k, auto v) { add(k, fmt::format("{}", v)); };
  num("pid", getpid());
  num("uptime", ctx.UptimeSeconds());
  num("time", ctx.clock().WallSeconds());
  add("version", SLUICE_VERSION);
  num("pointer_size", sizeof(void*) * 8);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  add("rusage_user", fmt::format("{}.{:06}", usage.ru_utime.tv_sec, usage.ru_utime.tv_usec));
  add("rusage_system", fmt::format("{}.{:06}", usage.ru_stime.tv_sec, usage.ru_stime.tv_usec));
  num("curr_connections", s.curr_connections.load());
  num("total_connections", s.total_connections.load());
  num("rejected_conns", s.rejected_connections.load());
  num("threads", ctx.config().io_threads);
  num("auth_cmds", s.auth_cmds.load());
  num("auth_errors", s.auth_errors.load());
  num("auth_failure_disconnects", s.auth_failure_disconnects.load());
  num("idle_disconnects", s.idle_disconnects.load());
  num("bytes_read", s.bytes_read.load());
  num("bytes_written", s.bytes_written.load());
  num("malformed_frames", s.malformed_frames.load());
  num("max_connections", ctx.config().max_connections);
  if (ctx.cluster().dynamic()) {
    // A member of a cluster kept in etcd (docs/cluster.md): its agent's state and the config's.
    add("cluster_node_state", ctx.cluster().node_state());
    num("cluster_map_rev", ctx.ConfigRevision());
    num("cluster_epoch", ctx.ConfigEpoch());
  }
}

}  // namespace

namespace {

// STAT dcp's consumer connections (kv_engine lists them beside the producers): the replicator's
// links (they connect out: no server port, so a port filter leaves them out) and the consumers
// drivers opened with DCP_OPEN.
void AddConsumerDcpStats(const ServerContext& ctx, const dcp::ConnMap::StatsFilter& filter,
                         const engine::AddStatFn& add) {
  using Format = dcp::Producer::StreamStatsFormat;
  const replication::DcpStreamStatsFormat format =
      filter.format == Format::kJson   ? replication::DcpStreamStatsFormat::kJson
      : filter.format == Format::kSkip ? replication::DcpStreamStatsFormat::kSkip
                                       : replication::DcpStreamStatsFormat::kLegacy;
  if (!filter.port) {
    if (auto replicator = ctx.replicator()) replicator->AddDcpStats(format, add, filter.user);
  }
  for (const auto& [board, port] : ctx.ConsumerBoards()) {
    if (filter.port && *filter.port != port) continue;
    const replication::ConsumerConnStats c = board->Read();
    if (filter.user && *filter.user != c.user) continue;
    replication::AddConsumerDcpStats(c, format, add);
  }
}

}  // namespace

CommandResult Stat(Connection& conn, const Frame& req, const CommandFacts&) {
  const std::string_view group = req.key;
  // Each stat is one response (key = name, value = text) with the request's opaque, then an
  // empty response ends the list.
  std::string* out = conn.out();
  const size_t rollback = out->size();
  engine::AddStatFn add = [&](std::string_view key, std::string_view value) {
    conn.Respond(req, McbpStatus::kSuccess, {}, key, value);
  };
  if (group.empty()) AddServerStats(conn, add);
  if (engine::Bucket* bucket = conn.bucket()) {
    // "dcp" / "dcpagg ..." belong to the bucket's DCP directory; the request's value carries
    // the "dcp" group's JSON options (cbstats sends {"stream_format":"json"}). "timings" is the
    // per-opcode latency (server/command_timings.h): text histograms for cbstats, JSON
    // (HdrHistogram::to_json) for every other client, chosen by the HELLO agent as kv_engine.
    const bool dcp_group =
        group == "dcp" || group.rfind("dcp ", 0) == 0 || group.rfind("dcpagg", 0) == 0;
    Status s = Status::Ok();
    if (group == "timings") {
      const bool cbstats = conn.agent().find("cbstat") != std::string::npos;
      AddTimingStats(conn.ctx().timings(), cbstats ? TimingsFormat::kCbstats : TimingsFormat::kJson,
                     add);
    } else if (dcp_group && conn.ctx().conn_map()) {
      s = conn.ctx().conn_map()->GetStats(
          group, req.value, add,
          [&ctx = conn.ctx()](const dcp::ConnMap::StatsFilter& filter,
                              const engine::AddStatFn& add_stat) {
            AddConsumerDcpStats(ctx, filter, add_stat);
          });
    } else if (group == "replication") {
      // The consumer side (src/replication): one entry per replication connection and stream.
      if (auto replicator = conn.ctx().replicator()) replicator->AddStats(add);
    } else {
      s = bucket->GetStats(group, add);
    }
    if (!s.ok()) {
      out->resize(rollback);  // no partial list: just the error
      conn.RespondError(req, s);
      return CommandResult::kDone;
    }
  } else if (!group.empty()) {
    out->resize(rollback);
    conn.Respond(req, McbpStatus::kNoBucket);
    return CommandResult::kDone;
  }
  conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kDone;
}

// SET_VBUCKET: the state in the extras and, for an active vbucket, an optional JSON value
// {"topology": [[active, replica|null, ...], ...]} (common/vbucket_topology.h). A change of the
// map reaches clients through the bucket's VBucketMapListener (cluster-config pushes).
CommandResult SetVBucket(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  const uint8_t wire = static_cast<uint8_t>(req.extras[0]);
  if (!IsValidVBucketState(wire)) {
    conn.RespondError(req, Status(Errc::kInvalid, "invalid vbucket state"));
    return CommandResult::kDone;
  }
  auto meta = ParseSetVBucketMeta(req.value);
  if (!meta.ok()) {
    conn.RespondError(req, meta.status());
    return CommandResult::kDone;
  }
  Status s = bucket.SetVBucketState(req.vbucket(), static_cast<VBucketState>(wire), *meta);
  if (s.ok()) {
    conn.Respond(req, McbpStatus::kSuccess);
  } else {
    conn.RespondError(req, s);
  }
  return CommandResult::kDone;
}

CommandResult GetVBucket(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  auto state = bucket.GetVBucketState(req.vbucket());
  if (!state.ok()) {
    conn.RespondError(req, state.status());
    return CommandResult::kDone;
  }
  std::string value;
  protocol::AppendBe32(&value, static_cast<uint32_t>(*state));
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  return CommandResult::kDone;
}

CommandResult DelVBucket(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  Status s = bucket.DeleteVBucket(req.vbucket());
  if (s.ok()) {
    conn.Respond(req, McbpStatus::kSuccess);
  } else {
    conn.RespondError(req, s);
  }
  return CommandResult::kDone;
}

CommandResult GetAllVbSeqnos(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  auto filter = protocol::DecodeAllVbSeqnosExtras(req.extras);
  if (!filter.ok()) {
    conn.RespondError(req, filter.status());
    return CommandResult::kDone;
  }
  std::optional<VBucketState> state;
  if (*filter) {
    if ((*filter)->collection_id && *(*filter)->collection_id != 0) {
      conn.RespondError(req, Status(Errc::kUnknownCollection));
      return CommandResult::kDone;
    }
    if ((*filter)->state != 0) {
      if (!IsValidVBucketState((*filter)->state)) {
        conn.RespondError(req, Status(Errc::kInvalid, "invalid vbucket state filter"));
        return CommandResult::kDone;
      }
      state = static_cast<VBucketState>((*filter)->state);
    }
  }
  std::string value;
  for (const auto& [vb, seqno] : bucket.GetAllVbSeqnos(state)) {
    protocol::AppendVbSeqnoEntry(&value, vb, seqno);
  }
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  return CommandResult::kDone;
}

CommandResult ObserveSeqno(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  auto uuid = protocol::DecodeU64(req.value);
  if (!uuid.ok()) {
    conn.RespondError(req, uuid.status());
    return CommandResult::kDone;
  }
  auto r = bucket.ObserveSeqno(req.vbucket(), *uuid);
  if (!r.ok()) {
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  protocol::ObserveSeqnoReply reply;
  reply.failover = r->failover;
  reply.vbucket = req.vbucket();
  reply.vbucket_uuid = r->uuid;
  reply.last_persisted_seqno = r->last_persisted_seqno;
  reply.current_seqno = r->current_seqno;
  reply.old_vbucket_uuid = r->old_uuid;
  reply.last_received_seqno = r->old_last_seqno;
  std::string value;
  protocol::AppendObserveSeqnoReply(&value, reply);
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  return CommandResult::kDone;
}

CommandResult GetFailoverLog(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  auto log = bucket.GetFailoverLog(req.vbucket());
  if (!log.ok()) {
    conn.RespondError(req, log.status());
    return CommandResult::kDone;
  }
  std::vector<protocol::FailoverEntry> entries;
  for (const auto& e : *log) entries.push_back({e.uuid, e.seqno});
  std::string value;
  protocol::AppendFailoverLog(&value, entries);
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  return CommandResult::kDone;
}

CommandResult GetClusterConfig(Connection& conn, const Frame& req, const CommandFacts&) {
  if (!req.extras.empty()) {
    auto known = protocol::DecodeClusterConfigVersion(req.extras);
    if (!known.ok()) {
      conn.RespondError(req, known.status());
      return CommandResult::kDone;
    }
    const int64_t rev = conn.ctx().ConfigRevision();
    const int64_t epoch = conn.ctx().ConfigEpoch();
    if (known->epoch > epoch || (known->epoch == epoch && known->revision >= rev)) {
      conn.Respond(req, McbpStatus::kSuccess);  // the client's copy is current
      return CommandResult::kDone;
    }
  }
  const uint8_t datatype =
      conn.HasFeature(Feature::kJson) ? protocol::kDatatypeJson : protocol::kDatatypeRaw;
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, conn.ctx().ClusterConfig(conn.local_host()),
               datatype);
  return CommandResult::kDone;
}

CommandResult GetCmdTimer(Connection& conn, const Frame& req, const CommandFacts&) {
  if (req.extras.size() != 1 || !req.value.empty() || req.cas != 0) {
    conn.RespondError(req, Status(Errc::kInvalid, "GET_CMD_TIMER: extras must be the opcode"));
    return CommandResult::kDone;
  }
  const std::string_view name = req.key;
  const engine::Bucket* bucket = conn.bucket();
  if (!name.empty() && name != "/all/" && name != "@no bucket@" &&
      (bucket == nullptr || name != bucket->name())) {
    conn.RespondError(req, Status(Errc::kNotSupported, "GET_CMD_TIMER: not the selected bucket"));
    return CommandResult::kDone;
  }
  const auto op = static_cast<Opcode>(static_cast<uint8_t>(req.extras[0]));
  conn.Respond(req, McbpStatus::kSuccess, {}, {},
               HdrHistogramJson(conn.ctx().timings().Of(op).Take()), protocol::kDatatypeJson);
  return CommandResult::kDone;
}

}  // namespace sluice::server
