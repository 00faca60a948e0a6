// Document commands: GET/SET/ADD/REPLACE/DELETE/INCR/DECR/APPEND/PREPEND/TOUCH/GAT/GET_META and
// their quiet forms. Mutations with a durability frame info are SyncWrites
// (server/durable_write.h); the subdoc commands live in commands_subdoc.cc. Extended attributes
// (docs/xattrs.md): GET and GAT answer the body only; SET/ADD/REPLACE store the value as given
// (with the XATTR datatype: xattrs and body, validated), so a plain SET drops the xattrs a
// document had; APPEND/PREPEND/INCR/DECR keep them; DELETE keeps the system ones.
#include "common/json_check.h"
#include "protocol/byte_order.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/payload.h"
#include "server/command_util.h"
#include "server/commands_subdoc.h"
#include "server/dispatcher.h"
#include "server/durable_write.h"
#include "xattr/blob.h"

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

// Only the body of a document with xattrs goes to GET and GAT (kv_engine): the datatype the
// client sees is the body's.
std::string_view BodyOf(const engine::GetResult& r) {
  return xattr::Body(r.datatype, r.value.view());
}
uint8_t BodyDatatype(const Connection& conn, const engine::GetResult& r) {
  return VisibleDatatype(conn, r.datatype & ~protocol::kDatatypeXattr);
}

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
  conn.Respond(req, McbpStatus::kSuccess, U32(r->flags), with_key ? req.key : "", BodyOf(*r),
               BodyDatatype(conn, *r), r->cas);
  return CommandResult::kDone;
}

CommandResult Store(Connection& conn, const Frame& req, engine::Bucket& bucket, engine::StoreOp op,
                    bool quiet) {
  DurabilityScope durability(conn, req, quiet);
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
  // Datatype bits the client set are tolerated but not trusted: JSON is detected here (on the
  // body), as kv_engine does for clients that did not negotiate it. The XATTR bit is kept: the
  // validator let it through only after HELLO XATTR and with a valid xattr section.
  const uint8_t xattr_bit = req.datatype & protocol::kDatatypeXattr;
  sr.datatype = (IsValidJson(xattr::Body(xattr_bit, req.value)) ? protocol::kDatatypeJson
                                                                : protocol::kDatatypeRaw) |
                xattr_bit;
  sr.cas = req.cas;
  auto r = bucket.Store(req.vbucket(), sr);
  if (!r.ok()) {
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, {*r});
}

CommandResult Delete(Connection& conn, const Frame& req, engine::Bucket& bucket, bool quiet) {
  DurabilityScope durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.Delete(req.vbucket(), *key, req.cas, conn.waiter());
  if (!r.ok()) {
    if (r.status().code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, {*r});
}

CommandResult Arithmetic(Connection& conn, const Frame& req, engine::Bucket& bucket, bool increment,
                         bool quiet) {
  DurabilityScope durability(conn, req, quiet);
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
  return durability.Finish(bucket, {r->mutation, U64(r->value)});
}

CommandResult AppendPrepend(Connection& conn, const Frame& req, engine::Bucket& bucket, bool append,
                            bool quiet) {
  DurabilityScope durability(conn, req, quiet);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.AppendPrepend(req.vbucket(), *key, req.value, append, req.cas, conn.waiter());
  if (!r.ok()) {
    if (r.status().code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  return durability.Finish(bucket, {*r});
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
    conn.Respond(req, McbpStatus::kSuccess, U32(r->flags), {}, BodyOf(*r), BodyDatatype(conn, *r),
                 r->cas);
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
