// File: fuzz/make_corpus.cc
//
// make_corpus OUT_DIR: writes the seed corpora of the fuzz targets, deterministically, with the
// same encoders the server and client use, so every seed is a well-formed input the fuzzer then
// mutates:
//
//   OUT_DIR/frame/    one valid request of every opcode ValidateRequest knows (the first shape of
//                     extras / key / value / CAS it accepts), hand-built ones for the commands
//                     that need real payloads (SET, INCR, HELLO, DCP_OPEN, STREAM_REQ, frame
//                     infos, collection keys, ...), DCP producer messages, responses, a pipeline
//   OUT_DIR/request/  the requests again in request_fuzzer's structured layout
//   OUT_DIR/sasl/     PLAIN and SCRAM exchanges for each sasl_fuzzer mode
//   OUT_DIR/config/   config JSON (every parameter), --set values, sizes, users files
//   OUT_DIR/subdoc/   values with xattrs and one subdoc operation of each kind
//   OUT_DIR/consumer/ what a producer sends a replica (consumer_fuzzer)
//   OUT_DIR/syncwrite/ a setup byte, then prepares, commits, aborts and seqno-acks, durability
//                     frame infos (syncwrite_fuzzer)
//
// Files are named after what they hold and overwritten in place; nothing else in OUT_DIR is
// touched, so regression inputs saved there (crash-*, see README "Fuzzing") stay. `make corpus`
// runs it on fuzz/corpus; the output is committed.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "fuzz/fuzz_input.h"
#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/opcode.h"
#include "protocol/payload.h"
#include "protocol/subdoc.h"
#include "protocol/validate.h"
#include "sasl/crypto.h"
#include "sasl/mechanism.h"
#include "sasl/scram_client.h"
#include "sasl/scram_messages.h"
#include "xattr/blob.h"

namespace sluice::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace protocol;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

  void Write(std::string name, std::string_view bytes) {
    for (char& c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        c = '_';
      }
    }
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir_ / name).c_str());
      std::exit(1);
    }
    ++count_;
  }
  size_t count() const { return count_; }

 private:
  fs::path dir_;
  size_t count_ = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One named request, kept as wire bytes.
struct Seed {
  std::string name;
  std::string wire;
};

std::string Request(const RequestFields& fields) {
  std::string out;
  AppendRequest(&out, fields);
  return out;
}

bool Validates(const std::string& wire, bool collections = false) {
  const DecodeResult r = DecodeFrame(wire, 30u << 20);
  if (r.status != DecodeStatus::kOk) return false;
  ValidationContext ctx;
  ctx.collections = collections;
  return ValidateRequest(r.frame, ctx).ok();
}

// The first request shape ValidateRequest accepts for `op`, if any.
std::optional<std::string> SearchValidShape(Opcode op) {
  static const size_t kExtras[] = {0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 31, 48};
  static const std::string_view kKeys[] = {"", "key"};
  static const std::string_view kValues[] = {"", "value", "{\"a\":1}", "12345678"};
  const std::string extras_bytes(48, '\x01');
  for (uint64_t cas : {uint64_t{0}, uint64_t{0x1234}}) {
    for (size_t extras : kExtras) {
      for (std::string_view key : kKeys) {
        for (std::string_view value : kValues) {
          for (uint8_t datatype : {kDatatypeRaw, kDatatypeJson}) {
            RequestFields f;
            f.opcode = op;
            f.opaque = 1;
            f.cas = cas;
            f.datatype = datatype;
            f.extras = std::string_view(extras_bytes).substr(0, extras);
            f.key = key;
            f.value = value;
            std::string wire = Request(f);
            if (Validates(wire)) return wire;
          }
        }
      }
    }
  }
  return std::nullopt;
}

