// File: protocol/validate.cc
#include "protocol/validate.h"

#include <array>
#include <nlohmann/json.hpp>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/subdoc.h"
#include "xattr/blob.h"

namespace sluice::protocol {
namespace {

enum class KeyRule : uint8_t { kZero, kNonZero, kAny };
enum class ValueRule : uint8_t { kZero, kNonZero, kAny };
enum class CasRule : uint8_t { kNotSet, kSet, kAny };

// Extras length the specific check validates itself.
constexpr int16_t kCheckedLater = -1;

constexpr uint8_t kRaw = kDatatypeRaw;
constexpr uint8_t kRawJson = kDatatypeRaw | kDatatypeJson;
constexpr uint8_t kDocTypes = kDatatypeJson | kDatatypeSnappy;  // raw is always allowed
constexpr uint8_t kStoreTypes = kDocTypes | kDatatypeXattr;     // SET / ADD / REPLACE
constexpr uint8_t kAllTypes = kDatatypeAll;

using CheckFn = Status (*)(const Frame&, const ValidationContext&);

struct Rule {
  bool present = false;
  bool unsupported = false;  // a retired opcode: NotSupported
  int16_t extras = 0;
  KeyRule key = KeyRule::kZero;
  ValueRule value = ValueRule::kZero;
  CasRule cas = CasRule::kNotSet;
  uint8_t datatypes = kRaw;  // accepted datatype bits
  bool doc_key = false;      // key is a document key (collection-prefixed when enabled)
  CheckFn check = nullptr;   // command-specific rules, run after the common ones
};

// kv_engine's is_document_key_valid, for collection-aware connections.
Status CheckDocumentKey(std::string_view key) {
  if (key.size() <= 1) return Status::Invalid("Key length must be >= 2");
  const std::optional<Leb128Value> leb = DecodeLeb128(key);
  if (!leb) return Status::Invalid("Key contains an invalid leb128 collection prefix");
  const size_t logical = key.size() - leb->length;
  if (logical == 0) return Status::Invalid("No logical key found");
  if (leb->value >= 1 && leb->value <= 7)
    return Status::Invalid("Invalid (reserved) collection-id");
  const size_t max =
      leb->value == kDefaultCollectionId ? kMaxKeyLength : kMaxCollectionsLogicalKeyLength;
  if (logical > max) return Status::Invalid("Logical key exceeds the maximum length");
  return Status::Ok();
}

Status CheckFrameInfos(const Frame& f) {
  if (f.framing_extras.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(RequestFrameInfos infos, ParseRequestFrameInfos(f.framing_extras));
  if (infos.durability && !SupportsDurability(f.client_opcode())) {
    return Status::Invalid("The requested command does not support durability requirements");
  }
  if (infos.preserve_ttl && !SupportsPreserveTtl(f.client_opcode())) {
    return Status(Errc::kNotSupported, "This command does not support PreserveTtl");
  }
  return Status::Ok();
}

Status CheckCommon(const Rule& rule, const Frame& f, const ValidationContext& ctx) {
  if (!IsValidDatatype(f.datatype)) return Status::Invalid("Request datatype invalid");
  if (rule.extras != kCheckedLater && f.extras.size() != static_cast<size_t>(rule.extras)) {
    return Status::Invalid(rule.extras == 0 ? "Request must not include extras"
                                            : "Request extras have the wrong length");
  }
  switch (rule.key) {
    case KeyRule::kZero:
      if (!f.key.empty()) return Status::Invalid("Request must not include key");
      break;
    case KeyRule::kNonZero:
      if (f.key.empty()) return Status::Invalid("Request must include key");
      [[fallthrough]];
    case KeyRule::kAny:
      if (f.key.size() > (ctx.collections ? kMaxCollectionsKeyLength : kMaxKeyLength)) {
        return Status::Invalid("Key length exceeds the maximum");
      }
      break;
  }
  switch (rule.value) {
    case ValueRule::kZero:
      if (!f.value.empty()) return Status::Invalid("Request must not include value");
      break;
    case ValueRule::kNonZero:
      if (f.value.empty()) return Status::Invalid("Request must include value");
      break;
    case ValueRule::kAny:
      break;
  }
  switch (rule.cas) {
    case CasRule::kNotSet:
      if (f.cas != 0) return Status::Invalid("Request CAS must not be set");
      break;
    case CasRule::kSet:
      if (f.cas == 0) return Status::Invalid("Request CAS must be set");
      break;
    case CasRule::kAny:
      break;
  }
  if ((f.datatype & ~rule.datatypes) != 0) return Status::Invalid("Request datatype invalid");
  RETURN_IF_ERROR(CheckFrameInfos(f));
  if (rule.doc_key && ctx.collections) RETURN_IF_ERROR(CheckDocumentKey(f.key));
  return Status::Ok();
}

// ---- Command-specific checks ----

// SET / ADD / REPLACE: the XATTR datatype only after HELLO XATTR, and then with a valid section
// (kv_engine: EINVAL "Datatype ... not enabled", XATTR_EINVAL).
Status CheckStoreValue(const Frame& f, const ValidationContext& ctx) {
  if ((f.datatype & kDatatypeXattr) == 0) return Status::Ok();
  if (!ctx.xattr) return Status::Invalid("Datatype (xattr) not enabled for the connection");
  if (!xattr::Validate(f.value)) {
    return Status(Errc::kXattrInvalid, "The provided xattr segment is not valid");
  }
  return Status::Ok();
}

bool IsJsonObject(std::string_view text, nlohmann::json* out) {
  *out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return out->is_object();
}

Status CheckStat(const Frame& f, const ValidationContext&) {
  if (f.value.empty()) return Status::Ok();
  if ((f.datatype & kDatatypeJson) == 0) return Status::Invalid("Datatype must be JSON");
  if (!nlohmann::json::accept(f.value)) return Status::Invalid("value is not valid JSON");
  return Status::Ok();
}

Status CheckHello(const Frame& f, const ValidationContext&) {
  if (f.value.size() % 2 != 0) return Status::Invalid("Request value must be of even length");
  return Status::Ok();
}

Status CheckSetVbucket(const Frame& f, const ValidationContext&) {
  if (f.value.empty() ? f.datatype != kDatatypeRaw : f.datatype != kDatatypeJson) {
    return Status::Invalid(f.value.empty() ? "Datatype should be set to RAW"
                                           : "Datatype should be set to JSON");
  }
  if (!IsValidVBucketState(static_cast<uint8_t>(f.extras[0]))) {
    return Status::Invalid("The provided vbucket state is invalid");
  }
  return Status::Ok();
}

Status CheckGetAllVbSeqnos(const Frame& f, const ValidationContext&) {
  if (f.extras.empty()) return Status::Ok();
  if (f.extras.size() != 4 && f.extras.size() != 8) {
    return Status::Invalid("Request extras must be of length 0 or 4 or 8");
  }
  if (LoadBe32(f.extras.data()) > 4) return Status::Invalid("Request vbucket state invalid");
  return Status::Ok();
}

Status CheckStreamFlags(uint32_t flags) {
  if ((flags & ~kDcpStreamKnownFlags) != 0) {
    return Status::Invalid((flags & kDcpStreamNoValue) != 0
                               ? "DCP_ADD_STREAM_FLAG_NO_VALUE{8} flag is no longer used"
                               : "Request contains invalid flags");
  }
  if ((flags & kDcpStreamCacheTransfer) != 0 &&
      (flags & ~(kDcpStreamCacheTransfer | kDcpStreamTakeOver | kDcpStreamActiveVbOnly)) != 0) {
    return Status::Invalid("CacheTransfer flag can only be combined with TakeOver or ActiveVbOnly");
  }
  return Status::Ok();
}

Status CheckDcpOpen(const Frame& f, const ValidationContext&) {
  const uint32_t flags = LoadBe32(f.extras.data() + 4);
  if ((flags & ~kDcpOpenKnownFlags) != 0) return Status::Invalid("Request contains invalid flags");
  if ((flags & kDcpOpenSkipDeletesInInitialBackfill) != 0 && (flags & kDcpOpenProducer) == 0) {
    return Status::Invalid(
        "SkipDeletesInInitialBackfill may only be requested on a producer stream");
  }
  if ((flags & kDcpOpenNoValue) != 0 && (flags & kDcpOpenNoValueWithUnderlyingDatatype) != 0) {
    return Status::Invalid(
        "Request contains invalid flags combination (NO_VALUE && "
        "NO_VALUE_WITH_UNDERLYING_DATATYPE)");
  }
  if ((flags & kDcpOpenIncludeDeletedUserXattrs) != 0 && (flags & kDcpOpenIncludeXattrs) == 0) {
    return Status::Invalid("IncludeDeletedUserXattrs requires IncludeXattrs");
  }
  if (f.value.empty()) {
    if (f.datatype != kDatatypeRaw) return Status::Invalid("datatype should be set to RAW");
    return Status::Ok();
  }
  if (f.datatype != kDatatypeJson)
    return Status::Invalid("datatype should be set to JSON for non-empty value");
  nlohmann::json json;
  if (!IsJsonObject(f.value, &json)) return Status::Invalid("value must be JSON of type object");
  for (const auto& item : json.items()) {
    if (item.key() != "consumer_name") return Status::Invalid("Unsupported JSON property");
    if ((flags & kDcpOpenProducer) != 0) {
      return Status::Invalid("consumer_name only valid for Consumer connections");
    }
    if (!item.value().is_string()) return Status::Invalid("consumer_name must be a string");
  }
  return Status::Ok();
}

Status CheckDcpAddStream(const Frame& f, const ValidationContext&) {
  return CheckStreamFlags(LoadBe32(f.extras.data()));
}

Status CheckDcpStreamReq(const Frame& f, const ValidationContext& ctx) {
  if (!ctx.collections && !f.value.empty()) {
    return Status::Invalid("Request must not include value (collections not enabled)");
  }
  return CheckStreamFlags(LoadBe32(f.extras.data()));
}

Status CheckDcpSnapshotMarker(const Frame& f, const ValidationContext&) {
  if (f.extras.size() == kDcpSnapshotMarkerV1ExtrasSize) {
    if (!f.value.empty()) return Status::Invalid("Request must not include value");
    return Status::Ok();
  }
  if (f.extras.size() != 1) return Status::Invalid("Request extras must be of length 20 or 1");
  const auto version = static_cast<uint8_t>(f.extras[0]);
  if (version != 0 && version != 2) return Status::Invalid("Unsupported dcp snapshot version");
  if (f.value.size() != (version == 0 ? 36u : 52u)) return Status::Invalid("valuelen not expected");
  return Status::Ok();
}

Status CheckDcpMutation(const Frame& f, const ValidationContext&) {
  if (LoadBe64(f.extras.data()) == 0) return Status::Invalid("Invalid seqno(0) for DCP mutation");
  if (LoadBe16(f.extras.data() + 28) != 0) {
    return Status::Invalid("DCP does not support extended metadata");
  }
  return Status::Ok();
}

Status CheckDcpDeletion(const Frame& f, const ValidationContext& ctx) {
  const size_t expected = ctx.dcp_delete_v2 ? kDcpDeletionV2ExtrasSize : kDcpDeletionV1ExtrasSize;
  if (f.extras.size() != expected) return Status::Invalid("Request extras have the wrong length");
  // kv_engine's valid_dcp_delete_datatype: raw or xattr, each optionally snappy, and xattr|json.
  const uint8_t dt = f.datatype;
  const bool ok = dt == kDatatypeRaw || dt == (kDatatypeRaw | kDatatypeSnappy) ||
                  dt == kDatatypeXattr || dt == (kDatatypeXattr | kDatatypeSnappy) ||
                  dt == (kDatatypeXattr | kDatatypeJson) ||
                  dt == (kDatatypeXattr | kDatatypeSnappy | kDatatypeJson);
  if (!ok) return Status::Invalid("Request datatype invalid");
  if (!ctx.dcp_delete_v2 && LoadBe16(f.extras.data() + 16) != 0) {
    return Status::Invalid("DCP deletion does not support extended metadata");
  }
  return Status::Ok();
}

Status CheckDcpSetVbucketState(const Frame& f, const ValidationContext&) {
  if (!IsValidVBucketState(static_cast<uint8_t>(f.extras[0]))) {
    return Status::Invalid("Request body state invalid");
  }
  return Status::Ok();
}

Status CheckObserveSeqno(const Frame& f, const ValidationContext&) {
  if (f.body_size() != 8) return Status::Invalid("Request value must be of length 8");
  return Status::Ok();
}

Status CheckGetLocked(const Frame& f, const ValidationContext&) {
  if (!f.extras.empty() && f.extras.size() != 4) {
    return Status::Invalid("Request extras must be of length 0 or 4");
  }
  return Status::Ok();
}

Status CheckGetMeta(const Frame& f, const ValidationContext&) {
  if (f.extras.size() > 1) return Status::Invalid("Request extras must be of length 0 or 1");
  if (f.extras.size() == 1 && static_cast<uint8_t>(f.extras[0]) > 2) {
    return Status::Invalid("Request extras invalid");
  }
  return Status::Ok();
}

// Subdoc lookups (protocol/subdoc.h): single path extras = path length u16, flags u8 [, doc
// flags u8]; multi lookup extras = [doc flags u8]. The specs are checked by the handler.
Status CheckSubdocSingleLookup(const Frame& f, const ValidationContext&) {
  if (f.extras.size() != 3 && f.extras.size() != 4) {
    return Status::Invalid("Request extras must be of length 3 or 4");
  }
  if (LoadBe16(f.extras.data()) != f.value.size()) return Status::Invalid("Invalid path length");
  return Status::Ok();
}

Status CheckSubdocMultiLookup(const Frame& f, const ValidationContext&) {
  if (f.extras.size() > 1) return Status::Invalid("Request extras must be of length 0 or 1");
  return Status::Ok();
}

// Subdoc mutations: single path extras = path length u16, flags u8 [, expiry u32 [, user flags
// u32]] [, doc flags u8]; multi extras = [expiry u32 [, user flags u32]] [, doc flags u8]. The
// specs and flag rules are protocol/subdoc_request.h's (answered by the handler).
Status CheckSubdocSingleMutation(const Frame& f, const ValidationContext&) {
  auto extras = DecodeSubdocSingleExtras(f.extras);
  if (!extras.ok()) return Status::Invalid("Invalid extras section");
  if (extras->path_length > f.value.size())
    return Status::Invalid("Path length can't exceed value");
  return Status::Ok();
}

Status CheckSubdocMultiMutation(const Frame& f, const ValidationContext&) {
  if (!DecodeSubdocMultiExtras(f.extras).ok()) return Status::Invalid("Request extras invalid");
  return Status::Ok();
}

Status CheckGetClusterConfig(const Frame& f, const ValidationContext&) {
  if (f.extras.empty()) return Status::Ok();
  if (f.extras.size() != 16) return Status::Invalid("Request extras must be of length 0 or 16");
  const auto epoch = static_cast<int64_t>(LoadBe64(f.extras.data()));
  const auto revision = static_cast<int64_t>(LoadBe64(f.extras.data() + 8));
  if (revision < 1) return Status::Invalid("Revision number must not be less than 1");
  if (epoch < 1 && epoch != -1) return Status::Invalid("Epoch must not be less than 1 (or -1)");
  return Status::Ok();
}

Status CheckGetRandomKey(const Frame& f, const ValidationContext& ctx) {
  if (ctx.collections) {
    if (f.extras.size() != 4 && f.extras.size() != 5) {
      return Status::Invalid(
          "Extras should contain collection id (and optionally flag to request xattrs)");
    }
  } else if (!f.extras.empty()) {
    return Status::Invalid("Extras should be empty for clients without collections support");
  }
  return Status::Ok();
}

Status CheckVbucketZero(const Frame& f, const ValidationContext&) {
  if (f.vbucket() != 0) return Status::Invalid("Request vbucket id must be 0");
  return Status::Ok();
}

Status CheckCollectionsGetId(const Frame& f, const ValidationContext& ctx) {
  if (!f.key.empty() && !f.value.empty()) return Status::Invalid("Cannot set both key and value");
  return CheckVbucketZero(f, ctx);
}

Status CheckGetErrorMap(const Frame& f, const ValidationContext& ctx) {
  RETURN_IF_ERROR(CheckVbucketZero(f, ctx));
  if (f.value.size() != 2) return Status::Invalid("Request value must be of length 2");
  return Status::Ok();
}

// ---- The table ----

constexpr Rule Make(int16_t extras, KeyRule key, ValueRule value, CasRule cas, uint8_t datatypes,
                    bool doc_key, CheckFn check = nullptr) {
  Rule r;
  r.present = true;
  r.extras = extras;
  r.key = key;
  r.value = value;
  r.cas = cas;
  r.datatypes = datatypes;
  r.doc_key = doc_key;
  r.check = check;
  return r;
}

constexpr Rule Unsupported() {
  Rule r;
  r.present = true;
  r.unsupported = true;
  return r;
}

using K = KeyRule;
using V = ValueRule;
using C = CasRule;

// "No body at all" commands: NOOP, VERSION, QUIT, SASL_LIST_MECHS, ...
constexpr Rule kEmpty = Make(0, K::kZero, V::kZero, C::kNotSet, kRaw, false);
constexpr Rule kGet = Make(0, K::kNonZero, V::kZero, C::kNotSet, kRaw, true);
constexpr Rule kSetReplace =
    Make(8, K::kNonZero, V::kAny, C::kAny, kStoreTypes, true, CheckStoreValue);
constexpr Rule kAdd = Make(8, K::kNonZero, V::kAny, C::kNotSet, kStoreTypes, true, CheckStoreValue);
constexpr Rule kAppend = Make(0, K::kNonZero, V::kAny, C::kAny, kDocTypes, true);
constexpr Rule kDelete = Make(0, K::kNonZero, V::kZero, C::kAny, kRaw, true);
constexpr Rule kArith = Make(20, K::kNonZero, V::kZero, C::kNotSet, kRaw, true);
constexpr Rule kGat = Make(4, K::kNonZero, V::kZero, C::kNotSet, kRaw, true);
constexpr Rule kDcpNoBody = Make(0, K::kZero, V::kZero, C::kAny, kRaw, false);

constexpr std::array<Rule, 256> BuildRuleTable() {
  std::array<Rule, 256> t{};
  auto set = [&t](Opcode op, Rule rule) { t[static_cast<uint8_t>(op)] = rule; };
  set(Opcode::kGet, kGet);
  set(Opcode::kGetq, kGet);
  set(Opcode::kGetk, kGet);
  set(Opcode::kGetkq, kGet);
  set(Opcode::kGetReplica, kGet);
  set(Opcode::kSet, kSetReplace);
  set(Opcode::kSetq, kSetReplace);
  set(Opcode::kReplace, kSetReplace);
  set(Opcode::kReplaceq, kSetReplace);
  set(Opcode::kAdd, kAdd);
  set(Opcode::kAddq, kAdd);
  set(Opcode::kAppend, kAppend);
  set(Opcode::kAppendq, kAppend);
  set(Opcode::kPrepend, kAppend);
  set(Opcode::kPrependq, kAppend);
  set(Opcode::kDelete, kDelete);
  set(Opcode::kDeleteq, kDelete);
  set(Opcode::kIncrement, kArith);
  set(Opcode::kIncrementq, kArith);
  set(Opcode::kDecrement, kArith);
  set(Opcode::kDecrementq, kArith);
  set(Opcode::kTouch, kGat);
  set(Opcode::kGat, kGat);
  set(Opcode::kGatq, kGat);
  set(Opcode::kQuit, kEmpty);
  set(Opcode::kQuitq, kEmpty);
  set(Opcode::kNoop, kEmpty);
  set(Opcode::kVersion, kEmpty);
  set(Opcode::kSaslListMechs, kEmpty);
  set(Opcode::kFlush, Unsupported());
  set(Opcode::kFlushq, Unsupported());
  set(Opcode::kStat, Make(0, K::kAny, V::kAny, C::kNotSet, kRawJson, false, CheckStat));
  // GET_CMD_TIMER: extras = the opcode, key = a bucket name (optional).
  set(Opcode::kGetCmdTimer, Make(1, K::kAny, V::kZero, C::kNotSet, kRaw, false, nullptr));
  set(Opcode::kVerbosity, Make(4, K::kZero, V::kZero, C::kNotSet, kRaw, false));
  set(Opcode::kHello, Make(0, K::kAny, V::kAny, C::kNotSet, kRaw, false, CheckHello));
  set(Opcode::kSaslAuth, Make(0, K::kNonZero, V::kAny, C::kNotSet, kRaw, false));
  set(Opcode::kSaslStep, Make(0, K::kNonZero, V::kAny, C::kNotSet, kRaw, false));
  set(Opcode::kSetVbucket,
      Make(1, K::kZero, V::kAny, C::kNotSet, kRawJson, false, CheckSetVbucket));
  set(Opcode::kGetVbucket, Make(0, K::kAny, V::kZero, C::kNotSet, kRaw, false));
  set(Opcode::kDelVbucket, Make(0, K::kZero, V::kAny, C::kNotSet, kRaw, false));
  set(Opcode::kGetAllVbSeqnos,
      Make(kCheckedLater, K::kZero, V::kZero, C::kNotSet, kRaw, false, CheckGetAllVbSeqnos));
  set(Opcode::kListBuckets, Make(0, K::kZero, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kSelectBucket, Make(0, K::kAny, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kObserveSeqno, Make(0, K::kZero, V::kAny, C::kAny, kRaw, false, CheckObserveSeqno));
  set(Opcode::kObserve, Make(0, K::kZero, V::kNonZero, C::kNotSet, kRaw, false));
  set(Opcode::kEvictKey, Make(0, K::kNonZero, V::kZero, C::kNotSet, kRaw, true));
  set(Opcode::kGetLocked,
      Make(kCheckedLater, K::kNonZero, V::kZero, C::kNotSet, kRaw, true, CheckGetLocked));
  set(Opcode::kUnlockKey, Make(0, K::kNonZero, V::kZero, C::kSet, kRaw, true));
  set(Opcode::kGetFailoverLog, kDcpNoBody);
  set(Opcode::kGetMeta,
      Make(kCheckedLater, K::kNonZero, V::kZero, C::kNotSet, kRaw, true, CheckGetMeta));
  set(Opcode::kGetqMeta,
      Make(kCheckedLater, K::kNonZero, V::kZero, C::kNotSet, kRaw, true, CheckGetMeta));
  // Subdoc commands (the handler checks them further: protocol/subdoc_request.h).
  set(Opcode::kSubdocGet,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocSingleLookup));
  set(Opcode::kSubdocExists,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocSingleLookup));
  set(Opcode::kSubdocGetCount,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocSingleLookup));
  set(Opcode::kSubdocMultiLookup,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocMultiLookup));
  for (Opcode op :
       {Opcode::kSubdocDictAdd, Opcode::kSubdocDictUpsert, Opcode::kSubdocDelete,
        Opcode::kSubdocReplace, Opcode::kSubdocArrayPushLast, Opcode::kSubdocArrayPushFirst,
        Opcode::kSubdocArrayInsert, Opcode::kSubdocArrayAddUnique, Opcode::kSubdocCounter,
        Opcode::kSubdocReplaceBodyWithXattr}) {
    set(op,
        Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocSingleMutation));
  }
  set(Opcode::kSubdocMultiMutation,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kRaw, true, CheckSubdocMultiMutation));
  set(Opcode::kGetClusterConfig,
      Make(kCheckedLater, K::kZero, V::kZero, C::kNotSet, kRaw, false, CheckGetClusterConfig));
  set(Opcode::kGetRandomKey,
      Make(kCheckedLater, K::kZero, V::kZero, C::kNotSet, kRaw, false, CheckGetRandomKey));
  set(Opcode::kSeqnoPersistence, Make(8, K::kZero, V::kZero, C::kNotSet, kRaw, false));
  set(Opcode::kCollectionsGetManifest,
      Make(0, K::kZero, V::kZero, C::kNotSet, kRaw, false, CheckVbucketZero));
  set(Opcode::kCollectionsGetId,
      Make(0, K::kAny, V::kAny, C::kNotSet, kRaw, false, CheckCollectionsGetId));
  set(Opcode::kCollectionsGetScopeId,
      Make(0, K::kAny, V::kAny, C::kNotSet, kRaw, false, CheckCollectionsGetId));
  set(Opcode::kGetErrorMap, Make(0, K::kZero, V::kAny, C::kNotSet, kRaw, false, CheckGetErrorMap));

  // DCP.
  set(Opcode::kDcpOpen,
      Make(kDcpOpenExtrasSize, K::kNonZero, V::kAny, C::kAny, kRawJson, false, CheckDcpOpen));
  set(Opcode::kDcpAddStream, Make(4, K::kZero, V::kZero, C::kAny, kRaw, false, CheckDcpAddStream));
  set(Opcode::kDcpCloseStream, kDcpNoBody);
  set(Opcode::kDcpStreamReq,
      Make(kDcpStreamReqExtrasSize, K::kZero, V::kAny, C::kAny, kRaw, false, CheckDcpStreamReq));
  set(Opcode::kDcpGetFailoverLog, kDcpNoBody);
  set(Opcode::kDcpStreamEnd,
      Make(kDcpStreamEndExtrasSize, K::kZero, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kDcpSnapshotMarker,
      Make(kCheckedLater, K::kZero, V::kAny, C::kAny, kRaw, false, CheckDcpSnapshotMarker));
  set(Opcode::kDcpMutation, Make(kDcpMutationExtrasSize, K::kNonZero, V::kAny, C::kAny, kAllTypes,
                                 true, CheckDcpMutation));
  set(Opcode::kDcpDeletion,
      Make(kCheckedLater, K::kNonZero, V::kAny, C::kAny, kAllTypes, true, CheckDcpDeletion));
  set(Opcode::kDcpExpiration,
      Make(kDcpExpirationExtrasSize, K::kNonZero, V::kAny, C::kAny, kAllTypes, true));
  set(Opcode::kDcpSetVbucketState,
      Make(1, K::kZero, V::kZero, C::kAny, kRaw, false, CheckDcpSetVbucketState));
  set(Opcode::kDcpNoop, kDcpNoBody);
  set(Opcode::kDcpSeqnoAdvanced, Make(8, K::kZero, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kDcpBufferAcknowledgement,
      Make(kDcpBufferAckExtrasSize, K::kZero, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kDcpControl, Make(0, K::kNonZero, V::kNonZero, C::kAny, kRaw, false));
  set(Opcode::kDcpSeqnoAcknowledged, Make(8, K::kZero, V::kZero, C::kAny, kRaw, false));
  set(Opcode::kDcpFlush, Unsupported());

  // Retired opcodes kv_engine answers with NotSupported.
  for (Opcode op : {Opcode::kRget,
                    Opcode::kRset,
                    Opcode::kRsetq,
                    Opcode::kRappend,
                    Opcode::kRappendq,
                    Opcode::kRprepend,
                    Opcode::kRprependq,
                    Opcode::kRdelete,
                    Opcode::kRdeleteq,
                    Opcode::kRincr,
                    Opcode::kRincrq,
                    Opcode::kRdecr,
                    Opcode::kRdecrq,
                    Opcode::kTapConnect,
                    Opcode::kTapMutation,
                    Opcode::kTapDelete,
                    Opcode::kTapFlush,
                    Opcode::kTapOpaque,
                    Opcode::kTapVbucketSet,
                    Opcode::kTapCheckpointStart,
                    Opcode::kTapCheckpointEnd,
                    Opcode::kDeregisterTapClient,
                    Opcode::kResetReplicationChain,
                    Opcode::kNotifyVbucketUpdate,
                    Opcode::kSnapshotVbStates,
                    Opcode::kVbucketBatchCount,
                    Opcode::kChangeVbFilter,
                    Opcode::kCheckpointPersistence,
                    Opcode::kCreateCheckpoint,
                    Opcode::kLastClosedCheckpoint,
                    Opcode::kSslCertsRefresh,
                    Opcode::kScrub,
                    Opcode::kSetNodeThrottleProperties,
                    Opcode::kGetAdjustedTime,
                    Opcode::kSetDriftCounterState}) {
    set(op, Unsupported());
  }
  return t;
}

constexpr std::array<Rule, 256> kRules = BuildRuleTable();

}  // namespace

bool IsValidatedOpcode(Opcode op) { return kRules[static_cast<uint8_t>(op)].present; }

Status ValidateRequest(const Frame& request, const ValidationContext& context) {
  if (request.magic != Magic::kClientRequest && request.magic != Magic::kAltClientRequest) {
    return Status::Invalid("not a client request");
  }
  const Rule& rule = kRules[request.opcode];
  if (!rule.present) return Status(Errc::kUnknownCommand);
  if (rule.unsupported) return Status(Errc::kNotSupported);
  RETURN_IF_ERROR(CheckCommon(rule, request, context));
  if (rule.check != nullptr) return rule.check(request, context);
  return Status::Ok();
}

}  // namespace sluice::protocol
