#include "testing/dcp_wire_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "protocol/payload.h"
#include "protocol/status.h"

namespace sluice::testing {

using protocol::DcpSnapshotMarker;
using protocol::DcpStreamEnd;
using protocol::McbpStatus;
using protocol::Opcode;

std::string_view DcpEventKindName(DcpEvent::Kind kind) {
  switch (kind) {
    case DcpEvent::Kind::kMutation:
      return "mutation";
    case DcpEvent::Kind::kDeletion:
      return "deletion";
    case DcpEvent::Kind::kExpiration:
      return "expiration";
  }
  return "?";
}

// ---- DcpConsumer ----

StatusOr<std::unique_ptr<DcpConsumer>> DcpConsumer::Open(std::unique_ptr<client::Connection> conn,
                                                         DcpConsumerOptions options) {
  if (conn == nullptr) return Status(Errc::kInvalid, "no connection");
  RETURN_IF_ERROR(conn->DcpOpen(options.name, options.open_flags));
  for (const auto& [key, value] : options.controls) RETURN_IF_ERROR(conn->DcpControl(key, value));
  if (options.flow_control_window != 0) {
    RETURN_IF_ERROR(conn->EnableDcpFlowControl(options.flow_control_window));
  }
  return std::unique_ptr<DcpConsumer>(new DcpConsumer(std::move(conn), std::move(options)));
}

StatusOr<client::StreamReqResult> DcpConsumer::Stream(protocol::DcpStreamReqRequest request) {
  request.opaque = conn_->NextOpaque();
  ASSIGN_OR_RETURN(client::StreamReqResult result, conn_->DcpStreamReq(request));
  if (result.status == McbpStatus::kSuccess) {
    VbStreamLog& log = streams_[request.vbucket];
    if (log.requested && !log.end.has_value()) {
      Violation(
          fmt::format("vb:{} stream request accepted while a stream is live", request.vbucket));
    }
    if (log.end.has_value()) --num_ended_;
    log = VbStreamLog{};
    log.requested = true;
    log.opaque = request.opaque;
    log.request_start = request.start_seqno;
    log.request_end = request.end_seqno;
    log.last_seqno = request.start_seqno;
  }
  return result;
}

Status DcpConsumer::StreamAll(uint32_t num_vbuckets, const protocol::DcpStreamReqRequest& request) {
  for (uint32_t vb = 0; vb < num_vbuckets; ++vb) {
    protocol::DcpStreamReqRequest r = request;
    r.vbucket = static_cast<Vbid>(vb);
    ASSIGN_OR_RETURN(client::StreamReqResult result, Stream(r));
    if (result.status != McbpStatus::kSuccess) {
      return Status(Errc::kInternal,
                    fmt::format("{}: stream request for vb:{} answered {}", options_.name, vb,
                                protocol::McbpStatusName(result.status)));
    }
  }
  return Status::Ok();
}

size_t DcpConsumer::num_requested() const {
  return static_cast<size_t>(std::count_if(streams_.begin(), streams_.end(),
                                           [](const auto& e) { return e.second.requested; }));
}

void DcpConsumer::Forget(Vbid vb) {
  auto it = streams_.find(vb);
  if (it == streams_.end()) return;
  if (it->second.end.has_value()) --num_ended_;
  forgotten_opaques_.insert(it->second.opaque);
  streams_.erase(it);
}

void DcpConsumer::Violation(std::string text) {
  if (violations_.size() < 50) violations_.push_back(options_.name + ": " + std::move(text));
}

VbStreamLog* DcpConsumer::LogFor(Vbid vb, uint32_t opaque, std::string_view what) {
  auto it = streams_.find(vb);
  if (it == streams_.end() || !it->second.requested) {
    Violation(fmt::format("{} for vb:{}, which was never streamed", what, vb));
    return nullptr;
  }
  VbStreamLog& log = it->second;
  if (opaque != log.opaque) {
    Violation(fmt::format("{} for vb:{} carries opaque {}, the stream's is {}", what, vb, opaque,
                          log.opaque));
  }
  if (log.end.has_value()) {
    Violation(fmt::format("{} for vb:{} after its STREAM_END", what, vb));
  }
  return &log;
}

void DcpConsumer::Record(const client::DcpMessage& message) {
  const uint32_t message_opaque = std::visit([](const auto& m) { return m.opaque; }, message);
  if (forgotten_opaques_.count(message_opaque) != 0) return;
  if (const auto* marker = std::get_if<DcpSnapshotMarker>(&message)) {
    VbStreamLog* log = LogFor(marker->vbucket, marker->opaque, "snapshot marker");
    if (log == nullptr) return;
    if (marker->start_seqno > marker->end_seqno) {
      Violation(fmt::format("vb:{} marker [{}, {}] is inverted", marker->vbucket,
                            marker->start_seqno, marker->end_seqno));
    }
    if (!log->markers.empty() && marker->start_seqno <= log->last_seqno) {
      Violation(fmt::format("vb:{} marker [{}, {}] starts at or below seqno {} already sent",
                            marker->vbucket, marker->start_seqno, marker->end_seqno,
                            log->last_seqno));
    }
    if (!log->markers.empty() && marker->start_seqno > log->markers.back().end_seqno + 1) {
      Violation(fmt::format("vb:{} marker [{}, {}] leaves a gap after the previous marker's end {}",
                            marker->vbucket, marker->start_seqno, marker->end_seqno,
                            log->markers.back().end_seqno));
    }
    if (marker->end_seqno > log->request_end) {
      Violation(fmt::format("vb:{} marker [{}, {}] ends past the requested end {}", marker->vbucket,
                            marker->start_seqno, marker->end_seqno, log->request_end));
    }
    log->markers.push_back(*marker);
    log->current_marker = *marker;
    return;
  }
  if (const auto* end = std::get_if<DcpStreamEnd>(&message)) {
    VbStreamLog* log = LogFor(end->vbucket, end->opaque, "STREAM_END");
    if (log == nullptr || log->end.has_value()) return;
    log->end = end->status;
    ++num_ended_;
    return;
  }
  DcpEvent event;
  uint32_t opaque = 0;
  if (const auto* m = std::get_if<client::DcpMutation>(&message)) {
    event.kind = DcpEvent::Kind::kMutation;
    event.vbucket = m->vbucket;
    event.key = m->key;
    event.value = m->value;
    event.seqno = m->by_seqno;
    event.rev_seqno = m->rev_seqno;
    event.cas = m->cas;
    event.flags = m->flags;
    event.expiry = m->expiration;
    event.datatype = m->datatype;
    opaque = m->opaque;
  } else if (const auto* d = std::get_if<client::DcpDeletion>(&message)) {
    event.kind = DcpEvent::Kind::kDeletion;
    event.vbucket = d->vbucket;
    event.key = d->key;
    event.value = d->value;
    event.seqno = d->by_seqno;
    event.rev_seqno = d->rev_seqno;
    event.cas = d->cas;
    event.delete_time = d->delete_time;
    event.datatype = d->datatype;
    event.deletion_version = d->version;
    opaque = d->opaque;
  } else if (const auto* x = std::get_if<client::DcpExpiration>(&message)) {
    event.kind = DcpEvent::Kind::kExpiration;
    event.vbucket = x->vbucket;
    event.key = x->key;
    event.seqno = x->by_seqno;
    event.rev_seqno = x->rev_seqno;
    event.cas = x->cas;
    event.delete_time = x->delete_time;
    opaque = x->opaque;
  } else {
    Violation("unexpected message: " + client::DescribeDcpMessage(message));
    return;
  }
  ++items_received_;
  VbStreamLog* log = LogFor(event.vbucket, opaque, DcpEventKindName(event.kind));
  if (log == nullptr) return;
  if (!log->current_marker.has_value()) {
    Violation(fmt::format("vb:{} {} seqno {} before any snapshot marker", event.vbucket,
                          DcpEventKindName(event.kind), event.seqno));
  } else {
    const DcpSnapshotMarker& m = *log->current_marker;
    if (event.seqno < m.start_seqno || event.seqno > m.end_seqno) {
      Violation(fmt::format("vb:{} {} seqno {} outside its marker [{}, {}]", event.vbucket,
                            DcpEventKindName(event.kind), event.seqno, m.start_seqno, m.end_seqno));
    }
    event.snapshot_flags = m.flags;
  }
  if (event.seqno <= log->last_seqno) {
    Violation(
        fmt::format("vb:{} {} seqno {} not above the last seqno {} (sent twice or out of "
                    "order)",
                    event.vbucket, DcpEventKindName(event.kind), event.seqno, log->last_seqno));
  }
  if (event.seqno > log->request_end) {
    Violation(fmt::format("vb:{} seqno {} past the requested end {}", event.vbucket, event.seqno,
                          log->request_end));
  }
  log->last_seqno = std::max(log->last_seqno, event.seqno);
  log->items.push_back(std::move(event));
}

StatusOr<client::DcpMessage> DcpConsumer::Next() {
  ASSIGN_OR_RETURN(client::DcpMessage message, conn_->ReadDcpMessage());
  Record(message);
  return message;
}

Status DcpConsumer::ReadUntil(const std::function<bool()>& done) {
  while (!done()) RETURN_IF_ERROR(Next().status());
  return Status::Ok();
}

Status DcpConsumer::ReadUntilAllEnded() {
  return ReadUntil([this] { return num_ended_ >= num_requested(); });
}

Status DcpConsumer::ReadUntilSeqnos(const std::map<Vbid, uint64_t>& targets) {
  return ReadUntil([&] {
    for (const auto& [vb, target] : targets) {
      auto it = streams_.find(vb);
      if (it == streams_.end() || it->second.last_seqno < target) return false;
    }
    return true;
  });
}

std::map<std::string, DcpEvent> DcpConsumer::LatestByKey() const {
  std::map<std::string, DcpEvent> latest;
  for (const auto& [vb, log] : streams_) {
    for (const DcpEvent& e : log.items) latest[e.key] = e;
  }
  return latest;
}

// ---- TrackedWriter ----

bool TrackedWriter::Record(const std::string& key, const client::KvResult& result, bool deleted,
                           const std::string& value) {
  if (result.status != McbpStatus::kSuccess) {
    ADD_FAILURE() << (deleted ? "DELETE " : "SET ") << key << ": "
                  << protocol::McbpStatusName(result.status);
    return false;
  }
  if (!result.token.has_value()) {
    ADD_FAILURE() << "no mutation token for " << key << " (HELLO MutationSeqno?)";
    return false;
  }
  Remember(key, result.vbucket, result.token->seqno, deleted, value);
  return true;
}

void TrackedWriter::Remember(const std::string& key, Vbid vb, uint64_t seqno, bool deleted,
                             const std::string& value) {
  ExpectedDoc& doc = docs_[key];
  doc.vbucket = vb;
  doc.seqno = seqno;
  doc.deleted = deleted;
  doc.value = value;
  uint64_t& high = high_[vb];
  high = std::max(high, seqno);
}

bool TrackedWriter::SetMany(const std::vector<std::pair<std::string, std::string>>& docs) {
  constexpr size_t kBatch = 512;
  const char extras[8] = {};  // flags 0, expiry 0
  const uint32_t num_vbuckets = conn_.options().num_vbuckets;
  for (size_t begin = 0; begin < docs.size(); begin += kBatch) {
    const size_t end = std::min(docs.size(), begin + kBatch);
    std::map<uint32_t, size_t> by_opaque;
    for (size_t i = begin; i < end; ++i) {
      protocol::RequestFields r;
      r.opcode = Opcode::kSet;
      r.vbucket = num_vbuckets == 0 ? 0 : VBucketForKey(docs[i].first, num_vbuckets);
      r.extras = std::string_view(extras, sizeof(extras));
      r.key = docs[i].first;
      r.value = docs[i].second;
      by_opaque[conn_.Enqueue(r)] = i;
    }
    if (Status s = conn_.Flush(); !s.ok()) {
      ADD_FAILURE() << "pipelined SET: " << s.ToString();
      return false;
    }
    bool ok = true;
    Status s = conn_.ReadResponses(end - begin, [&](const protocol::Frame& f) {
      auto it = by_opaque.find(f.opaque);
      if (it == by_opaque.end() || f.status() != McbpStatus::kSuccess) {
        ok = false;
        return;
      }
      const auto& [key, value] = docs[it->second];
      const Vbid vb = num_vbuckets == 0 ? 0 : VBucketForKey(key, num_vbuckets);
      auto token = protocol::DecodeMutationTokenExtras(f.extras, vb);
      if (!token.ok()) {
        ok = false;
        return;
      }
      Remember(key, vb, token->seqno, false, value);
    });
    if (!s.ok() || !ok) {
      ADD_FAILURE() << "pipelined SET failed: " << s.ToString();
      return false;
    }
  }
  return true;
}

bool TrackedWriter::Set(const std::string& key, const std::string& value,
                        const client::MutationOptions& options) {
  return Record(key, Must(conn_.Set(key, value, options)), false, value);
}

bool TrackedWriter::Delete(const std::string& key) {
  return Record(key, Must(conn_.Delete(key)), true, {});
}

void TrackedWriter::MarkExpired(const std::string& key, Vbid vb) {
  ExpectedDoc& doc = docs_[key];
  doc.vbucket = vb;
  doc.seqno = 0;
  doc.deleted = true;
  doc.value.clear();
}

std::vector<std::string> CompareFinalView(const std::map<std::string, DcpEvent>& seen,
                                          const std::map<std::string, ExpectedDoc>& expected,
                                          const CompareOptions& options) {
  std::vector<std::string> diffs;
  size_t count = 0;
  auto diff = [&](std::string text) {
    if (++count <= 20) diffs.push_back(std::move(text));
  };
  for (const auto& [key, want] : expected) {
    auto it = seen.find(key);
    if (want.deleted && !options.expect_deletions) {
      if (it != seen.end()) {
        diff(fmt::format("{}: deleted, but the consumer got a {} (seqno {})", key,
                         DcpEventKindName(it->second.kind), it->second.seqno));
      }
      continue;
    }
    if (it == seen.end()) {
      diff(fmt::format("{} (vb:{} seqno {}) never arrived", key, want.vbucket, want.seqno));
      continue;
    }
    const DcpEvent& got = it->second;
    if (got.vbucket != want.vbucket) {
      diff(fmt::format("{}: arrived on vb:{}, written to vb:{}", key, got.vbucket, want.vbucket));
    }
    if (want.deleted != (got.kind != DcpEvent::Kind::kMutation)) {
      diff(fmt::format("{}: last event is a {} (seqno {}), expected {}", key,
                       DcpEventKindName(got.kind), got.seqno,
                       want.deleted ? "a deletion" : "a mutation"));
      continue;
    }
    if (options.compare_seqnos && want.seqno != 0 && got.seqno != want.seqno) {
      diff(fmt::format("{}: last seqno {}, written at {}", key, got.seqno, want.seqno));
    }
    if (options.compare_values && !want.deleted && got.value != want.value) {
      diff(fmt::format("{}: value '{}', last written '{}'", key, got.value.substr(0, 40),
                       want.value.substr(0, 40)));
    }
  }
  for (const auto& [key, got] : seen) {
    if (expected.count(key) == 0) {
      diff(fmt::format("{}: a {} nobody wrote", key, DcpEventKindName(got.kind)));
    }
  }
  if (count > 20) diffs.push_back(fmt::format("... {} differences in all", count));
  return diffs;
}

// ---- RawDcpClient ----

protocol::Frame OwnedFrame::frame() const {
  return protocol::DecodeFrame(bytes, ~uint32_t{0}).frame;
}

StatusOr<std::unique_ptr<RawDcpClient>> RawDcpClient::Connect(const std::string& host,
                                                              uint16_t port) {
  ASSIGN_OR_RETURN(client::Socket socket, client::Socket::Connect(host, port, kWaitTimeout));
  return std::unique_ptr<RawDcpClient>(new RawDcpClient(std::move(socket)));
}

Status RawDcpClient::Send(std::string_view bytes) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (!bytes.empty()) {
    ASSIGN_OR_RETURN(size_t n, socket_.WriteSome(bytes));
    bytes.remove_prefix(n);
    if (bytes.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Errc::kTempFail, "send timed out");
    }
    RETURN_IF_ERROR(socket_.Wait(false, true, kWaitTimeout).status());
  }
  return Status::Ok();
}