std::vector<Seed> HandBuiltRequests() {
  std::vector<Seed> seeds;
  auto add = [&](std::string name, std::string wire) {
    seeds.push_back({std::move(name), std::move(wire)});
  };
  add("get", RequestBuilder(Opcode::kGet).Key("key").Vbucket(3).Opaque(7).Build());
  add("getkq", RequestBuilder(Opcode::kGetkq).Key("key").Opaque(8).Build());
  add("set", RequestBuilder(Opcode::kSet).Key("key").Value("value").MutationExtras(7, 0).Build());
  add("set-json-expiry", RequestBuilder(Opcode::kSet)
                             .Key("doc")
                             .Value("{\"a\":[1,2,3]}")
                             .Datatype(kDatatypeJson)
                             .MutationExtras(0, 3600)
                             .Build());
  add("addq", RequestBuilder(Opcode::kAddq).Key("key").Value("v").MutationExtras(0, 0).Build());
  add("replace-cas",
      RequestBuilder(Opcode::kReplace).Key("k").Value("v").MutationExtras(1, 2).Cas(99).Build());
  add("delete-cas", RequestBuilder(Opcode::kDelete).Key("key").Cas(42).Build());
  add("increment",
      RequestBuilder(Opcode::kIncrement).Key("counter").ArithmeticExtras(1, 100, 0).Build());
  add("decrement-nocreate", RequestBuilder(Opcode::kDecrement)
                                .Key("counter")
                                .ArithmeticExtras(5, 0, kArithmeticNoCreate)
                                .Build());
  add("append", RequestBuilder(Opcode::kAppend).Key("key").Value("tail").Build());
  add("prepend", RequestBuilder(Opcode::kPrepend).Key("key").Value("head").Build());
  add("touch", RequestBuilder(Opcode::kTouch).Key("key").ExpiryExtras(10).Build());
  add("gat", RequestBuilder(Opcode::kGat).Key("key").ExpiryExtras(0).Build());
  add("noop", RequestBuilder(Opcode::kNoop).Build());
  add("version", RequestBuilder(Opcode::kVersion).Build());
  add("quit", RequestBuilder(Opcode::kQuit).Build());
  add("stat", RequestBuilder(Opcode::kStat).Build());
  add("stat-vbucket-seqno", RequestBuilder(Opcode::kStat).Key("vbucket-seqno 5").Build());
  add("stat-failovers", RequestBuilder(Opcode::kStat).Key("failovers").Build());
  {
    std::string features;
    AppendFeatures(&features, {Feature::kTcpNoDelay, Feature::kMutationSeqno, Feature::kXerror,
                               Feature::kSelectBucket, Feature::kJson, Feature::kAltRequestSupport,
                               Feature::kCollections});
    add("hello", RequestBuilder(Opcode::kHello).Key("fuzz-agent").Value(features).Build());
  }
  add("sasl-list-mechs", RequestBuilder(Opcode::kSaslListMechs).Build());
  {
    const std::string plain = std::string("\0alice\0secret", 13);
    add("sasl-auth-plain", RequestBuilder(Opcode::kSaslAuth).Key("PLAIN").Value(plain).Build());
  }
  add("sasl-auth-scram",
      RequestBuilder(Opcode::kSaslAuth).Key("SCRAM-SHA512").Value("n,,n=alice,r=abcdef").Build());
  add("sasl-step-scram",
      RequestBuilder(Opcode::kSaslStep)
          .Key("SCRAM-SHA512")
          .Value("c=biws,r=abcdefserver,p=dGhpcyBpcyBub3QgYSByZWFsIHByb29mIGF0IGFsbA==")
          .Build());
  add("select-bucket", RequestBuilder(Opcode::kSelectBucket).Key("default").Build());
  {
    std::string v;
    AppendBe16(&v, 2);
    add("get-error-map", RequestBuilder(Opcode::kGetErrorMap).Value(v).Build());
  }
  {
    const char state[4] = {0, 0, 0, 2};  // replica
    add("set-vbucket",
        RequestBuilder(Opcode::kSetVbucket).Vbucket(5).Extras(std::string_view(state, 4)).Build());
  }
  add("get-vbucket", RequestBuilder(Opcode::kGetVbucket).Vbucket(5).Build());
  add("del-vbucket", RequestBuilder(Opcode::kDelVbucket).Vbucket(5).Build());
  {
    std::string extras;
    AppendAllVbSeqnosExtras(&extras, AllVbSeqnosFilter{1, std::nullopt});
    add("get-all-vb-seqnos", RequestBuilder(Opcode::kGetAllVbSeqnos).Extras(extras).Build());
  }
  {
    std::string uuid;
    AppendBe64(&uuid, 0x0123456789abcdefULL);
    add("observe-seqno", RequestBuilder(Opcode::kObserveSeqno).Vbucket(1).Value(uuid).Build());
  }
  add("get-failover-log", RequestBuilder(Opcode::kGetFailoverLog).Vbucket(9).Build());
  {
    std::string version;
    AppendClusterConfigVersion(&version, ClusterConfigVersion{1, 7});
    add("get-cluster-config-known",
        RequestBuilder(Opcode::kGetClusterConfig).Extras(version).Build());
  }
  add("get-meta", RequestBuilder(Opcode::kGetMeta).Key("key").Build());
  // Subdoc commands and a SET carrying xattrs (protocol/subdoc_request.h).
  {
    std::string extras;
    AppendSubdocSingleExtras(&extras, {5, kSubdocFlagXattrPath | kSubdocFlagMkdirP, 3600,
                                       std::nullopt, kSubdocDocFlagMkdoc});
    add("subdoc-dict-upsert-xattr", RequestBuilder(Opcode::kSubdocDictUpsert)
                                        .Key("key")
                                        .Extras(extras)
                                        .Value("_a.bc{\"x\":1}")
                                        .Build());
  }
  {
    std::string value;
    AppendSubdocSpec(&value, {Opcode::kSubdocGet, kSubdocFlagXattrPath, "$document.CAS", {}},
                     false);
    AppendSubdocSpec(&value, {Opcode::kSubdocExists, 0, "a[0]", {}}, false);
    AppendSubdocSpec(&value, {Opcode::kGet, 0, "", {}}, false);
    const std::string extras(1, static_cast<char>(kSubdocDocFlagAccessDeleted));
    add("subdoc-multi-lookup",
        RequestBuilder(Opcode::kSubdocMultiLookup).Key("key").Extras(extras).Value(value).Build());
  }
  {
    std::string value;
    AppendSubdocSpec(&value,
                     {Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath | kSubdocFlagExpandMacros,
                      "m.cas", "\"${Mutation.CAS}\""},
                     true);
    AppendSubdocSpec(&value, {Opcode::kSubdocCounter, 0, "n", "5"}, true);
    AppendSubdocSpec(&value, {Opcode::kSubdocArrayPushLast, kSubdocFlagMkdirP, "l", "1,2"}, true);
    std::string extras;
    AppendSubdocMultiExtras(&extras, {0, 7u, kSubdocDocFlagMkdoc});
    add("subdoc-multi-mutation", RequestBuilder(Opcode::kSubdocMultiMutation)
                                     .Key("key")
                                     .Extras(extras)
                                     .Value(value)
                                     .Build());
  }
  add("set-xattr", RequestBuilder(Opcode::kSet)
                       .Key("key")
                       .Datatype(kDatatypeXattr)
                       .Value(xattr::Encode({{"_s", "1"}, {"u", "[true]"}}) + "{}")
                       .MutationExtras(0, 0)
                       .Build());
  // Flexible framing: frame infos on the alt magic.
  {
    std::string fe;
    AppendDurabilityFrameInfo(&fe, DurabilityRequirement{DurabilityLevel::kMajority, 1500});
    add("set-durability", RequestBuilder(Opcode::kSet)
                              .FramingExtras(fe)
                              .Key("key")
                              .Value("v")
                              .MutationExtras(0, 0)
                              .Build());
  }
  {
    std::string fe;
    AppendPreserveTtlFrameInfo(&fe);
    AppendBarrierFrameInfo(&fe);
    add("set-preserve-ttl", RequestBuilder(Opcode::kSet)
                                .FramingExtras(fe)
                                .Key("key")
                                .Value("v")
                                .MutationExtras(0, 0)
                                .Build());
  }
  {
    std::string fe;
    AppendImpersonateFrameInfo(&fe, "someone");
    AppendFrameInfo(&fe, 20, "escaped-id");  // an id past the nibble: the escape byte
    add("get-frame-infos", RequestBuilder(Opcode::kGet).FramingExtras(fe).Key("key").Build());
  }
  // Collection-prefixed keys (HELLO Collections).
  add("get-collection-default", RequestBuilder(Opcode::kGet).Collection(0).Key("key").Build());
  add("get-collection-8", RequestBuilder(Opcode::kGet).Collection(8).Key("key").Build());
  add("set-collection-big", RequestBuilder(Opcode::kSet)
                                .Collection(0xfffffff)
                                .Key("key")
                                .Value("v")
                                .MutationExtras(0, 0)
                                .Build());
  // DCP, consumer to producer.
  {
    std::string wire;
    AppendDcpOpen(&wire, DcpOpenRequest{1, 0, kDcpOpenProducer | kDcpOpenIncludeXattrs, "conn"});
    add("dcp-open-producer", wire);
  }
  {
    std::string wire;
    AppendDcpOpen(&wire, DcpOpenRequest{2, 0, kDcpOpenProducer | kDcpOpenIncludeDeleteTimes, "conn",
                                        "{\"consumer_name\":\"c\"}"});
    add("dcp-open-json", wire);
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"connection_buffer_size", "1048576"},
           {"enable_noop", "true"},
           {"set_noop_interval", "10"},
           {"enable_stream_id", "true"},
           {"supports_cursor_dropping", "true"},
           {"send_stream_end_on_client_close_stream", "true"}}) {
    std::string wire;
    AppendDcpControl(&wire, DcpControlRequest{3, key, value});
    add("dcp-control-" + key, wire);
  }
  {
    std::string wire;
    DcpStreamReqRequest r;
    r.vbucket = 3;
    r.opaque = 4;
    AppendDcpStreamReq(&wire, r);
    add("dcp-stream-req-everything", wire);
    wire.clear();
    r.start_seqno = 10;
    r.vbucket_uuid = 0xabcdef;
    r.snap_start_seqno = 10;
    r.snap_end_seqno = 10;
    r.end_seqno = 100;
    r.flags = kDcpStreamActiveVbOnly | kDcpStreamStrictVbUuid;
    AppendDcpStreamReq(&wire, r);
    add("dcp-stream-req-resume", wire);
    wire.clear();
    r.flags = kDcpStreamToLatest | kDcpStreamDiskOnly;
    AppendDcpStreamReq(&wire, r);
    add("dcp-stream-req-to-latest", wire);
  }
  {
    std::string wire;
    AppendDcpCloseStream(&wire, 3, 5);
    add("dcp-close-stream", wire);
    wire.clear();
    AppendDcpCloseStream(&wire, 3, 5, uint16_t{7});
    add("dcp-close-stream-sid", wire);
    wire.clear();
    AppendDcpGetFailoverLog(&wire, 3, 6);
    add("dcp-get-failover-log", wire);
    wire.clear();
    AppendDcpBufferAck(&wire, 4096, 7);
    add("dcp-buffer-ack", wire);
    wire.clear();
    AppendDcpNoopResponse(&wire, 8);
    add("dcp-noop-response", wire);
  }
  return seeds;
}

