// Document commands: GET/SET/ADD/REPLACE/DELETE/INCR/DECR/APPEND/PREPEND/TOUCH/GAT/GET_META and
// their quiet forms. Mutations with a durability frame info are SyncWrites
// (server/durable_write.h); the subdoc lookups live in commands_subdoc.cc.
#include "common/json_check.h"
#include "protocol/byte_order.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/payload.h"
#include "server/command_util.h"
#include "server/commands_subdoc.h"
#include "server/dispatcher.h"
#include "server/durable_write.h"

namespace sluice::server {

using protocol::Feature;
using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

std::optional<std::string_view> DocumentKey(Connection& conn, const Frame& req) {
  if (!conn.HasFeature(Feature::kCollections)) return req.key;
  auto split = protocol::SplitCollectionKey(req.key);
  if (!split.ok()) {
    conn.RespondError(req, split.status());
    return std::nullopt;
  }
  if (split->collection_id != protocol::kDefaultCollectionId) {
    conn.RespondError(req, Status(Errc::kUnknownCollection));
    return std::nullopt;
  }
  return split->key;
}

engine::Bucket* RequireBucket(Connection& conn, const Frame& req) {
  engine::Bucket* bucket = conn.bucket();
  if (bucket == nullptr) conn.Respond(req, McbpStatus::kNoBucket);
  return bucket;
}

namespace {

std::string U32(uint32_t v) {
  std::string s;
  protocol::AppendBe32(&s, v);
  return s;
}

std::string U64(uint64_t v) {
  std::string s;
  protocol::AppendBe64(&s, v);
  return s;
}

uint32_t Now(Connection& conn) { return conn.ctx().clock().WallSeconds(); }

// The response to a successful mutation; the mutation token as extras with MutationSeqno.
void RespondMutation(Connection& conn, const Frame& req, const engine::MutationResult& r,
                     std::string_view value = {}) {
  std::string extras;
  if (conn.HasFeature(Feature::kMutationSeqno)) {
    protocol::AppendMutationTokenExtras(&extras, r.vbucket_uuid, r.seqno);
  }
  conn.Respond(req, McbpStatus::kSuccess, extras, {}, value, 0, r.cas);
}

// A mutation's durability (server/durable_write.h). Begin() runs before the mutation: it answers
// a frame whose durable wait resolved (the mutation was done on an earlier run) or a requirement
// this node cannot meet, and then returns false. Finish() runs after a successful mutation: it
// answers now or parks the frame until the flusher persisted it.
class Durability {
 public:
  Durability(Connection& conn, const Frame& req, bool quiet)
      : conn_(conn), req_(req), quiet_(quiet), requirement_(RequestedDurability(req)) {}

  bool Begin(engine::Bucket& bucket) {
    if (auto done = DurableWrite::Take(conn_, req_)) {
      const Status outcome = done->outcome();
      if (!outcome.ok()) {
        conn_.RespondError(req_, outcome);
      } else if (!quiet_) {
        RespondMutation(conn_, req_, done->result(), done->value());
      }
      return false;
    }
    if (!requirement_) return true;
    if (Status s = CheckDurabilityPossible(bucket, req_.vbucket(), *requirement_); !s.ok()) {
      conn_.RespondError(req_, s);
      return false;
    }
    return true;
  }

