// Tests for the request validation table (validate.h).
#include "protocol/validate.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"

namespace sluice::protocol {
namespace {

// Validates the single frame in `wire`.
Errc Check(const std::string& wire, const ValidationContext& ctx = {}) {
  const DecodeResult d = DecodeFrame(wire, 1 << 20);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  return ValidateRequest(d.frame, ctx).code();
}

std::string U32(uint32_t v) {
  std::string s;
  AppendBe32(&s, v);
  return s;
}

TEST(ValidateTest, Get) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Build()), Errc::kInvalid);  // no key
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").Value("v").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").ExpiryExtras(1).Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").Cas(1).Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetkq).Key("k").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(std::string(250, 'k')).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(std::string(251, 'k')).Build()), Errc::kInvalid);
}

TEST(ValidateTest, SetAddReplace) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet).Key("k").Value("v").MutationExtras(0, 0).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet).Key("k").Value("v").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet).Value("v").MutationExtras(0, 0).Build()),
            Errc::kInvalid);
  // CAS is allowed for SET/REPLACE but not ADD.
  EXPECT_EQ(Check(RequestBuilder(Opcode::kReplace).Key("k").MutationExtras(0, 0).Cas(5).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kAdd).Key("k").MutationExtras(0, 0).Cas(5).Build()),
            Errc::kInvalid);
  // JSON and Snappy datatypes are accepted, XATTR is not.
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet)
                      .Key("k")
                      .Value("{}")
                      .MutationExtras(0, 0)
                      .Datatype(kDatatypeJson)
                      .Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet)
                      .Key("k")
                      .MutationExtras(0, 0)
                      .Datatype(kDatatypeXattr)
                      .Build()),
            Errc::kInvalid);
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kSet).Key("k").MutationExtras(0, 0).Datatype(0x08).Build()),
      Errc::kInvalid);
}

TEST(ValidateTest, ArithmeticTouchAppendDelete) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kIncrement).Key("c").ArithmeticExtras(1, 0, 0).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kDecrement).Key("c").MutationExtras(1, 0).Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kTouch).Key("k").ExpiryExtras(10).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGat).Key("k").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kAppend).Key("k").Value("x").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kAppend).Key("k").ExpiryExtras(0).Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kDelete).Key("k").Cas(9).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kDelete).Key("k").Value("v").Build()), Errc::kInvalid);
}

TEST(ValidateTest, SimpleCommands) {
  for (Opcode op : {Opcode::kNoop, Opcode::kVersion, Opcode::kQuit, Opcode::kQuitq,
                    Opcode::kSaslListMechs, Opcode::kListBuckets}) {
    EXPECT_EQ(Check(RequestBuilder(op).Build()), Errc::kOk) << OpcodeName(op);
    EXPECT_EQ(Check(RequestBuilder(op).Key("x").Build()), Errc::kInvalid) << OpcodeName(op);
  }
  EXPECT_EQ(Check(RequestBuilder(Opcode::kVersion).Value("x").Build()), Errc::kInvalid);
}

TEST(ValidateTest, HelloSaslSelectBucket) {
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kHello).Key("agent").Value(std::string("\x00\x07", 2)).Build()),
      Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kHello).Key("agent").Value(std::string(1, '\0')).Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSaslAuth).Key("PLAIN").Value("x").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSaslStep).Value("x").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSelectBucket).Key("default").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSelectBucket).Key("b").Value("v").Build()),
            Errc::kInvalid);
}

TEST(ValidateTest, StatValue) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kStat).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kStat).Key("dcp").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kStat)
                      .Key("dcp")
                      .Value("{\"stream_format\":\"json\"}")
                      .Datatype(kDatatypeJson)
                      .Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kStat).Key("dcp").Value("{}").Build()), Errc::kInvalid);
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kStat).Key("x").Value("{").Datatype(kDatatypeJson).Build()),
      Errc::kInvalid);
}

TEST(ValidateTest, VbucketCommands) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSetVbucket).Extras("\x01").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSetVbucket).Extras("\x05").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSetVbucket).Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSetVbucket)
                      .Extras("\x02")
                      .Value("{}")
                      .Datatype(kDatatypeJson)
                      .Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSetVbucket).Extras("\x02").Value("{}").Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetVbucket).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetAllVbSeqnos).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetAllVbSeqnos).Extras(U32(1)).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetAllVbSeqnos).Extras(U32(1) + U32(8)).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetAllVbSeqnos).Extras(U32(5)).Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetAllVbSeqnos).Extras(std::string(2, '\0')).Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kObserveSeqno).Value(std::string(8, '\0')).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kObserveSeqno).Value("1234").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetFailoverLog).Vbucket(3).Build()), Errc::kOk);
}