// DCP producer messages and responses: what a server sends (the client decodes them).
std::vector<Seed> ServerMessages() {
  std::vector<Seed> seeds;
  auto add = [&](std::string name, std::string wire) {
    seeds.push_back({std::move(name), std::move(wire)});
  };
  std::string w;
  auto take = [&]() {
    std::string out;
    out.swap(w);
    return out;
  };
  AppendDcpNoop(&w, 1);
  add("dcp-noop", take());
  for (auto version : {DcpSnapshotMarkerVersion::kV1, DcpSnapshotMarkerVersion::kV2_0,
                       DcpSnapshotMarkerVersion::kV2_2}) {
    DcpSnapshotMarker m;
    m.vbucket = 2;
    m.version = version;
    m.start_seqno = 1;
    m.end_seqno = 9;
    m.flags = kDcpSnapshotMemory | kDcpSnapshotCheckpoint;
    m.max_visible_seqno = 9;
    m.purge_seqno = 1;
    AppendDcpSnapshotMarker(&w, m);
    add("dcp-snapshot-marker-v" + std::to_string(static_cast<int>(version)), take());
  }
  {
    DcpSnapshotMarker m;
    m.stream_id = 3;
    AppendDcpSnapshotMarker(&w, m);
    add("dcp-snapshot-marker-sid", take());
  }
  for (bool collections : {false, true}) {
    const std::string suffix = collections ? "-collections" : "";
    DcpMutation m;
    m.vbucket = 2;
    m.by_seqno = 5;
    m.rev_seqno = 1;
    m.cas = 77;
    m.key = "key";
    m.value = "{\"x\":1}";
    m.datatype = kDatatypeJson;
    AppendDcpMutation(&w, m, collections);
    add("dcp-mutation" + suffix, take());
    DcpDeletion d;
    d.by_seqno = 6;
    d.key = "key";
    AppendDcpDeletion(&w, d, collections);
    add("dcp-deletion-v1" + suffix, take());
    d.version = DcpDeletionVersion::kV2;
    d.delete_time = 1700000000;
    d.stream_id = 4;
    AppendDcpDeletion(&w, d, collections);
    add("dcp-deletion-v2-sid" + suffix, take());
    DcpExpiration x;
    x.by_seqno = 7;
    x.key = "key";
    AppendDcpExpiration(&w, x, collections);
    add("dcp-expiration" + suffix, take());
  }
  AppendDcpStreamEnd(&w, DcpStreamEnd{2, 9, DcpStreamEndStatus::kTooSlow, std::nullopt});
  add("dcp-stream-end", take());
  AppendDcpSetVbucketState(&w, DcpSetVbucketState{2, 9, VBucketState::kReplica});
  add("dcp-set-vbucket-state", take());
  AppendDcpSeqnoAdvanced(&w, DcpSeqnoAdvanced{2, 9, 12, uint16_t{1}});
  add("dcp-seqno-advanced", take());
  // Responses.
  {
    ResponseFields r;
    r.opcode = Opcode::kDcpStreamReq;
    std::string log;
    AppendFailoverLog(&log, {{0xaaaa, 10}, {0xbbbb, 0}});
    r.value = log;
    AppendResponse(&w, r);
    add("response-stream-req-failover-log", take());
    std::string rollback;
    AppendRollbackSeqno(&rollback, 5);
    r.status = McbpStatus::kRollback;
    r.value = rollback;
    AppendResponse(&w, r);
    add("response-stream-req-rollback", take());
  }
  {
    ResponseFields r;
    r.opcode = Opcode::kSet;
    std::string token;
    AppendMutationTokenExtras(&token, 0x1234, 17);
    r.extras = token;
    r.cas = 5;
    AppendResponse(&w, r);
    add("response-set-token", take());
  }
  {
    ResponseFields r;
    r.opcode = Opcode::kObserveSeqno;
    std::string value;
    AppendObserveSeqnoReply(&value, ObserveSeqnoReply{true, 1, 2, 3, 4, 5, 6});
    r.value = value;
    AppendResponse(&w, r);
    add("response-observe-seqno-failover", take());
  }
  {
    ResponseFields r;
    r.opcode = Opcode::kGetAllVbSeqnos;
    std::string value;
    AppendVbSeqnoEntry(&value, 0, 10);
    AppendVbSeqnoEntry(&value, 1, 20);
    r.value = value;
    AppendResponse(&w, r);
    add("response-get-all-vb-seqnos", take());
  }
  {
    ResponseFields r;
    r.opcode = Opcode::kGet;
    r.status = McbpStatus::kKeyEnoent;
    r.value = "{\"error\":{\"context\":\"Not found\"}}";
    r.datatype = kDatatypeJson;
    AppendResponse(&w, r);
    add("response-get-miss-xerror", take());
  }
  return seeds;
}