  CommandResult Finish(engine::Bucket& bucket, const engine::MutationResult& r,
                       std::string_view value = {}) {
    if (requirement_) {
      Status s = DurableWrite::Start(conn_, req_, bucket, req_.vbucket(), *requirement_, r,
                                     std::string(value));
      if (s.code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
      if (!s.ok()) {
        conn_.RespondError(req_, s);
        return CommandResult::kDone;
      }
    }
    if (!quiet_) RespondMutation(conn_, req_, r, value);
    return CommandResult::kDone;
  }

 private:
  Connection& conn_;
  const Frame& req_;
  const bool quiet_;
  const std::optional<protocol::DurabilityRequirement> requirement_;
};

CommandResult Get(Connection& conn, const Frame& req, engine::Bucket& bucket, bool quiet,
                  bool with_key) {
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.Get(req.vbucket(), *key, conn.waiter());
  if (!r.ok()) {
    const Errc code = r.status().code();
    if (code == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    if (code == Errc::kNotFound) {
      if (!quiet) conn.Respond(req, McbpStatus::kKeyEnoent, {}, with_key ? req.key : "");
      return CommandResult::kDone;
    }
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  conn.Respond(req, McbpStatus::kSuccess, U32(r->flags), with_key ? req.key : "", r->value.view(),
               VisibleDatatype(conn, r->datatype), r->cas);
  return CommandResult::kDone;
}

CommandResult Store(Connection& conn, const Frame& req, engine::Bucket& bucket, engine::StoreOp op,
                    bool quiet) {
  Durability durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto extras = protocol::DecodeMutationExtras(req.extras);
  if (!extras.ok()) {
    conn.RespondError(req, extras.status());
    return CommandResult::kDone;
  }
  engine::StoreRequest sr;
  sr.op = op;
  sr.key = *key;
  sr.value = req.value;
  sr.flags = extras->flags;
  sr.expiry = engine::ExpiryFromWire(extras->expiry, Now(conn));
  // Datatype bits the client set are tolerated but not trusted: JSON is detected here, as
  // kv_engine does for clients that did not negotiate it.
  sr.datatype = IsValidJson(req.value) ? protocol::kDatatypeJson : protocol::kDatatypeRaw;
  sr.cas = req.cas;
  auto r = bucket.Store(req.vbucket(), sr);
  if (!r.ok()) {
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, *r);
}

CommandResult Delete(Connection& conn, const Frame& req, engine::Bucket& bucket, bool quiet) {
  Durability durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.Delete(req.vbucket(), *key, req.cas);
  if (!r.ok()) {
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, *r);
}

CommandResult Arithmetic(Connection& conn, const Frame& req, engine::Bucket& bucket, bool increment,
                         bool quiet) {
  Durability durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto extras = protocol::DecodeArithmeticExtras(req.extras);
  if (!extras.ok()) {
    conn.RespondError(req, extras.status());
    return CommandResult::kDone;
  }
  engine::ArithmeticRequest ar;
  ar.key = *key;
  ar.increment = increment;
  ar.delta = extras->delta;
  ar.initial = extras->initial;
  ar.create = extras->expiry != protocol::kArithmeticNoCreate;
  ar.expiry = ar.create ? engine::ExpiryFromWire(extras->expiry, Now(conn)) : 0;
  ar.cas = req.cas;
  auto r = bucket.Arithmetic(req.vbucket(), ar, conn.waiter());
  if (!r.ok()) {
    if (r.status().code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, r->mutation, U64(r->value));
}

CommandResult AppendPrepend(Connection& conn, const Frame& req, engine::Bucket& bucket, bool append,
                            bool quiet) {
  Durability durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.AppendPrepend(req.vbucket(), *key, req.value, append, req.cas, conn.waiter());
  if (!r.ok()) {
    if (r.status().code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, *r);
}

CommandResult Touch(Connection& conn, const Frame& req, engine::Bucket& bucket, bool gat,
                    bool quiet) {
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto expiry = protocol::DecodeU32(req.extras);
  if (!expiry.ok()) {
    conn.RespondError(req, expiry.status());
    return CommandResult::kDone;
  }
  auto r = bucket.Touch(req.vbucket(), *key, engine::ExpiryFromWire(*expiry, Now(conn)), gat,
                        conn.waiter());
  if (!r.ok()) {
    const Errc code = r.status().code();
    if (code == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    if (!(quiet && code == Errc::kNotFound)) conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  if (gat) {
    conn.Respond(req, McbpStatus::kSuccess, U32(r->flags), {}, r->value.view(),
                 VisibleDatatype(conn, r->datatype), r->cas);
  } else {
    conn.Respond(req, McbpStatus::kSuccess, {}, {}, {}, 0, r->cas);
  }
  return CommandResult::kDone;
}

CommandResult GetMeta(Connection& conn, const Frame& req, engine::Bucket& bucket, bool quiet) {
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.GetMeta(req.vbucket(), *key);
  if (!r.ok()) {
    if (!(quiet && r.status().code() == Errc::kNotFound)) conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  // deleted u32, flags u32, expiry u32, rev seqno u64 [, datatype u8 for version 2].
  std::string extras = U32(r->deleted ? 1 : 0) + U32(r->flags) + U32(r->expiry) + U64(r->rev_seqno);
  if (req.extras.size() == 1 && static_cast<uint8_t>(req.extras[0]) == 2) {
    extras.push_back(static_cast<char>(VisibleDatatype(conn, r->datatype)));
  }
  conn.Respond(req, McbpStatus::kSuccess, extras, {}, {}, 0, r->cas);
  return CommandResult::kDone;
}

}  // namespace

std::optional<CommandResult> DispatchKv(Connection& conn, const Frame& req) {
  using engine::StoreOp;
  const Opcode op = req.client_opcode();
  switch (op) {
    case Opcode::kGet:
    case Opcode::kGetq:
    case Opcode::kGetk:
    case Opcode::kGetkq:
    case Opcode::kSet:
    case Opcode::kSetq:
    case Opcode::kAdd:
    case Opcode::kAddq:
    case Opcode::kReplace:
    case Opcode::kReplaceq:
    case Opcode::kDelete:
    case Opcode::kDeleteq:
    case Opcode::kIncrement:
    case Opcode::kIncrementq:
    case Opcode::kDecrement:
    case Opcode::kDecrementq:
    case Opcode::kAppend:
    case Opcode::kAppendq:
    case Opcode::kPrepend:
    case Opcode::kPrependq:
    case Opcode::kTouch:
    case Opcode::kGat:
    case Opcode::kGatq:
    case Opcode::kGetMeta:
    case Opcode::kGetqMeta:
      break;
    default:
      return DispatchSubdoc(conn, req);
  }
  engine::Bucket* bucket = RequireBucket(conn, req);
  if (bucket == nullptr) return CommandResult::kDone;
  switch (op) {
    case Opcode::kGet:
      return Get(conn, req, *bucket, false, false);
    case Opcode::kGetq:
      return Get(conn, req, *bucket, true, false);
    case Opcode::kGetk:
      return Get(conn, req, *bucket, false, true);
    case Opcode::kGetkq:
      return Get(conn, req, *bucket, true, true);
    case Opcode::kSet:
      return Store(conn, req, *bucket, StoreOp::kSet, false);
    case Opcode::kSetq:
      return Store(conn, req, *bucket, StoreOp::kSet, true);
    case Opcode::kAdd:
      return Store(conn, req, *bucket, StoreOp::kAdd, false);
    case Opcode::kAddq:
      return Store(conn, req, *bucket, StoreOp::kAdd, true);
    case Opcode::kReplace:
      return Store(conn, req, *bucket, StoreOp::kReplace, false);
    case Opcode::kReplaceq:
      return Store(conn, req, *bucket, StoreOp::kReplace, true);
    case Opcode::kDelete:
      return Delete(conn, req, *bucket, false);
    case Opcode::kDeleteq:
      return Delete(conn, req, *bucket, true);
    case Opcode::kIncrement:
      return Arithmetic(conn, req, *bucket, true, false);
    case Opcode::kIncrementq:
      return Arithmetic(conn, req, *bucket, true, true);
    case Opcode::kDecrement:
      return Arithmetic(conn, req, *bucket, false, false);
    case Opcode::kDecrementq:
      return Arithmetic(conn, req, *bucket, false, true);
    case Opcode::kAppend:
      return AppendPrepend(conn, req, *bucket, true, false);
    case Opcode::kAppendq:
      return AppendPrepend(conn, req, *bucket, true, true);
    case Opcode::kPrepend:
      return AppendPrepend(conn, req, *bucket, false, false);
    case Opcode::kPrependq:
      return AppendPrepend(conn, req, *bucket, false, true);
    case Opcode::kTouch:
      return Touch(conn, req, *bucket, false, false);
    case Opcode::kGat:
      return Touch(conn, req, *bucket, true, false);
    case Opcode::kGatq:
      return Touch(conn, req, *bucket, true, true);
    case Opcode::kGetMeta:
      return GetMeta(conn, req, *bucket, false);
    case Opcode::kGetqMeta:
      return GetMeta(conn, req, *bucket, true);
    default:
      return std::nullopt;
  }
}

}  // namespace sluice::server
