// File: fuzz/syncwrite_fuzzer.cc
//
// libFuzzer target for the SyncWrite codecs and the active's handling of a replica's ack. The
// input is one setup byte, then wire bytes delimited into frames as a connection does it
// (protocol::DecodeFrame). Every frame's framing extras go through ParseRequestFrameInfos (the
// durability requirement a client sends); every request frame of DCP_PREPARE (0x60), DCP_COMMIT
// (0x62), DCP_ABORT (0x63) and DCP_SEQNO_ACKNOWLEDGED (0x61) through its decoder. A prepare that
// decodes is tracked by an engine::ActiveDurabilityMonitor (as the active tracks the prepares it
// queued) and a seqno-ack that decodes is applied to it (the frame's vbucket picks the node: 0
// the active's own persistence, 1 and 2 the replicas of the topology, 3 a node outside it), as
// the producer does with a replica's DCP_SEQNO_ACKNOWLEDGED (dcp::Producer::SeqnoAcknowledged ->
// Bucket -> VBucket -> the monitor; the network and the bucket around it are left out).
//
// Setup byte: bit 0 collection-aware keys; bit 1 a second chain [active, r2, r1] (a topology
// during a move); bit 2 the first chain's second replica is a null slot.
//
// Invariants: nothing crashes; a decoder that fails says kInvalid (or kDcpStreamIdInvalid); what
// decodes encodes (AppendDcpPrepare / AppendDcpResolution / AppendDcpSeqnoAcknowledged /
// AppendDurabilityFrameInfo) into one frame that decodes to the same fields; the monitor commits
// exactly the prepares a model of kv_engine's rules (majority of every chain, a null slot never
// acks, the active's vote and persistence by level) says are satisfied, in seqno order, and
// high_completed_seqno <= high_prepared_seqno.
// Seeds: fuzz/corpus/syncwrite/ (from make_corpus).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "common/vbucket_topology.h"
#include "engine/durability_monitor.h"
#include "fuzz/fuzz_check.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/frame.h"
#include "protocol/frame_info.h"
#include "protocol/opcode.h"