void WriteFrames(const fs::path& out, std::vector<Seed>* requests_out) {
  CorpusWriter frames(out / "frame");
  std::vector<Seed> requests = HandBuiltRequests();
  // Every other opcode the validator knows, in the first shape it accepts.
  for (int op = 0; op < 256; ++op) {
    const auto opcode = static_cast<Opcode>(op);
    if (!IsValidatedOpcode(opcode)) continue;
    const std::string name = "op-" + Lower(OpcodeName(opcode));
    if (auto wire = SearchValidShape(opcode)) {
      requests.push_back({name, *wire});
    } else {
      // Known but never valid in a simple shape (retired ones answer NotSupported).
      requests.push_back({name + "-invalid", RequestBuilder(opcode).Key("key").Build()});
    }
  }
  requests.push_back({"op-unknown-0x4c", RequestBuilder(static_cast<Opcode>(0x4c)).Build()});
  for (const Seed& s : requests) frames.Write("request-" + s.name, s.wire);
  for (const Seed& s : ServerMessages()) frames.Write(s.name, s.wire);
  // A pipelined handshake, as SDKs send it in one write.
  {
    std::string pipeline;
    std::string features;
    AppendFeatures(&features, {Feature::kXerror, Feature::kSelectBucket, Feature::kJson});
    RequestBuilder(Opcode::kHello).Key("agent").Value(features).Opaque(1).AppendTo(&pipeline);
    RequestBuilder(Opcode::kSaslListMechs).Opaque(2).AppendTo(&pipeline);
    RequestBuilder(Opcode::kSaslAuth)
        .Key("PLAIN")
        .Value(std::string_view("\0alice\0secret", 13))
        .Opaque(3)
        .AppendTo(&pipeline);
    RequestBuilder(Opcode::kSelectBucket).Key("default").Opaque(4).AppendTo(&pipeline);
    RequestBuilder(Opcode::kGet).Key("key").Opaque(5).AppendTo(&pipeline);
    RequestBuilder(Opcode::kNoop).Opaque(6).AppendTo(&pipeline);
    frames.Write("pipeline-handshake-get", pipeline);
  }
  // Frames whose lengths do not add up, a truncated one and an unknown magic.
  {
    std::string bad = RequestBuilder(Opcode::kSet).Key("k").Value("v").MutationExtras(0, 0).Build();
    bad[4] = 100;  // extras length past the body: kInvalid
    frames.Write("invalid-extras-length", bad);
    std::string truncated = RequestBuilder(Opcode::kGet).Key("truncated").Build();
    truncated.resize(truncated.size() - 3);
    frames.Write("truncated-get", truncated);
    std::string magic = RequestBuilder(Opcode::kNoop).Build();
    magic[0] = '\x42';
    frames.Write("unknown-magic", magic);
  }
  std::printf("frame: %zu seeds\n", frames.count());
  *requests_out = std::move(requests);
}