std::optional<OwnedFrame> RawDcpClient::TakeBuffered() {
  const protocol::DecodeResult r = protocol::DecodeFrame(buf_, ~uint32_t{0});
  if (r.status != protocol::DecodeStatus::kOk) return std::nullopt;
  OwnedFrame f;
  f.bytes = buf_.substr(0, r.size);
  buf_.erase(0, r.size);
  return f;
}

StatusOr<std::optional<OwnedFrame>> RawDcpClient::Read(std::chrono::milliseconds timeout) {
  if (!kept_.empty()) {
    OwnedFrame f = std::move(kept_.front());
    kept_.pop_front();
    return std::optional<OwnedFrame>(std::move(f));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (std::optional<OwnedFrame> f = TakeBuffered()) return f;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<OwnedFrame>();
    StatusOr<client::Socket::Ready> ready = socket_.Wait(true, false, left);
    if (!ready.ok()) {
      if (ready.status().code() == Errc::kTempFail) return std::optional<OwnedFrame>();
      return ready.status();
    }
    char chunk[64 << 10];
    ASSIGN_OR_RETURN(size_t n, socket_.ReadSome(chunk, sizeof(chunk), left));
    buf_.append(chunk, n);
  }
}

StatusOr<OwnedFrame> RawDcpClient::Call(protocol::RequestFields request) {
  if (request.opaque == 0) request.opaque = next_opaque_++;
  std::string wire;
  protocol::AppendRequest(&wire, request);
  RETURN_IF_ERROR(Send(wire));
  std::deque<OwnedFrame> others;
  while (true) {
    if (std::optional<OwnedFrame> f = TakeBuffered()) {
      const protocol::Frame frame = f->frame();
      if (frame.is_response() && frame.opaque == request.opaque) {
        for (auto& o : others) kept_.push_back(std::move(o));
        return std::move(*f);
      }
      others.push_back(std::move(*f));
      continue;
    }
    char chunk[64 << 10];
    ASSIGN_OR_RETURN(size_t n, socket_.ReadSome(chunk, sizeof(chunk), kWaitTimeout));
    buf_.append(chunk, n);
  }
}