namespace sluice::fuzz {
namespace {

using protocol::Frame;
using protocol::Opcode;

constexpr uint32_t kMaxBody = 1u << 20;
const std::string kActive = "active";

bool ExpectedDecodeError(const Status& s) {
  return s.code() == Errc::kInvalid || s.code() == Errc::kDcpStreamIdInvalid;
}

// The one frame `wire` holds, which must be all of it.
Frame Reframe(const std::string& wire) {
  const protocol::DecodeResult r = protocol::DecodeFrame(wire, static_cast<uint32_t>(wire.size()));
  FUZZ_CHECK(r.status == protocol::DecodeStatus::kOk, "an encoded message is a valid frame");
  FUZZ_CHECK(r.size == wire.size(), "an encoded message is one frame");
  return r.frame;
}

void CheckFrameInfos(const Frame& frame) {
  StatusOr<protocol::RequestFrameInfos> infos =
      protocol::ParseRequestFrameInfos(frame.framing_extras);
  if (!infos.ok()) {
    FUZZ_CHECK(infos.status().code() == Errc::kInvalid ||
                   infos.status().code() == Errc::kDurabilityInvalidLevel ||
                   infos.status().code() == Errc::kNotSupported,
               "bad frame infos are kInvalid, kDurabilityInvalidLevel or kNotSupported");
    return;
  }
  if (!infos->durability) return;
  const protocol::DurabilityRequirement& d = *infos->durability;
  FUZZ_CHECK(d.level >= protocol::DurabilityLevel::kMajority &&
                 d.level <= protocol::DurabilityLevel::kPersistToMajority,
             "a parsed durability level is 1..3");
  FUZZ_CHECK(!d.timeout_ms || (*d.timeout_ms != 0 && *d.timeout_ms != 0xffff),
             "a parsed durability timeout is 1..65534 ms");
  std::string wire;
  protocol::AppendDurabilityFrameInfo(&wire, d);
  StatusOr<protocol::RequestFrameInfos> again = protocol::ParseRequestFrameInfos(wire);
  FUZZ_CHECK(again.ok() && again->durability, "an encoded durability requirement parses");
  FUZZ_CHECK(again->durability->level == d.level && again->durability->timeout_ms == d.timeout_ms,
             "the durability requirement round-trips");
}

bool SamePrepare(const protocol::DcpPrepare& a, const protocol::DcpPrepare& b) {
  return a.vbucket == b.vbucket && a.opaque == b.opaque && a.cas == b.cas &&
         a.datatype == b.datatype && a.by_seqno == b.by_seqno && a.rev_seqno == b.rev_seqno &&
         a.flags == b.flags && a.expiration == b.expiration && a.lock_time == b.lock_time &&
         a.nru == b.nru && a.deleted == b.deleted && a.durability_level == b.durability_level &&
         a.collection_id == b.collection_id && a.key == b.key && a.value == b.value &&
         a.stream_id == b.stream_id;
}

std::optional<protocol::DcpPrepare> CheckPrepare(const Frame& frame, bool collections) {
  StatusOr<protocol::DcpPrepare> m = protocol::DecodeDcpPrepare(frame, collections);
  if (!m.ok()) {
    FUZZ_CHECK(ExpectedDecodeError(m.status()), "a bad DCP_PREPARE is kInvalid");
    return std::nullopt;
  }
  FUZZ_CHECK(m->durability_level >= 1 && m->durability_level <= 3, "a prepare's level is 1..3");
  std::string wire;
  protocol::AppendDcpPrepare(&wire, *m, collections);
  FUZZ_CHECK(wire.size() == protocol::DcpPrepareSize(*m, collections), "DcpPrepareSize is exact");
  StatusOr<protocol::DcpPrepare> again = protocol::DecodeDcpPrepare(Reframe(wire), collections);
  FUZZ_CHECK(again.ok(), "an encoded DCP_PREPARE decodes");
  FUZZ_CHECK(SamePrepare(*m, *again), "DCP_PREPARE round-trips");
  return *m;
}

void CheckResolution(const Frame& frame, bool collections) {
  StatusOr<protocol::DcpResolution> m = protocol::DecodeDcpResolution(frame, collections);
  if (!m.ok()) {
    FUZZ_CHECK(ExpectedDecodeError(m.status()), "a bad DCP_COMMIT/DCP_ABORT is kInvalid");
    return;
  }
  FUZZ_CHECK(m->prepared_seqno != 0 && m->seqno > m->prepared_seqno,
             "a resolution comes after its prepare");
  std::string wire;
  protocol::AppendDcpResolution(&wire, frame.opcode, *m, collections);
  const Frame reframed = Reframe(wire);
  FUZZ_CHECK(reframed.opcode == frame.opcode, "the resolution keeps its opcode");
  StatusOr<protocol::DcpResolution> again = protocol::DecodeDcpResolution(reframed, collections);
  FUZZ_CHECK(again.ok(), "an encoded DCP_COMMIT/DCP_ABORT decodes");
  FUZZ_CHECK(again->vbucket == m->vbucket && again->opaque == m->opaque &&
                 again->prepared_seqno == m->prepared_seqno && again->seqno == m->seqno &&
                 again->collection_id == m->collection_id && again->key == m->key &&
                 again->stream_id == m->stream_id,
             "DCP_COMMIT/DCP_ABORT round-trips");
}

std::optional<protocol::DcpSeqnoAcknowledged> CheckSeqnoAck(const Frame& frame) {
  StatusOr<protocol::DcpSeqnoAcknowledged> m = protocol::DecodeDcpSeqnoAcknowledged(frame);
  if (!m.ok()) {
    FUZZ_CHECK(ExpectedDecodeError(m.status()), "a bad DCP_SEQNO_ACKNOWLEDGED is kInvalid");
    return std::nullopt;
  }
  std::string wire;
  protocol::AppendDcpSeqnoAcknowledged(&wire, *m);
  StatusOr<protocol::DcpSeqnoAcknowledged> again =
      protocol::DecodeDcpSeqnoAcknowledged(Reframe(wire));
  FUZZ_CHECK(again.ok(), "an encoded DCP_SEQNO_ACKNOWLEDGED decodes");
  FUZZ_CHECK(again->vbucket == m->vbucket && again->opaque == m->opaque &&
                 again->prepared_seqno == m->prepared_seqno,
             "DCP_SEQNO_ACKNOWLEDGED round-trips");
  return *m;
}

// The active's durability monitor beside a model of kv_engine's rules, written independently.
class Active {
 public:
  explicit Active(uint8_t setup) {
    topology_.chains.push_back(
        {kActive, std::string("r1"), (setup & 4) != 0 ? TopologyNode() : TopologyNode("r2")});
    if ((setup & 2) != 0) topology_.chains.push_back({kActive, std::string("r2"), "r1"});
    monitor_.SetTopology(topology_);
  }