void WriteRequests(const fs::path& out, const std::vector<Seed>& requests) {
  CorpusWriter writer(out / "request");
  for (const Seed& s : requests) {
    const DecodeResult r = DecodeFrame(s.wire, 30u << 20);
    if (r.status != DecodeStatus::kOk) continue;
    const Frame& f = r.frame;
    FuzzInputWriter w;
    w.U8(f.opcode)
        .U8(static_cast<uint8_t>((f.magic == Magic::kAltClientRequest ? 1 : 0) |
                                 (f.cas != 0 ? 2 : 0)))
        .U8(f.datatype)
        .U16(f.vbucket())
        .Str(f.framing_extras)
        .Str(f.extras)
        .Str(f.key)
        .Rest(f.value);
    writer.Write(s.name, w.bytes());
  }
  std::printf("request: %zu seeds\n", writer.count());
}

constexpr std::string_view kClientNonce = "Y2xpZW50LW5vbmNlLWZ1enpp";  // as in sasl_fuzzer.cc

void WriteSasl(const fs::path& out) {
  CorpusWriter writer(out / "sasl");
  const std::string plain = std::string("\0alice\0secret", 13);
  // Mode 0: raw server messages.
  writer.Write("server-plain-ok", FuzzInputWriter().U8(0).U8(3).Str(plain).Str("").bytes());
  writer.Write(
      "server-plain-authzid",
      FuzzInputWriter().U8(0).U8(3).Str(std::string("alice\0alice\0secret", 18)).Str("").bytes());
  writer.Write("server-plain-wrong",
               FuzzInputWriter().U8(0).U8(3).Str(std::string("\0alice\0nope", 11)).Str("").bytes());
  for (uint8_t mech = 0; mech < 3; ++mech) {
    const std::string first = "n,,n=alice,r=" + std::string(kClientNonce);
    const std::string final_message =
        "c=biws,r=" + std::string(kClientNonce) +
        "c2VydmVyLW5vbmNlLWZ1enpp,p=" + sasl::Base64Encode(std::string(64, '\x07'));
    writer.Write("server-scram-" + std::to_string(mech),
                 FuzzInputWriter().U8(0).U8(mech).Str(first).Str(final_message).Rest("x").bytes());
  }
  writer.Write("server-scram-authzid-escaped", FuzzInputWriter()
                                                   .U8(0)
                                                   .U8(0)
                                                   .Str("n,a=bob=2C=3D,n=bob=2C=3D,r=abc")
                                                   .Str("c=bixhPWJvYj0yQz0zRCw=,r=abcdef,p=AAAA")
                                                   .bytes());
  writer.Write("server-unknown-mechanism",
               FuzzInputWriter().U8(0).U8(9).Str("SCRAM-SHA-256").Str("n,,n=a,r=b").bytes());
  // Mode 1: honest exchanges, untampered and tampered.
  for (uint8_t hash = 0; hash < 3; ++hash) {
    for (uint8_t who = 0; who < 4; ++who) {
      writer.Write("honest-h" + std::to_string(hash) + "-w" + std::to_string(who),
                   FuzzInputWriter().U8(1).U8(hash).U8(who).U8(0).Str("").bytes());
    }
  }
  writer.Write("honest-tamper-final-flip",
               FuzzInputWriter().U8(1).U8(2).U8(0).U8(3).Str("\x30\x01").bytes());
  writer.Write("honest-tamper-final-append",
               FuzzInputWriter().U8(1).U8(2).U8(0).U8(2).Str(",e=extra").bytes());
  writer.Write("honest-tamper-first-replace",
               FuzzInputWriter().U8(1).U8(1).U8(0).U8(0x81).Str("y,,n=alice,r=zzz").bytes());
  // Mode 2: the client against server messages.
  const std::string salt = sasl::Base64Encode("0123456789abcdef");
  for (uint8_t hash = 0; hash < 3; ++hash) {
    const std::string server_first =
        sasl::BuildServerFirst(std::string(kClientNonce) + "server", "0123456789abcdef", 16);
    writer.Write("client-h" + std::to_string(hash),
                 FuzzInputWriter()
                     .U8(2)
                     .U8(hash)
                     .Str(server_first)
                     .Rest("v=" + sasl::Base64Encode(std::string(20, 'v')))
                     .bytes());
  }
  writer.Write("client-server-error",
               FuzzInputWriter()
                   .U8(2)
                   .U8(2)
                   .Str("r=" + std::string(kClientNonce) + "srv,s=" + salt + ",i=8,x=ext")
                   .Rest("e=invalid-proof")
                   .bytes());
  writer.Write("client-too-many-iterations",
               FuzzInputWriter()
                   .U8(2)
                   .U8(0)
                   .Str("r=" + std::string(kClientNonce) + "srv,s=" + salt + ",i=100000")
                   .Rest("")
                   .bytes());
  // Mode 3: the message parsers.
  writer.Write("parsers-client", FuzzInputWriter()
                                     .U8(3)
                                     .Str("n,a=x=2Cy,n=user=3D,r=nonce")
                                     .Str("c=biws,r=nonce,p=cHJvb2Y=")
                                     .Rest("v=c2lnbmF0dXJl")
                                     .bytes());
  writer.Write("parsers-server", FuzzInputWriter()
                                     .U8(3)
                                     .Str("r=abc,s=c2FsdA==,i=4096")
                                     .Str("e=other-error")
                                     .Rest("m=mandatory,r=x")
                                     .bytes());
  std::printf("sasl: %zu seeds\n", writer.count());
}