namespace {

Status ExpectSuccess(const OwnedFrame& f, std::string_view what) {
  const protocol::Frame frame = f.frame();
  if (frame.status() == McbpStatus::kSuccess) return Status::Ok();
  return Status(protocol::ErrcFromMcbpStatus(frame.status()),
                fmt::format("{}: {}", what, protocol::McbpStatusName(frame.status())));
}

}  // namespace

Status RawDcpClient::Authenticate(std::string_view user, std::string_view password) {
  std::string value;
  value.push_back('\0');
  value.append(user);
  value.push_back('\0');
  value.append(password);
  ASSIGN_OR_RETURN(OwnedFrame f,
                   Call({.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = value}));
  return ExpectSuccess(f, "SASL_AUTH");
}

Status RawDcpClient::DcpOpen(std::string_view name, uint32_t flags, std::string_view json_value) {
  std::string wire;
  const uint32_t opaque = next_opaque_++;
  protocol::AppendDcpOpen(
      &wire,
      {.opaque = opaque, .seqno = 0, .flags = flags, .name = name, .json_value = json_value});
  RETURN_IF_ERROR(Send(wire));
  while (true) {
    ASSIGN_OR_RETURN(std::optional<OwnedFrame> f, Read(kWaitTimeout));
    if (!f.has_value()) return Status(Errc::kTempFail, "DCP_OPEN: no answer");
    if (f->frame().is_response() && f->frame().opaque == opaque) {
      return ExpectSuccess(*f, "DCP_OPEN");
    }
    kept_.push_back(std::move(*f));
  }
}

