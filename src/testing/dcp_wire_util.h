// File: testing/dcp_wire_util.h
//
// Helpers of the DCP integration tests (tests/integration/dcp_*_test.cc), which drive the real
// sluiced over TCP with the test suite's DCP client (src/client):
//
//   DcpConsumer    one DCP connection seen from the consumer: DCP_OPEN, controls, stream requests
//                  (one vbucket or all of them), then a read loop that records every message per
//                  vbucket and checks, message by message, the invariants every DCP test relies
//                  on: a snapshot marker precedes the items, each item's seqno lies inside the
//                  current marker's range, seqnos strictly increase per vbucket (nothing is sent
//                  twice), a new marker starts after the last item sent and no later than one
//                  past the previous marker's end (no gap), nothing follows a
//                  STREAM_END, messages carry their stream's opaque. Violations are collected as
//                  text (violations()) so one EXPECT reports all of them.
//   TrackedWriter  a KV writer that remembers, per key, the last value written (or the deletion)
//                  and its seqno (from HELLO MutationSeqno tokens), and per vbucket the highest
//                  seqno it produced: the truth a consumer's final view is compared with.
//   RawDcpClient   a bare socket speaking just enough of the protocol (SASL PLAIN, DCP_OPEN,
//                  DCP_CONTROL, DCP_STREAM_REQ, DCP_BUFFER_ACKNOWLEDGEMENT), whose reads may time
//                  out without breaking the connection and which never answers a DCP_NOOP: for
//                  the tests that must observe silence (flow control) or an unresponsive consumer
//                  (idle disconnect). client::Connection marks itself broken on a timeout and
//                  answers NOOPs by itself, so it can do neither.
//   free functions the "dcp" stat conditions the lifetime tests wait for.
//
// Ownership: each helper is owned by the test that creates it; DcpConsumer owns its
// client::Connection, RawDcpClient its socket; TrackedWriter borrows a connection that must
// outlive it. Thread safety: thread-compatible: each helper belongs to one thread at a time (the
// multi-producer tests give each consumer its own thread).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "client/connection.h"
#include "client/socket.h"
#include "common/status.h"
#include "common/types.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/frame.h"
#include "testing/wire_util.h"

namespace sluice::testing {

// ---- What a consumer received ----

// One document change received on a stream.
struct DcpEvent {
  enum class Kind : uint8_t { kMutation, kDeletion, kExpiration };
  Kind kind = Kind::kMutation;
  Vbid vbucket = 0;
  std::string key;
  std::string value;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;
  uint32_t delete_time = 0;  // deletion v2 / expiration
  uint8_t datatype = 0;
  protocol::DcpDeletionVersion deletion_version = protocol::DcpDeletionVersion::kV1;
  uint32_t snapshot_flags = 0;  // the flags of the marker it arrived under
};
std::string_view DcpEventKindName(DcpEvent::Kind kind);

// Everything one vbucket's stream delivered, in arrival order.
struct VbStreamLog {
  bool requested = false;
  uint32_t opaque = 0;
  uint64_t request_start = 0;
  uint64_t request_end = ~uint64_t{0};
  std::vector<protocol::DcpSnapshotMarker> markers;
  std::vector<DcpEvent> items;
  std::optional<protocol::DcpStreamEndStatus> end;
  uint64_t last_seqno = 0;  // highest item seqno received (the request's start before any)
  std::optional<protocol::DcpSnapshotMarker> current_marker;
};

// ---- DcpConsumer ----

struct DcpConsumerOptions {
  std::string name;
  uint32_t open_flags = protocol::kDcpOpenProducer;
  // DCP_CONTROL key/value pairs sent after DCP_OPEN, in order.
  std::vector<std::pair<std::string, std::string>> controls;
  // > 0: control connection_buffer_size and acknowledge automatically (client::Connection).
  uint32_t flow_control_window = 0;
};

class DcpConsumer {
 public:
  // Opens DCP on `conn` (connected, authenticated) and sends the controls.
  static StatusOr<std::unique_ptr<DcpConsumer>> Open(std::unique_ptr<client::Connection> conn,
                                                     DcpConsumerOptions options);

  client::Connection& conn() { return *conn_; }
  const std::string& name() const { return options_.name; }

  // DCP_STREAM_REQ for request.vbucket (a fresh opaque); on success the stream is recorded and
  // its messages are checked from then on. The server's answer, whatever it is.
  StatusOr<client::StreamReqResult> Stream(protocol::DcpStreamReqRequest request);
  // Streams every vbucket in [0, num_vbuckets) with `request` (vbucket and opaque replaced); an
  // error naming the vbucket if any answer is not Success.
  Status StreamAll(uint32_t num_vbuckets, const protocol::DcpStreamReqRequest& request);