void WriteConfig(const fs::path& out) {
  CorpusWriter writer(out / "config");
  const Config defaults;
  // Mode 0: JSON documents.
  {
    std::string json = "{";
    bool first = true;
    for (const ParamInfo& p : ConfigParams()) {
      auto text = defaults.Get(p.name);
      if (!text.ok()) continue;
      json += first ? "\n  " : ",\n  ";
      first = false;
      const bool quoted = p.type == ParamType::kString || p.type == ParamType::kSize;
      json += "\"" + std::string(p.name) + "\": " + (quoted ? "\"" + *text + "\"" : *text);
    }
    json += "\n}\n";
    writer.Write("json-every-default", FuzzInputWriter().U8(0).Rest(json).bytes());
  }
  writer.Write("json-typical", FuzzInputWriter()
                                   .U8(0)
                                   .Rest("{\"max_size\": \"256M\", \"mem_low_wat_percent\": 0.6, "
                                         "\"flusher_sync\": true, \"max_vbuckets\": 64}")
                                   .bytes());
  writer.Write("json-empty", FuzzInputWriter().U8(0).Rest("{}").bytes());
  writer.Write("json-bad-type", FuzzInputWriter().U8(0).Rest("{\"max_size\": [1]}").bytes());
  writer.Write("json-unknown", FuzzInputWriter().U8(0).Rest("{\"no_such\": 1}").bytes());
  writer.Write("json-negative", FuzzInputWriter().U8(0).Rest("{\"max_vbuckets\": -1}").bytes());
  // Mode 1: a value for each parameter.
  const auto& params = ConfigParams();
  for (size_t i = 0; i < params.size() && i < 256; ++i) {
    auto text = defaults.Get(params[i].name);
    writer.Write(
        "set-" + std::string(params[i].name),
        FuzzInputWriter().U8(1).U8(static_cast<uint8_t>(i)).Rest(text.ok() ? *text : "1").bytes());
  }
  // Mode 2: any name.
  writer.Write("set-any-max-size", FuzzInputWriter().U8(2).Str("max_size").Rest("1GiB").bytes());
  writer.Write("set-any-unknown", FuzzInputWriter().U8(2).Str("bogus").Rest("1").bytes());
  writer.Write("set-any-bool", FuzzInputWriter().U8(2).Str("flusher_sync").Rest("false").bytes());
  writer.Write("set-any-double",
               FuzzInputWriter().U8(2).Str("mem_high_wat_percent").Rest("1e-3").bytes());
  // Mode 3: sizes.
  for (std::string_view size :
       {"64M", "1GiB", "512kB", "16T", "18446744073709551615", "0", "17179869184G"}) {
    writer.Write("size-" + std::string(size), FuzzInputWriter().U8(3).Rest(size).bytes());
  }
  // Mode 4: users files.
  writer.Write("users-dev", FuzzInputWriter()
                                .U8(4)
                                .Rest(R"({
  "users": [
    {"name": "Administrator", "password": "password"},
    {"name": "default", "password": "password", "buckets": ["default"]}
  ]
}
)")
                                .bytes());
  writer.Write("users-empty-buckets",
               FuzzInputWriter()
                   .U8(4)
                   .Rest(R"({"users":[{"name":"a,b=c","password":"p","buckets":[]}]})")
                   .bytes());
  writer.Write("users-misspelt",
               FuzzInputWriter()
                   .U8(4)
                   .Rest(R"({"users":[{"name":"a","password":"p","bucket":["x"]}]})")
                   .bytes());
  writer.Write("users-duplicate",
               FuzzInputWriter()
                   .U8(4)
                   .Rest(R"({"users":[{"name":"a","password":"p"},{"name":"a","password":"q"}]})")
                   .bytes());
  std::printf("config: %zu seeds\n", writer.count());
}