Status RawDcpClient::DcpControl(std::string_view key, std::string_view value) {
  ASSIGN_OR_RETURN(OwnedFrame f, Call({.opcode = Opcode::kDcpControl, .key = key, .value = value}));
  return ExpectSuccess(f, fmt::format("DCP_CONTROL {}={}", key, value));
}

StatusOr<McbpStatus> RawDcpClient::StreamReq(protocol::DcpStreamReqRequest request) {
  ASSIGN_OR_RETURN(OwnedFrame answer, StreamReqFull(std::move(request)));
  return answer.frame().status();
}

StatusOr<OwnedFrame> RawDcpClient::StreamReqFull(protocol::DcpStreamReqRequest request) {
  request.opaque = next_opaque_++;
  std::string wire;
  protocol::AppendDcpStreamReq(&wire, request);
  RETURN_IF_ERROR(Send(wire));
  std::deque<OwnedFrame> others;
  while (true) {
    if (std::optional<OwnedFrame> f = TakeBuffered()) {
      const protocol::Frame frame = f->frame();
      if (frame.is_response() && frame.opaque == request.opaque) {
        for (auto& o : others) kept_.push_back(std::move(o));
        return std::move(*f);
      }
      others.push_back(std::move(*f));
      continue;
    }
    char chunk[64 << 10];
    ASSIGN_OR_RETURN(size_t n, socket_.ReadSome(chunk, sizeof(chunk), kWaitTimeout));
    buf_.append(chunk, n);
  }
}