  // Reads one message, records and checks it, and returns it (NOOPs are answered by the client
  // and never returned).
  StatusOr<client::DcpMessage> Next();
  // Reads until `done()` is true (checked before each read).
  Status ReadUntil(const std::function<bool()>& done);
  // Reads until every requested stream has received its STREAM_END.
  Status ReadUntilAllEnded();
  // Reads until each listed vbucket's stream has received an item with seqno >= its target.
  Status ReadUntilSeqnos(const std::map<Vbid, uint64_t>& targets);

  const std::map<Vbid, VbStreamLog>& streams() const { return streams_; }
  const VbStreamLog& stream(Vbid vb) { return streams_[vb]; }
  size_t num_requested() const;
  size_t num_ended() const { return num_ended_; }
  uint64_t items_received() const { return items_received_; }
  // The last event received per key (keys are unique to their vbucket).
  std::map<std::string, DcpEvent> LatestByKey() const;
  // Invariant violations seen so far (empty when all is well); capped at 50 entries.
  const std::vector<std::string>& violations() const { return violations_; }
  // Forgets everything recorded for vb (after CLOSE_STREAM, before streaming it again); messages
  // that still arrive with the forgotten stream's opaque are dropped unrecorded.
  void Forget(Vbid vb);

 private:
  DcpConsumer(std::unique_ptr<client::Connection> conn, DcpConsumerOptions options)
      : conn_(std::move(conn)), options_(std::move(options)) {}
  void Record(const client::DcpMessage& message);
  void Violation(std::string text);
  VbStreamLog* LogFor(Vbid vb, uint32_t opaque, std::string_view what);

  std::unique_ptr<client::Connection> conn_;
  const DcpConsumerOptions options_;
  std::map<Vbid, VbStreamLog> streams_;
  std::set<uint32_t> forgotten_opaques_;
  size_t num_ended_ = 0;
  uint64_t items_received_ = 0;
  std::vector<std::string> violations_;
};

// ---- TrackedWriter ----

// The last state a writer gave a key.
struct ExpectedDoc {
  Vbid vbucket = 0;
  uint64_t seqno = 0;
  bool deleted = false;
  std::string value;
};

class TrackedWriter {
 public:
  // `conn` must have agreed HELLO MutationSeqno (DefaultFeatures does) and must outlive this.
  explicit TrackedWriter(client::Connection& conn) : conn_(conn) {}

  // SET / DELETE; false (with a test failure recorded) unless the server answered Success.
  bool Set(const std::string& key, const std::string& value,
           const client::MutationOptions& options = {});
  bool Delete(const std::string& key);
  // SETs of every (key, value), pipelined in batches (for bulk loads); false (with a failure
  // recorded) if any was refused. Routed like the connection's KV helpers.
  bool SetMany(const std::vector<std::pair<std::string, std::string>>& docs);
  // Records a key the test made expire (its tombstone's seqno is not known to the writer).
  void MarkExpired(const std::string& key, Vbid vb);

  const std::map<std::string, ExpectedDoc>& docs() const { return docs_; }
  // The highest seqno our writes produced, per vbucket.
  const std::map<Vbid, uint64_t>& high_seqnos() const { return high_; }

 private:
  void Remember(const std::string& key, Vbid vb, uint64_t seqno, bool deleted,
                const std::string& value);
  bool Record(const std::string& key, const client::KvResult& result, bool deleted,
              const std::string& value);

  client::Connection& conn_;
  std::map<std::string, ExpectedDoc> docs_;
  std::map<Vbid, uint64_t> high_;
};

struct CompareOptions {
  // Deleted keys must have arrived as a deletion or expiration (false: they must be absent).
  bool expect_deletions = true;
  // Compare the seqno of each key's last event with the writer's (false for keys written before
  // an expiry whose tombstone seqno the writer cannot know).
  bool compare_seqnos = true;
  // The value is compared unless the consumer asked for none (DCP_OPEN NoValue).
  bool compare_values = true;
};
// Compares a consumer's final view with what was written; returns the differences (at most 20,
// then a count). Keys the consumer saw that nobody wrote are differences too.
std::vector<std::string> CompareFinalView(const std::map<std::string, DcpEvent>& seen,
                                          const std::map<std::string, ExpectedDoc>& expected,
                                          const CompareOptions& options = {});

// ---- RawDcpClient ----

// A frame read by RawDcpClient, owning its bytes.
struct OwnedFrame {
  std::string bytes;
  // The decoded view of `bytes` (re-decoded on each call: views must not outlive a move).
  protocol::Frame frame() const;
};

class RawDcpClient {
 public:
  static StatusOr<std::unique_ptr<RawDcpClient>> Connect(const std::string& host, uint16_t port);

