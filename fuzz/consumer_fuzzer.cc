// File: fuzz/consumer_fuzzer.cc
//
// libFuzzer target for the consumer side of replication: the input is the byte stream a producer
// sends a replica. Frames are delimited as a connection does it (protocol::DecodeFrame), each
// producer request is decoded by the client (client::ToDcpMessage, as PeerLink receives it) and
// handed to a replication::PassiveStream reading into a real replica vbucket (a bucket in a temp
// directory, opened once per process; the vbucket is reset for every input).
//
// Invariants: nothing crashes; a change the stream accepts is applied with its seqno (the
// vbucket's high seqno becomes it); a message the stream refuses changes nothing and leaves the
// stream pending, from where it is requested again (as the link does) and resumes from what the
// vbucket holds; the replica never moves backwards.
// Seeds: fuzz/corpus/consumer/ (from make_corpus).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "client/dcp_message.h"
#include "common/clock.h"
#include "common/logging.h"
#include "engine/bucket.h"
#include "fuzz/fuzz_check.h"
#include "protocol/frame.h"
#include "replication/passive_stream.h"
#include "testing/manual_executor.h"

namespace sluice::fuzz {
namespace {

constexpr Vbid kVb = 0;
constexpr uint32_t kMaxBody = 1u << 20;

// The replica the stream writes into, for the life of the process.
struct Replica {
  Replica() {
    logging::Init("off");
    char tmpl[] = "/tmp/sluice_consumer_fuzzer_XXXXXX";
    const char* dir = mkdtemp(tmpl);
    FUZZ_CHECK(dir != nullptr, "a temp dir");
    engine::BucketOptions o;
    o.data_dir = dir;
    o.config.max_vbuckets = 1;
    o.config.max_num_shards = 1;
    o.config.ht_locks = 1;
    o.config.exp_pager_enabled = false;
    o.executor = &executor;
    o.clock = &clock;
    auto b = engine::Bucket::Open(o);
    FUZZ_CHECK(b.ok(), "the bucket opens");
    bucket = *b;
    FUZZ_CHECK(bucket->SetVBucketState(kVb, VBucketState::kReplica).ok(), "a replica vbucket");
  }

  uint64_t High() const { return bucket->GetVBucket(kVb)->high_seqno(); }

  FakeClock clock;
  executor::ManualExecutor executor{&clock};
  std::shared_ptr<engine::Bucket> bucket;
};

// Requests the stream and accepts it, as the producer would.
void Accept(replication::PassiveStream& stream, uint32_t* opaque) {
  auto request = stream.Request(++*opaque);
  FUZZ_CHECK(request.ok(), "a replica vbucket can be requested");
  client::StreamReqResult ok;
  ok.status = protocol::McbpStatus::kSuccess;
  ok.failover_log = {{0x5eed, 0}};
  FUZZ_CHECK(stream.OnResponse(ok) == replication::PassiveStream::AfterResponse::kReading,
             "a successful answer starts the stream");
}

// The seqno an item carries, if the message is one.
std::optional<uint64_t> ItemSeqno(const client::DcpMessage& m) {
  if (const auto* x = std::get_if<client::DcpMutation>(&m)) return x->by_seqno;
  if (const auto* x = std::get_if<client::DcpDeletion>(&m)) return x->by_seqno;
  if (const auto* x = std::get_if<client::DcpExpiration>(&m)) return x->by_seqno;
  return std::nullopt;
}

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  using namespace sluice::fuzz;
  static Replica* replica = new Replica();  // never destroyed: the process ends with libFuzzer
  if (replica->High() != 0) FUZZ_CHECK(replica->bucket->ResetVBucket(kVb).ok(), "reset");
  replication::PassiveStream stream(kVb, "fuzz", *replica->bucket);
  uint32_t opaque = 0;
  Accept(stream, &opaque);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const protocol::DecodeResult r = protocol::DecodeFrame(input, kMaxBody);
    if (r.status == protocol::DecodeStatus::kNeedMore ||
        r.status == protocol::DecodeStatus::kMalformed) {
      break;
    }
    if (r.status == protocol::DecodeStatus::kOk && r.frame.is_request()) {
      auto message = client::ToDcpMessage(r.frame, /*collections=*/false);
      if (message.ok()) {
        const uint64_t before = replica->High();
        const Status s = stream.OnMessage(*message);
        const uint64_t after = replica->High();
        const std::optional<uint64_t> seqno = ItemSeqno(*message);
        FUZZ_CHECK(after >= before, "a replica never moves backwards");
        if (!s.ok()) {
          FUZZ_CHECK(after == before, "a refused message changes nothing");
          FUZZ_CHECK(stream.state() == replication::PassiveStream::State::kPending,
                     "a refused message closes the stream");
        } else if (seqno.has_value()) {
          FUZZ_CHECK(after == *seqno, "an accepted change is applied with its seqno");
        }
        if (stream.state() == replication::PassiveStream::State::kPending) {
          Accept(stream, &opaque);
          FUZZ_CHECK(stream.stats().last_received_seqno == replica->High(),
                     "the stream resumes from what the replica holds");
        }
      }
    }
    input.remove_prefix(r.size);
  }
  return 0;
}