TEST(ValidateTest, ConfigErrorMapMeta) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetClusterConfig).Build()), Errc::kOk);
  std::string version;
  AppendBe64(&version, 1);
  AppendBe64(&version, 5);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetClusterConfig).Extras(version).Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetClusterConfig).Extras(U32(1)).Build()),
            Errc::kInvalid);
  std::string bad_rev(16, '\0');
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetClusterConfig).Extras(bad_rev).Build()),
            Errc::kInvalid);

  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetErrorMap).Value(std::string("\x00\x02", 2)).Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetErrorMap).Value("\x02").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetErrorMap)
                      .Value(std::string("\x00\x02", 2))
                      .Vbucket(1)
                      .Build()),
            Errc::kInvalid);

  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetMeta).Key("k").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetMeta).Key("k").Extras("\x02").Build()), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGetMeta).Key("k").Extras("\x03").Build()),
            Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kUnlockKey).Key("k").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kUnlockKey).Key("k").Cas(1).Build()), Errc::kOk);
}

TEST(ValidateTest, UnknownAndUnsupported) {
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSubdocDictAdd).Key("k").Build()), Errc::kInvalid);
  EXPECT_EQ(Check(RequestBuilder(static_cast<Opcode>(0xe9)).Build()), Errc::kUnknownCommand);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kFlush).Build()), Errc::kNotSupported);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kTapConnect).Build()), Errc::kNotSupported);
  EXPECT_TRUE(IsValidatedOpcode(Opcode::kGet));
  EXPECT_TRUE(IsValidatedOpcode(Opcode::kSubdocDictAdd));
  EXPECT_FALSE(IsValidatedOpcode(static_cast<Opcode>(0xe9)));
  EXPECT_TRUE(IsValidatedOpcode(Opcode::kSubdocMultiLookup));
}

TEST(ValidateTest, ResponsesAreNotRequests) {
  std::string wire;
  AppendResponse(&wire, ResponseFields{});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
}

TEST(ValidateTest, FrameInfosPerOpcode) {
  std::string durable;
  AppendDurabilityFrameInfo(&durable, {DurabilityLevel::kMajority, std::nullopt});
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet)
                      .Key("k")
                      .MutationExtras(0, 0)
                      .FramingExtras(durable)
                      .Build()),
            Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").FramingExtras(durable).Build()),
            Errc::kInvalid);
  std::string bad_level("\x11\x09", 2);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kSet)
                      .Key("k")
                      .MutationExtras(0, 0)
                      .FramingExtras(bad_level)
                      .Build()),
            Errc::kDurabilityInvalidLevel);
  std::string ttl;
  AppendPreserveTtlFrameInfo(&ttl);
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kSet).Key("k").MutationExtras(0, 0).FramingExtras(ttl).Build()),
      Errc::kOk);
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kAdd).Key("k").MutationExtras(0, 0).FramingExtras(ttl).Build()),
      Errc::kNotSupported);
  std::string truncated("\x22\x00", 2);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key("k").FramingExtras(truncated).Build()),
            Errc::kInvalid);
}

TEST(ValidateTest, CollectionKeys) {
  const ValidationContext collections{.collections = true};
  std::string key;
  AppendCollectionKey(&key, 0, "doc");
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(key).Build(), collections), Errc::kOk);
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(std::string(1, '\0')).Build(), collections),
            Errc::kInvalid);  // no logical key
  EXPECT_EQ(
      Check(RequestBuilder(Opcode::kGet).Key(std::string("\x80\x00k", 3)).Build(), collections),
      Errc::kInvalid);  // non-canonical
  key.clear();
  AppendCollectionKey(&key, 3, "doc");
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(key).Build(), collections),
            Errc::kInvalid);  // reserved collection
  key.clear();
  AppendCollectionKey(&key, 8, std::string(246, 'k'));
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(key).Build(), collections), Errc::kOk);
  key.clear();
  AppendCollectionKey(&key, 8, std::string(247, 'k'));
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(key).Build(), collections), Errc::kInvalid);
  key.clear();
  AppendCollectionKey(&key, 0, std::string(250, 'k'));
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(key).Build(), collections), Errc::kOk);
  // Without collections the same bytes are a plain key.
  EXPECT_EQ(Check(RequestBuilder(Opcode::kGet).Key(std::string(1, '\0')).Build()), Errc::kOk);
}