Status RawDcpClient::BufferAck(uint32_t bytes) {
  std::string wire;
  protocol::AppendDcpBufferAck(&wire, bytes);
  return Send(wire);
}

// ---- DcpTest ----

std::unique_ptr<DcpConsumer> DcpTest::OpenConsumer(DcpConsumerOptions options,
                                                   const ClientSetup& setup) {
  auto conn = Connect(setup);
  if (conn == nullptr) return nullptr;
  const std::string name = options.name;
  auto consumer = DcpConsumer::Open(std::move(conn), std::move(options));
  if (!consumer.ok()) {
    ADD_FAILURE() << "DCP consumer " << name << ": " << consumer.status().ToString();
    return nullptr;
  }
  return std::move(*consumer);
}

std::unique_ptr<RawDcpClient> DcpTest::ConnectRawDcp() {
  auto raw = RawDcpClient::Connect(server().host(), server().port());
  if (!raw.ok()) {
    ADD_FAILURE() << "raw connect: " << raw.status().ToString();
    return nullptr;
  }
  if (Status s = (*raw)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword); !s.ok()) {
    ADD_FAILURE() << "raw authenticate: " << s.ToString();
    return nullptr;
  }
  return std::move(*raw);
}

std::map<Vbid, uint64_t> DcpTest::HighSeqnos() {
  std::map<Vbid, uint64_t> high;
  const StatMap stats = Stats("vbucket-seqno");
  for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
    if (auto v = StatU64(stats, fmt::format("vb_{}:high_seqno", vb)))
      high[static_cast<Vbid>(vb)] = *v;
  }
  return high;
}