  void Prepare(const protocol::DcpPrepare& p) {
    // The active queues prepares in seqno order: only a seqno above every one so far is new.
    if (p.by_seqno <= monitor_.high_prepared_seqno()) return;
    const auto level = static_cast<engine::SyncWriteLevel>(p.durability_level);
    monitor_.Add(p.by_seqno, std::string(p.key), level, std::nullopt, engine::Waiter{});
    pending_[p.by_seqno] = level;
    Check();
  }

  void Ack(Vbid node, uint64_t seqno) {
    switch (node % 4) {
      case 0:
        monitor_.NotifyLocalPersisted(seqno);
        persisted_ = std::max(persisted_, seqno);
        break;
      case 3:
        Acked("stranger", seqno);
        break;
      default:
        Acked(node % 4 == 1 ? "r1" : "r2", seqno);
    }
    Check();
  }

 private:
  void Acked(const std::string& node, uint64_t seqno) {
    monitor_.SeqnoAck(node, seqno);
    uint64_t& acked = acks_[node];
    acked = std::max(acked, seqno);
  }

  bool Satisfied(uint64_t seqno, engine::SyncWriteLevel level) const {
    const bool persisted = persisted_ >= seqno;
    if (level != engine::SyncWriteLevel::kMajority && !persisted) return false;
    const bool active_votes = level != engine::SyncWriteLevel::kPersistToMajority || persisted;
    for (const TopologyChain& chain : topology_.chains) {
      size_t votes = 0;
      for (const TopologyNode& n : chain) {
        if (!n) continue;
        if (*n == kActive) {
          votes += active_votes ? 1 : 0;
        } else if (auto it = acks_.find(*n); it != acks_.end() && it->second >= seqno) {
          ++votes;
        }
      }
      if (votes < chain.size() / 2 + 1) return false;
    }
    return true;
  }

  void Check() {
    std::vector<uint64_t> expected;
    for (const auto& [seqno, level] : pending_) {
      if (Satisfied(seqno, level)) expected.push_back(seqno);
    }
    std::vector<uint64_t> committed;
    for (const engine::SyncWriteResolution& r : monitor_.TakeCommittable()) {
      FUZZ_CHECK(r.kind == engine::SyncWriteResolution::Kind::kCommit, "committable is a commit");
      committed.push_back(r.seqno);
      pending_.erase(r.seqno);
    }
    FUZZ_CHECK(committed == expected, "the monitor commits exactly the satisfied prepares");
    FUZZ_CHECK(monitor_.NumTracked() == pending_.size(), "the rest stay tracked");
    FUZZ_CHECK(monitor_.high_completed_seqno() <= monitor_.high_prepared_seqno(),
               "nothing completes before it is prepared");
  }

  VBucketTopology topology_;
  engine::ActiveDurabilityMonitor monitor_;
  std::map<uint64_t, engine::SyncWriteLevel> pending_;
  std::map<std::string, uint64_t> acks_;
  uint64_t persisted_ = 0;
};

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  using namespace sluice::fuzz;
  static const bool quiet = [] {
    logging::Init("off");
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const uint8_t setup = data[0];
  const bool collections = (setup & 1) != 0;
  Active active(setup);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!input.empty()) {
    const protocol::DecodeResult r = protocol::DecodeFrame(input, kMaxBody);
    if (r.status == protocol::DecodeStatus::kNeedMore ||
        r.status == protocol::DecodeStatus::kMalformed) {
      break;
    }
    if (r.status == protocol::DecodeStatus::kOk && r.frame.is_request()) {
      CheckFrameInfos(r.frame);
      switch (r.frame.client_opcode()) {
        case Opcode::kDcpPrepare:
          if (auto p = CheckPrepare(r.frame, collections)) active.Prepare(*p);
          break;
        case Opcode::kDcpCommit:
        case Opcode::kDcpAbort:
          CheckResolution(r.frame, collections);
          break;
        case Opcode::kDcpSeqnoAcknowledged:
          if (auto ack = CheckSeqnoAck(r.frame)) active.Ack(ack->vbucket, ack->prepared_seqno);
          break;
        default:
          break;
      }
    }
    input.remove_prefix(r.size);
  }
  return 0;
}