  Status Authenticate(std::string_view user, std::string_view password);  // SASL PLAIN
  // `json_value`: e.g. a consumer's {"consumer_name": ...}.
  Status DcpOpen(std::string_view name, uint32_t flags, std::string_view json_value = {});
  Status DcpControl(std::string_view key, std::string_view value);
  // The server's status for the stream request (Success, Rollback, ...).
  StatusOr<protocol::McbpStatus> StreamReq(protocol::DcpStreamReqRequest request);
  // The same, returning the whole answer (the failover log, or the rollback seqno).
  StatusOr<OwnedFrame> StreamReqFull(protocol::DcpStreamReqRequest request);
  Status BufferAck(uint32_t bytes);
  Status Send(std::string_view bytes);

  // The next frame: first any kept while a Call waited, then from the socket. nullopt when
  // nothing complete arrived within `timeout` (the connection stays usable); kIoError when the
  // server closed the connection.
  StatusOr<std::optional<OwnedFrame>> Read(std::chrono::milliseconds timeout);
  // Sends `request` and returns its response; other frames arriving meanwhile are kept for Read.
  StatusOr<OwnedFrame> Call(protocol::RequestFields request);

 private:
  explicit RawDcpClient(client::Socket socket) : socket_(std::move(socket)) {}
  // A complete frame from buf_, if one is there.
  std::optional<OwnedFrame> TakeBuffered();

  client::Socket socket_;
  std::string buf_;
  std::deque<OwnedFrame> kept_;
  uint32_t next_opaque_ = 1;
};

// ---- The fixture ----

// SluicedTest plus DCP helpers.
class DcpTest : public SluicedTest {
 protected:
  // A DcpConsumer on a fresh authenticated connection; null (with a failure recorded) on error.
  std::unique_ptr<DcpConsumer> OpenConsumer(DcpConsumerOptions options,
                                            const ClientSetup& setup = {});
  // An authenticated RawDcpClient; null (with a failure recorded) on error.
  std::unique_ptr<RawDcpClient> ConnectRawDcp();
  // vbucket-seqno stats: high seqno per vbucket.
  std::map<Vbid, uint64_t> HighSeqnos();
  // The failover log of vb (newest first) over a fresh connection.
  std::vector<protocol::FailoverEntry> FailoverLog(Vbid vb);
};

// ---- "dcp" stat conditions ----

// "eq_dcpq:<name>:"
std::string DcpConnStatPrefix(std::string_view name);
// Keys of `stats` that start with `prefix`.
std::vector<std::string> KeysWithPrefix(const StatMap& stats, std::string_view prefix);
// Polls "dcp" stats on `conn` until ep_dcp_num_running_backfills and ep_dcp_backfill_open_scans
// are `others` (the backfills other connections legitimately hold; usually 0) and no stat of the
// connection `name` is left (its producer was destroyed); a failure describing the last state
// seen otherwise.
::testing::AssertionResult WaitForDcpConnectionGone(client::Connection& conn, std::string_view name,
                                                    uint64_t others = 0);
// Polls "dcp" stats on `conn` until `condition(stats)` holds.
::testing::AssertionResult WaitForDcpStats(client::Connection& conn,
                                           const std::function<bool(const StatMap&)>& condition,
                                           std::string_view what);

// The "dcp" stats of connection `name` (and the ep_dcp_* ones), one per line: for failure
// messages when a stream stalls.
std::string DescribeDcpConnection(client::Connection& conn, std::string_view name);

// A key that VBucketForKey maps to `vb` (of `num_vbuckets`): "<prefix><vb>_<i>" with the
// smallest suffix that lands there, starting at `*next`.
std::string KeyInVbucket(std::string_view prefix, Vbid vb, uint32_t num_vbuckets, uint32_t* next);
// A stream request from `start` to `end` with the snapshot at start.
protocol::DcpStreamReqRequest StreamRequest(uint64_t start = 0, uint64_t end = ~uint64_t{0},
                                            uint32_t flags = 0, uint64_t uuid = 0);

}  // namespace sluice::testing