std::vector<protocol::FailoverEntry> DcpTest::FailoverLog(Vbid vb) {
  auto conn = Connect();
  if (conn == nullptr) return {};
  auto log = conn->GetFailoverLog(vb);
  if (!log.ok()) {
    ADD_FAILURE() << "GET_FAILOVER_LOG vb:" << vb << ": " << log.status().ToString();
    return {};
  }
  return std::move(*log);
}

// ---- stat conditions ----

std::string DcpConnStatPrefix(std::string_view name) { return fmt::format("eq_dcpq:{}:", name); }

std::vector<std::string> KeysWithPrefix(const StatMap& stats, std::string_view prefix) {
  std::vector<std::string> keys;
  for (auto it = stats.lower_bound(prefix); it != stats.end() && it->first.starts_with(prefix);
       ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

::testing::AssertionResult WaitForDcpStats(client::Connection& conn,
                                           const std::function<bool(const StatMap&)>& condition,
                                           std::string_view what) {
  std::string last_error;
  const bool ok = PollUntil([&] {
    auto stats = FetchStats(conn, "dcp");
    if (!stats.ok()) {
      last_error = stats.status().ToString();
      return false;
    }
    return condition(*stats);
  });
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "timed out waiting for: " << what << (last_error.empty() ? "" : " (last error: ")
         << last_error << (last_error.empty() ? "" : ")");
}

::testing::AssertionResult WaitForDcpConnectionGone(client::Connection& conn, std::string_view name,
                                                    uint64_t others) {
  const std::string prefix = DcpConnStatPrefix(name);
  std::string state;
  auto result = WaitForDcpStats(
      conn,
      [&](const StatMap& stats) {
        const auto running = StatU64(stats, "ep_dcp_num_running_backfills");
        const auto scans = StatU64(stats, "ep_dcp_backfill_open_scans");
        const std::vector<std::string> left = KeysWithPrefix(stats, prefix);
        state = fmt::format("running backfills {}, open scans {}, {} stats of {} left",
                            running.value_or(~uint64_t{0}), scans.value_or(~uint64_t{0}),
                            left.size(), prefix);
        return running == others && scans == others && left.empty();
      },
      fmt::format("DCP connection {} gone", name));
  if (!result) result << "; last state: " << state;
  return result;
}

std::string DescribeDcpConnection(client::Connection& conn, std::string_view name) {
  auto stats = FetchStats(conn, "dcp");
  if (!stats.ok()) return "(dcp stats: " + stats.status().ToString() + ")";
  std::string out;
  const std::string prefix = DcpConnStatPrefix(name);
  for (const auto& [key, value] : *stats) {
    if (key.starts_with("ep_dcp_") || key.starts_with(prefix)) {
      out += fmt::format("  {} = {}\n", key, value);
    }
  }
  return out;
}

std::string KeyInVbucket(std::string_view prefix, Vbid vb, uint32_t num_vbuckets, uint32_t* next) {
  while (true) {
    std::string key = fmt::format("{}{}_{}", prefix, vb, (*next)++);
    if (VBucketForKey(key, num_vbuckets) == vb) return key;
  }
}

protocol::DcpStreamReqRequest StreamRequest(uint64_t start, uint64_t end, uint32_t flags,
                                            uint64_t uuid) {
  protocol::DcpStreamReqRequest r;
  r.flags = flags;
  r.start_seqno = start;
  r.end_seqno = end;
  r.vbucket_uuid = uuid;
  r.snap_start_seqno = start;
  r.snap_end_seqno = start;
  return r;
}

}  // namespace sluice::testing