TEST(ValidateTest, DcpOpen) {
  std::string wire;
  AppendDcpOpen(&wire, {.opaque = 1, .flags = kDcpOpenProducer, .name = "conn"});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpOpen(&wire, {.opaque = 1, .flags = kDcpOpenProducer | kDcpOpenInvalid, .name = "c"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpOpen(&wire, {.flags = kDcpOpenSkipDeletesInInitialBackfill, .name = "c"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpOpen(
      &wire, {.flags = kDcpOpenProducer | kDcpOpenNoValue | kDcpOpenNoValueWithUnderlyingDatatype,
              .name = "c"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpOpen(&wire, {.flags = kDcpOpenProducer | kDcpOpenIncludeDeletedUserXattrs, .name = "c"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpOpen(&wire, {.flags = 0, .name = "c", .json_value = R"({"consumer_name":"x"})"});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpOpen(&wire,
                {.flags = kDcpOpenProducer, .name = "c", .json_value = R"({"consumer_name":"x"})"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpOpen(&wire, {.flags = kDcpOpenProducer});  // no name
  EXPECT_EQ(Check(wire), Errc::kInvalid);
}

TEST(ValidateTest, DcpStreamReq) {
  std::string wire;
  AppendDcpStreamReq(&wire, {.vbucket = 3, .opaque = 9, .flags = kDcpStreamActiveVbOnly});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpStreamReq(&wire, {.flags = kDcpStreamNoValue});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpStreamReq(&wire, {.flags = kDcpStreamCacheTransfer | kDcpStreamDiskOnly});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpStreamReq(&wire, {.json_value = R"({"collections":["0"]})"});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  EXPECT_EQ(Check(wire, {.collections = true}), Errc::kOk);
}

TEST(ValidateTest, DcpSmallMessages) {
  std::string wire;
  AppendDcpControl(&wire, {.opaque = 1, .key = "enable_noop", .value = "true"});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpControl(&wire, {.opaque = 1, .key = "enable_noop", .value = ""});
  EXPECT_EQ(Check(wire), Errc::kInvalid);
  wire.clear();
  AppendDcpBufferAck(&wire, 1000);
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpNoop(&wire, 5);
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpCloseStream(&wire, 4, 5);
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpGetFailoverLog(&wire, 4, 5);
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpStreamEnd(&wire, {.vbucket = 1, .opaque = 2, .status = DcpStreamEndStatus::kClosed});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpSetVbucketState(&wire, {.vbucket = 1, .opaque = 2, .state = VBucketState::kReplica});
  EXPECT_EQ(Check(wire), Errc::kOk);
}

TEST(ValidateTest, DcpProducerMessages) {
  std::string wire;
  AppendDcpSnapshotMarker(&wire, {.vbucket = 1, .start_seqno = 1, .end_seqno = 5, .flags = 1});
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpSnapshotMarker(&wire, {.version = DcpSnapshotMarkerVersion::kV2_2});
  EXPECT_EQ(Check(wire), Errc::kOk);

  wire.clear();
  AppendDcpMutation(&wire, {.by_seqno = 1, .key = "k", .value = "v"}, false);
  EXPECT_EQ(Check(wire), Errc::kOk);
  wire.clear();
  AppendDcpMutation(&wire, {.by_seqno = 0, .key = "k"}, false);
  EXPECT_EQ(Check(wire), Errc::kInvalid);  // seqno 0

  wire.clear();
  AppendDcpDeletion(&wire, {.by_seqno = 2, .key = "k"}, false);
  EXPECT_EQ(Check(wire), Errc::kOk);
  EXPECT_EQ(Check(wire, {.dcp_delete_v2 = true}), Errc::kInvalid);
  wire.clear();
  AppendDcpDeletion(&wire, {.version = DcpDeletionVersion::kV2, .by_seqno = 2, .key = "k"}, false);
  EXPECT_EQ(Check(wire, {.dcp_delete_v2 = true}), Errc::kOk);
  wire.clear();
  AppendDcpDeletion(&wire, {.datatype = kDatatypeJson, .by_seqno = 2, .key = "k"}, false);
  EXPECT_EQ(Check(wire), Errc::kInvalid);  // JSON without XATTR

  wire.clear();
  AppendDcpExpiration(&wire, {.by_seqno = 3, .key = "k"}, false);
  EXPECT_EQ(Check(wire), Errc::kOk);
}

}  // namespace
}  // namespace sluice::protocol
