#include "replication/consumer.h"

#include <fmt/format.h>

#include "client/dcp_message.h"
#include "common/logging.h"
#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"

namespace sluice::replication {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

namespace {

// A rollback asks again at once; three rounds settle any answer (a reset streams from 0).
constexpr int kMaxRequestRounds = 3;
constexpr std::chrono::milliseconds kIdleTick{1000};

}  // namespace

Consumer::Consumer(ConsumerOptions options, std::shared_ptr<engine::Bucket> bucket)
    : options_(std::move(options)),
      bucket_(std::move(bucket)),
      acker_(options_.controls.buffer_size, options_.throttle_mem_bytes),
      last_input_(options_.clock->Now()),
      board_(std::make_shared<ConsumerStatsBoard>(
          options_.name, options_.user, options_.controls.buffer_size, options_.clock->Now())) {
  for (auto& control : ConsumerControls(options_.controls)) controls_.push_back(control);
  PublishControls();
}

Consumer::~Consumer() { Disconnect(); }

bool Consumer::Takes(Opcode op) {
  switch (op) {
    case Opcode::kDcpAddStream:
    case Opcode::kDcpCloseStream:
    case Opcode::kDcpStreamEnd:
    case Opcode::kDcpSnapshotMarker:
    case Opcode::kDcpMutation:
    case Opcode::kDcpDeletion:
    case Opcode::kDcpExpiration:
    case Opcode::kDcpSetVbucketState:
    case Opcode::kDcpNoop:
    case Opcode::kDcpSeqnoAdvanced:
      return true;
    default:
      return false;
  }
}

void Consumer::Start(std::string* out) { SendNextControl(out); }

void Consumer::SendNextControl(std::string* out) {
  if (controls_.empty() || control_opaque_ != 0) return;
  control_opaque_ = ++next_opaque_;
  const auto& [key, value] = controls_.front();
  protocol::AppendDcpControl(out, {.opaque = control_opaque_, .key = key, .value = value});
}

Status Consumer::OnRequest(const Frame& request, std::string* out) {
  last_input_ = options_.clock->Now();
  counters_.messages++;
  switch (request.client_opcode()) {
    case Opcode::kDcpAddStream: {
      if (request.extras.size() != 4) {  // the validator's rule; checked again, reads follow
        Answer(request, McbpStatus::kEinval, out);
        return Status::Ok();
      }
      const PendingAdd add{request.opaque, request.vbucket(),
                           protocol::LoadBe32(request.extras.data())};
      if (controls_.empty()) {
        AddStream(add, out);
      } else {
        pending_adds_.push_back(add);  // kv_engine: streams wait for the controls
        PublishControls();
      }
      PublishCounters();
      return Status::Ok();
    }
    case Opcode::kDcpCloseStream:
      CloseStream(request, out);
      return Status::Ok();
    case Opcode::kDcpNoop:
      protocol::AppendDcpNoopResponse(out, request.opaque);
      return Status::Ok();
    default:
      break;
  }
  if (!Takes(request.client_opcode())) {
    LOG_WARN("dcp consumer {}: {} is not a message a consumer takes; closing", options_.name,
             protocol::OpcodeName(request.client_opcode()));
    return Status(Errc::kDisconnect, "not a consumer message");
  }
  // A producer message: flow control counts it whatever becomes of it.
  const uint32_t bytes = request.size;
  acker_.Add(bytes);
  counters_.bytes_received += bytes;
  OnMessage(request, out);
  Ack(/*idle=*/false, out);
  PublishCounters();
  return Status::Ok();
}

void Consumer::AddStream(const PendingAdd& add, std::string* out) {
  std::shared_ptr<engine::VBucket> vb = bucket_->GetVBucket(add.vb);
  if (vb == nullptr || !IsReplicaState(vb->state())) {
    LOG_WARN("dcp consumer {}: ADD_STREAM vb:{} refused: the vbucket is missing or not a replica",
             options_.name, add.vb);
    protocol::AppendResponse(out, {.opcode = Opcode::kDcpAddStream,
                                   .status = McbpStatus::kNotMyVbucket,
                                   .opaque = add.opaque});
    return;
  }
  if (streams_.count(add.vb) != 0) {
    LOG_WARN("dcp consumer {}: ADD_STREAM vb:{} refused: a stream exists", options_.name, add.vb);
    protocol::AppendResponse(
        out,
        {.opcode = Opcode::kDcpAddStream, .status = McbpStatus::kKeyEexists, .opaque = add.opaque});
    return;
  }
  StreamEntry& entry = streams_[add.vb];
  entry.stream = std::make_shared<PassiveStream>(add.vb, options_.name, *bucket_);
  board_->SetStream(add.vb, entry.stream);
  entry.add_opaque = add.opaque;
  entry.flags = add.flags;
  RequestStream(add.vb, entry, out);
}

bool Consumer::RequestStream(Vbid vb, StreamEntry& entry, std::string* out) {
  StatusOr<protocol::DcpStreamReqRequest> request =
      entry.rounds < kMaxRequestRounds ? entry.stream->Request(++next_opaque_, entry.flags)
                                       : StatusOr<protocol::DcpStreamReqRequest>(Status(
                                             Errc::kTempFail, "the rollbacks did not settle"));
  if (!request.ok()) {
    LOG_WARN("dcp consumer {}: vb:{} not requested: {}", options_.name, vb,
             request.status().ToString());
    AnswerAddStream(entry,
                    request.status().code() == Errc::kNotMyVbucket ? McbpStatus::kNotMyVbucket
                                                                   : McbpStatus::kEtmpfail,
                    out);
    RemoveStream(vb);
    return false;
  }
  entry.rounds++;
  requests_[request->opaque] = vb;
  protocol::AppendDcpStreamReq(out, *request);
  return true;
}

Status Consumer::OnResponse(const Frame& response, std::string* out) {
  last_input_ = options_.clock->Now();
  switch (response.client_opcode()) {
    case Opcode::kDcpControl:
      return OnControlResponse(response, out);
    case Opcode::kDcpStreamReq:
      return OnStreamReqResponse(response, out);
    case Opcode::kDcpBufferAcknowledgement:
      return Status::Ok();  // kv_engine's producers do not answer them; nothing to do if one does
    default:
      LOG_WARN("dcp consumer {}: unexpected response {} (opaque {}); closing", options_.name,
               protocol::OpcodeName(response.client_opcode()), response.opaque);
      return Status(Errc::kDisconnect, "unexpected response");
  }
}

Status Consumer::OnControlResponse(const Frame& response, std::string* out) {
  if (control_opaque_ == 0 || response.opaque != control_opaque_) {
    LOG_WARN("dcp consumer {}: DCP_CONTROL answer with opaque {} (expected {}); closing",
             options_.name, response.opaque, control_opaque_);
    return Status(Errc::kDisconnect, "unexpected control answer");
  }
  const auto [key, value] = controls_.front();
  controls_.pop_front();
  control_opaque_ = 0;
  if (response.status() == McbpStatus::kSuccess) {
    if (key == "v7_dcp_status_codes") v7_status_codes_ = true;
  } else {
    // kv_engine: a refused control is logged and the negotiation goes on.
    LOG_INFO("dcp consumer {}: the producer refused control {}={}: {}", options_.name, key, value,
             protocol::McbpStatusName(response.status()));
  }
  SendNextControl(out);
  if (controls_.empty()) {
    std::vector<PendingAdd> adds;
    adds.swap(pending_adds_);
    for (const PendingAdd& add : adds) AddStream(add, out);
  }
  PublishControls();
  return Status::Ok();
}

Status Consumer::OnStreamReqResponse(const Frame& response, std::string* out) {
  auto it = requests_.find(response.opaque);
  if (it == requests_.end()) {
    // The stream was closed (or removed) before its answer came: nothing waits for it.
    LOG_INFO("dcp consumer {}: STREAM_REQ answer for opaque {} of no stream; dropped",
             options_.name, response.opaque);
    return Status::Ok();
  }
  const Vbid vb = it->second;
  requests_.erase(it);
  StatusOr<client::StreamReqResult> result = client::ToStreamReqResult(response);
  if (!result.ok()) {
    LOG_WARN("dcp consumer {}: vb:{} malformed STREAM_REQ answer: {}; closing", options_.name, vb,
             result.status().ToString());
    return Status(Errc::kDisconnect, "malformed stream request answer");
  }
  StreamEntry& entry = streams_.at(vb);
  switch (entry.stream->OnResponse(*result)) {
    case PassiveStream::AfterResponse::kReading:
      AnswerAddStream(entry, McbpStatus::kSuccess, out);
      break;
    case PassiveStream::AfterResponse::kRequestAgain:
      RequestStream(vb, entry, out);
      break;
    case PassiveStream::AfterResponse::kRetryLater: {
      McbpStatus status = result->status;
      if (status == McbpStatus::kSuccess) status = McbpStatus::kNotMyVbucket;  // vbucket changed
      if (status == McbpStatus::kRollback) status = McbpStatus::kEtmpfail;     // reset failed
      AnswerAddStream(entry, status, out);
      RemoveStream(vb);
      break;
    }
  }
  return Status::Ok();
}

void Consumer::AnswerAddStream(StreamEntry& entry, McbpStatus status, std::string* out) {
  if (entry.answered) return;
  entry.answered = true;
  std::string extras(4, '\0');
  protocol::StoreBe32(extras.data(), status == McbpStatus::kSuccess ? entry.stream->opaque() : 0);
  protocol::AppendResponse(out, {.opcode = Opcode::kDcpAddStream,
                                 .status = status,
                                 .opaque = entry.add_opaque,
                                 .extras = extras});
}

void Consumer::CloseStream(const Frame& request, std::string* out) {
  const Vbid vb = request.vbucket();
  if (streams_.count(vb) == 0) {
    LOG_WARN("dcp consumer {}: CLOSE_STREAM vb:{}: no stream", options_.name, vb);
    Answer(request, v7_status_codes_ ? McbpStatus::kDcpStreamNotFound : McbpStatus::kKeyEnoent,
           out);
    return;
  }
  LOG_INFO("dcp consumer {}: vb:{} stream closed by the driver", options_.name, vb);
  RemoveStream(vb);
  Answer(request, McbpStatus::kSuccess, out);
}

Consumer::StreamEntry* Consumer::Route(const Frame& request, std::string* out) {
  auto it = streams_.find(request.vbucket());
  if (it == streams_.end()) {
    LOG_WARN("dcp consumer {}: {} for vb:{}, which has no stream", options_.name,
             protocol::OpcodeName(request.client_opcode()), request.vbucket());
    Answer(request, v7_status_codes_ ? McbpStatus::kDcpStreamNotFound : McbpStatus::kKeyEnoent,
           out);
    return nullptr;
  }
  StreamEntry& entry = it->second;
  if (entry.stream->opaque() != request.opaque) {
    if (request.client_opcode() == Opcode::kDcpStreamEnd) return nullptr;  // of a replaced stream
    LOG_WARN("dcp consumer {}: {} for vb:{} with opaque {}, not the stream's {}", options_.name,
             protocol::OpcodeName(request.client_opcode()), request.vbucket(), request.opaque,
             entry.stream->opaque());
    Answer(request, v7_status_codes_ ? McbpStatus::kOpaqueNoMatch : McbpStatus::kKeyEexists, out);
    return nullptr;
  }
  if (entry.stream->state() != PassiveStream::State::kReading) {
    LOG_WARN("dcp consumer {}: {} for vb:{} before its stream was accepted", options_.name,
             protocol::OpcodeName(request.client_opcode()), request.vbucket());
    Answer(request, McbpStatus::kEinval, out);
    return nullptr;
  }
  return &entry;
}

void Consumer::OnMessage(const Frame& request, std::string* out) {
  StreamEntry* entry = Route(request, out);
  if (entry == nullptr) return;
  const Vbid vb = request.vbucket();
  if (request.client_opcode() == Opcode::kDcpSetVbucketState) {
    OnSetVBucketState(request, out);
    return;
  }
  if ((request.datatype & protocol::kDatatypeXattr) != 0 && !options_.xattrs) {
    LOG_WARN(
        "dcp consumer {}: vb:{} {} carries xattrs, but the connection was opened without "
        "IncludeXattrs",
        options_.name, vb, protocol::OpcodeName(request.client_opcode()));
    Answer(request, McbpStatus::kEinval, out);
    return;
  }
  StatusOr<client::DcpMessageView> message =
      client::ToDcpMessageView(request, options_.collections);
  if (!message.ok()) {
    LOG_WARN("dcp consumer {}: vb:{} undecodable {}: {}", options_.name, vb,
             protocol::OpcodeName(request.client_opcode()), message.status().ToString());
    Answer(request, McbpStatus::kEinval, out);
    return;
  }
  const Status s = entry->stream->OnMessage(*message);
  if (!s.ok()) {
    // The stream logged why and closed itself; the driver adds it again.
    counters_.errors++;
    RemoveStream(vb);
    Answer(request, McbpStatus::kErange, out);
    return;
  }
  if (entry->stream->state() == PassiveStream::State::kPending) RemoveStream(vb);  // STREAM_END
}

void Consumer::OnSetVBucketState(const Frame& request, std::string* out) {
  const Vbid vb = request.vbucket();
  StatusOr<protocol::DcpSetVbucketState> message = protocol::DecodeDcpSetVbucketState(request);
  Status s = message.ok() ? bucket_->SetVBucketState(vb, message->state) : message.status();
  if (!s.ok()) {
    LOG_WARN("dcp consumer {}: vb:{} SET_VBUCKET_STATE not applied: {}", options_.name, vb,
             s.ToString());
    counters_.errors++;
    Answer(request, protocol::ToMcbpStatus(s.code()), out);
    return;
  }
  LOG_INFO("dcp consumer {}: vb:{} set to {} by its producer", options_.name, vb,
           VBucketStateName(message->state));
  Answer(request, McbpStatus::kSuccess, out);
  if (!IsReplicaState(message->state)) RemoveStream(vb);  // no longer a replica: nothing to feed
}

void Consumer::RemoveStream(Vbid vb) {
  auto it = streams_.find(vb);
  if (it == streams_.end()) return;
  it->second.stream->Close();
  for (auto r = requests_.begin(); r != requests_.end();) {
    r = r->second == vb ? requests_.erase(r) : std::next(r);
  }
  streams_.erase(it);
  board_->RemoveStream(vb);
}

void Consumer::Answer(const Frame& request, McbpStatus status, std::string* out) {
  if (status != McbpStatus::kSuccess) counters_.errors++;
  protocol::AppendResponse(
      out, {.opcode = request.client_opcode(), .status = status, .opaque = request.opaque});
}

void Consumer::Ack(bool idle, std::string* out) {
  bool throttled = false;
  const uint32_t bytes = acker_.Take(bucket_->MemUsed(), idle, &throttled);
  if (throttled) backoffs_++;
  if (bytes == 0) return;
  protocol::AppendDcpBufferAck(out, bytes, ++next_opaque_);
  counters_.bytes_acked += bytes;
}

void Consumer::PublishCounters() {
  board_->SetCounters(counters_.messages, counters_.bytes_received, counters_.bytes_acked,
                      acker_.pending(), backoffs_);
}

void Consumer::PublishControls() {
  board_->SetControls(controls_.size(), controls_.empty() ? "" : controls_.front().first,
                      controls_.empty() ? "" : controls_.front().second, !pending_adds_.empty());
}

void Consumer::Flush(std::string* out) {
  Ack(/*idle=*/true, out);
  PublishCounters();
}

Status Consumer::Tick(std::string* out) {
  const auto silent = options_.clock->Now() - last_input_;
  const auto limit = SilenceLimit(options_.controls.noop_interval_seconds);
  if (silent > limit) {
    LOG_WARN("dcp consumer {}: nothing from the producer for {} ms; closing", options_.name,
             std::chrono::duration_cast<std::chrono::milliseconds>(silent).count());
    return Status(Errc::kDisconnect, "producer silent");
  }
  Ack(/*idle=*/true, out);
  PublishCounters();
  return Status::Ok();
}

std::chrono::milliseconds Consumer::TickInterval() const {
  return acker_.pending() != 0 ? kThrottleRecheck : kIdleTick;
}

void Consumer::Disconnect() {
  for (auto& [vb, entry] : streams_) entry.stream->Close();
  streams_.clear();
  requests_.clear();
  pending_adds_.clear();
  board_->ClearStreams();
  PublishControls();
}

ConsumerStats Consumer::stats() const {
  ConsumerStats s = counters_;
  s.controls_pending = controls_.size();
  for (const auto& [vb, entry] : streams_) s.streams.emplace(vb, entry.stream->stats());
  return s;
}

}  // namespace sluice::replication