// subdoc_fuzzer: mode 0 values with xattrs, mode 1 operations.
void WriteSubdoc(const fs::path& out) {
  CorpusWriter writer(out / "subdoc");
  const std::string section = xattr::Encode({{"_sync", R"({"rev":"1-a"})"}, {"meta", "[1,2]"}});
  writer.Write("value-two-xattrs", FuzzInputWriter().U8(0).Rest(section + R"({"a":1})").bytes());
  writer.Write("value-empty-section", FuzzInputWriter().U8(0).Rest(std::string(4, '\0')).bytes());
  const std::string doc = R"({"a":{"b":[1,2,{"c":"d"}]},"n":5,"s":"x","e":{},"l":[]})";
  struct Op {
    const char* name;
    uint8_t op;
    const char* path;
    const char* value;
  };
  const Op ops[] = {{"get", 0, "a.b[2].c", ""},
                    {"exists", 1, "a.b[-1]", ""},
                    {"count", 2, "a.b", ""},
                    {"dict-add", 3, "a.x", "true"},
                    {"upsert-mkdir", 4, "p.q.r", "[1]"},
                    {"remove", 5, "a.b[0]", ""},
                    {"replace", 6, "s", "\"y\""},
                    {"push-last-root", 7, "", "1"},
                    {"push-first", 8, "l", "0,1"},
                    {"insert", 9, "a.b[1]", "9"},
                    {"add-unique", 10, "l", "\"u\""},
                    {"counter", 11, "n", "-3"}};
  for (const Op& o : ops) {
    const bool root = std::string_view(o.name) == "push-last-root";
    writer.Write(std::string("op-") + o.name, FuzzInputWriter()
                                                  .U8(1)
                                                  .U8(o.op)
                                                  .U8(1)
                                                  .Str(o.path)
                                                  .Str(o.value)
                                                  .Rest(root ? "[1, 2 ]" : doc)
                                                  .bytes());
  }
  std::printf("subdoc: %zu seeds\n", writer.count());
}

// What a producer sends a replica (consumer_fuzzer): whole streams, good and bad.
class ProducerStream {
 public:
  ProducerStream& Marker(uint64_t start, uint64_t end, uint32_t flags = kDcpSnapshotMemory) {
    DcpSnapshotMarker m;
    m.opaque = 1;
    m.start_seqno = start;
    m.end_seqno = end;
    m.flags = flags;
    AppendDcpSnapshotMarker(&out_, m);
    return *this;
  }
  ProducerStream& Mutation(uint64_t seqno, std::string_view key, std::string_view value,
                           uint8_t datatype = kDatatypeRaw) {
    DcpMutation m;
    m.opaque = 1;
    m.by_seqno = seqno;
    m.rev_seqno = seqno;
    m.cas = 0x1700000000000000 + seqno;
    m.flags = 0xf1a9;
    m.datatype = datatype;
    m.key = key;
    m.value = value;
    AppendDcpMutation(&out_, m, /*collections=*/false);
    return *this;
  }
  ProducerStream& Deletion(uint64_t seqno, std::string_view key) {
    DcpDeletion d;
    d.opaque = 1;
    d.by_seqno = seqno;
    d.rev_seqno = seqno;
    d.cas = 0x1700000000000000 + seqno;
    d.version = DcpDeletionVersion::kV2;
    d.delete_time = 1'700'000'000;
    d.key = key;
    AppendDcpDeletion(&out_, d, /*collections=*/false);
    return *this;
  }
  ProducerStream& Expiration(uint64_t seqno, std::string_view key) {
    DcpExpiration x;
    x.opaque = 1;
    x.by_seqno = seqno;
    x.rev_seqno = seqno;
    x.cas = 0x1700000000000000 + seqno;
    x.delete_time = 1'700'000'001;
    x.key = key;
    AppendDcpExpiration(&out_, x, /*collections=*/false);
    return *this;
  }
  ProducerStream& End(DcpStreamEndStatus status = DcpStreamEndStatus::kOk) {
    AppendDcpStreamEnd(&out_, DcpStreamEnd{0, 1, status, std::nullopt});
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

void WriteConsumer(const fs::path& out) {
  CorpusWriter writer(out / "consumer");
  writer.Write("memory-snapshot", ProducerStream()
                                      .Marker(1, 3)
                                      .Mutation(1, "a", "1")
                                      .Deletion(2, "b")
                                      .Expiration(3, "c")
                                      .End()
                                      .bytes());
  writer.Write("disk-then-memory", ProducerStream()
                                       .Marker(0, 5, kDcpSnapshotDisk | kDcpSnapshotCheckpoint)
                                       .Mutation(2, "a", R"({"x":1})", kDatatypeJson)
                                       .Mutation(5, "b", "2")
                                       .Marker(6, 8, kDcpSnapshotMemory | kDcpSnapshotCheckpoint)
                                       .Mutation(7, "a", "3")
                                       .Deletion(8, "b")
                                       .Marker(9, 9)
                                       .Mutation(9, "c", "4")
                                       .bytes());
  writer.Write("xattrs", ProducerStream()
                             .Marker(1, 1)
                             .Mutation(1, "x", xattr::Encode({{"_s", "1"}}) + "{}",
                                       kDatatypeXattr | kDatatypeJson)
                             .bytes());
  writer.Write("out-of-order", ProducerStream()
                                   .Marker(1, 5)
                                   .Mutation(3, "a", "1")
                                   .Mutation(2, "b", "2")
                                   .Marker(1, 9)
                                   .Mutation(6, "c", "3")
                                   .bytes());
  writer.Write(
      "outside-snapshot",
      ProducerStream().Mutation(1, "early", "x").Marker(1, 2).Mutation(3, "late", "y").bytes());
  std::printf("consumer: %zu seeds\n", writer.count());
}

// syncwrite_fuzzer: a setup byte (bit 0 collections, bit 1 a second chain, bit 2 a null slot),
// then SyncWrite messages. A seqno-ack's vbucket picks the node: 0 the active's persistence, 1
// and 2 the replicas, 3 a node outside the topology.
class SyncWriteStream {
 public:
  explicit SyncWriteStream(uint8_t setup) : out_(1, static_cast<char>(setup)) {}
  SyncWriteStream& Prepare(uint64_t seqno, std::string_view key, uint8_t level,
                           uint32_t collection = 0, std::optional<uint16_t> stream_id = {}) {
    DcpPrepare p;
    p.opaque = 1;
    p.cas = 0x1700000000000000 + seqno;
    p.by_seqno = seqno;
    p.rev_seqno = 1;
    p.flags = 0xf1a9;
    p.durability_level = level;
    p.collection_id = collection;
    p.key = key;
    p.value = "value";
    p.stream_id = stream_id;
    AppendDcpPrepare(&out_, p, (out_[0] & 1) != 0);
    return *this;
  }
  SyncWriteStream& Resolve(Opcode opcode, uint64_t prepared, uint64_t seqno, std::string_view key,
                           uint32_t collection = 0) {
    DcpResolution r;
    r.opaque = 1;
    r.prepared_seqno = prepared;
    r.seqno = seqno;
    r.collection_id = collection;
    r.key = key;
    AppendDcpResolution(&out_, static_cast<uint8_t>(opcode), r, (out_[0] & 1) != 0);
    return *this;
  }
  SyncWriteStream& Ack(Vbid node, uint64_t seqno) {
    AppendDcpSeqnoAcknowledged(&out_, DcpSeqnoAcknowledged{node, 1, seqno});
    return *this;
  }
  SyncWriteStream& Raw(Opcode opcode, std::string_view extras, std::string_view key,
                       std::string_view value, std::string_view framing = {}) {
    AppendFrame(&out_, framing.empty() ? Magic::kClientRequest : Magic::kAltClientRequest,
                static_cast<uint8_t>(opcode), 0, 0, 1, 0, framing, extras, key, value);
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

void WriteSyncWrite(const fs::path& out) {
  CorpusWriter writer(out / "syncwrite");
  writer.Write("majority-ack-commit", SyncWriteStream(0)
                                          .Prepare(1, "a", 1)
                                          .Prepare(2, "b", 1)
                                          .Ack(1, 1)
                                          .Resolve(Opcode::kDcpCommit, 1, 3, "a")
                                          .Ack(2, 2)
                                          .Resolve(Opcode::kDcpAbort, 2, 4, "b")
                                          .bytes());
  writer.Write("persistence-levels", SyncWriteStream(0)
                                         .Prepare(1, "a", 2)
                                         .Prepare(2, "b", 3)
                                         .Prepare(3, "c", 1)
                                         .Ack(1, 3)
                                         .Ack(0, 1)
                                         .Ack(2, 2)
                                         .Ack(0, 3)
                                         .bytes());
  writer.Write("two-chains-null-slot", SyncWriteStream(6)
                                           .Prepare(1, "a", 1)
                                           .Ack(3, 1)
                                           .Ack(2, 1)
                                           .Ack(1, 1)
                                           .Prepare(2, "b", 3)
                                           .Ack(0, 2)
                                           .Ack(1, 2)
                                           .bytes());
  writer.Write("collections-stream-id", SyncWriteStream(1)
                                            .Prepare(1, "a", 1, 8, 3)
                                            .Resolve(Opcode::kDcpAbort, 1, 2, "a", 8)
                                            .Prepare(3, "b", 3, 0xfffffff)
                                            .Resolve(Opcode::kDcpCommit, 3, 5, "b", 0xfffffff)
                                            .bytes());
  {
    std::string majority;
    AppendDurabilityFrameInfo(&majority, DurabilityRequirement{DurabilityLevel::kMajority, {}});
    std::string persist;
    AppendDurabilityFrameInfo(&persist,
                              DurabilityRequirement{DurabilityLevel::kPersistToMajority, 1500});
    std::string bad_level;
    AppendFrameInfo(&bad_level, static_cast<uint16_t>(RequestFrameInfoId::kDurability),
                    std::string(1, '\x04'));
    std::string mutation_extras(8, '\0');
    writer.Write("durability-frame-infos",
                 SyncWriteStream(0)
                     .Raw(Opcode::kSet, mutation_extras, "k", "v", majority)
                     .Raw(Opcode::kDelete, {}, "k", {}, persist)
                     .Raw(Opcode::kSet, mutation_extras, "k", "v", bad_level)
                     .bytes());
  }
  // Malformed: a level of 0, a commit not above its prepare, an ack with a key, short extras.
  std::string prepare_extras(kDcpPrepareExtrasSize, '\0');
  prepare_extras[7] = 9;  // by_seqno 9, durability level 0
  std::string resolution(kDcpCommitExtrasSize, '\0');
  resolution[7] = 5;
  resolution[15] = 5;  // prepared 5, commit 5
  writer.Write("malformed", SyncWriteStream(0)
                                .Raw(Opcode::kDcpPrepare, prepare_extras, "k", "v")
                                .Raw(Opcode::kDcpCommit, resolution, "k", {})
                                .Raw(Opcode::kDcpSeqnoAcknowledged, std::string(8, '\0'), "k", {})
                                .Raw(Opcode::kDcpAbort, std::string(15, '\0'), "k", {})
                                .bytes());
  std::printf("syncwrite: %zu seeds\n", writer.count());
}

}  // namespace
}  // namespace sluice::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: %s OUT_DIR   (writes "
                 "OUT_DIR/{frame,request,sasl,config,subdoc,consumer,syncwrite}/)\n",
                 argv[0]);
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  std::vector<sluice::fuzz::Seed> requests;
  sluice::fuzz::WriteFrames(out, &requests);
  sluice::fuzz::WriteRequests(out, requests);
  sluice::fuzz::WriteSasl(out);
  sluice::fuzz::WriteConfig(out);
  sluice::fuzz::WriteSubdoc(out);
  sluice::fuzz::WriteConsumer(out);
  sluice::fuzz::WriteSyncWrite(out);
  return 0;
}
