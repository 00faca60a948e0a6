// Tests for the error map (error_map.h), the status translation (status.h) and the name tables
// (opcode.h, feature.h).
#include "protocol/error_map.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "protocol/feature.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::protocol {
namespace {

std::string HexKey(McbpStatus status) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%x", static_cast<unsigned>(status));
  return buf;
}

// Every Errc value, for exhaustive checks.
std::vector<Errc> AllErrc() {
  std::vector<Errc> all;
  for (int i = 0; i <= static_cast<int>(Errc::kInternal); ++i) all.push_back(static_cast<Errc>(i));
  return all;
}

TEST(ErrorMapTest, V2ParsesAndHasShape) {
  const std::string text = ErrorMapJson(2);
  const nlohmann::json map = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(map.is_discarded());
  EXPECT_EQ(map["version"], 2);
  EXPECT_EQ(map["revision"], kErrorMapRevision);
  ASSERT_TRUE(map["errors"].is_object());
  for (const auto& [code, entry] : map["errors"].items()) {
    EXPECT_TRUE(entry["name"].is_string()) << code;
    EXPECT_TRUE(entry["desc"].is_string()) << code;
    EXPECT_TRUE(entry["attrs"].is_array()) << code;
    EXPECT_FALSE(entry["attrs"].empty()) << code;
    EXPECT_EQ(code.find("0x"), std::string::npos);
  }
  EXPECT_EQ(map["errors"]["1"]["name"], "KEY_ENOENT");
  EXPECT_EQ(map["errors"]["86"]["name"], "ETMPFAIL");
  EXPECT_NE(text.find("rate-limit"), std::string::npos);
}

TEST(ErrorMapTest, V1StripsNewAttributes) {
  const std::string text = ErrorMapJson(1);
  const nlohmann::json map = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(map.is_discarded());
  EXPECT_EQ(map["version"], 1);
  EXPECT_EQ(map["revision"], 4 + kErrorMapRevision);
  EXPECT_EQ(text.find("rate-limit"), std::string::npos);
  EXPECT_EQ(text.find("system-constraint"), std::string::npos);
  EXPECT_EQ(text.find("no-retry"), std::string::npos);
  EXPECT_EQ(map["errors"].size(), nlohmann::json::parse(ErrorMapJson(2))["errors"].size());
}

TEST(ErrorMapTest, VersionsOutsideTheRange) {
  EXPECT_TRUE(ErrorMapJson(0).empty());
  EXPECT_EQ(ErrorMapJson(3), ErrorMapJson(2));
  EXPECT_EQ(ErrorMapJson(0xffff), ErrorMapJson(2));
}

TEST(ErrorMapTest, EveryTranslatedStatusIsInTheMap) {
  const nlohmann::json errors = nlohmann::json::parse(ErrorMapJson(2))["errors"];
  for (Errc code : AllErrc()) {
    for (bool v7 : {false, true}) {
      const McbpStatus status = ToMcbpStatus(code, {.v7_dcp_status_codes = v7});
      EXPECT_TRUE(errors.contains(HexKey(status)))
          << ErrcName(code) << " -> " << McbpStatusName(status);
      EXPECT_NE(FindErrorMapEntry(status), nullptr);
    }
  }
}

TEST(ErrorMapTest, EveryKnownStatusIsInTheMap) {
  const nlohmann::json errors = nlohmann::json::parse(ErrorMapJson(2))["errors"];
  int known = 0;
  for (uint32_t i = 0; i < 0x100; ++i) {
    const auto status = static_cast<McbpStatus>(i);
    if (!IsKnownStatus(status)) continue;
    ++known;
    EXPECT_TRUE(errors.contains(HexKey(status))) << McbpStatusName(status);
  }
  EXPECT_EQ(static_cast<size_t>(known), ErrorMapEntries().size());
  EXPECT_EQ(errors.size(), ErrorMapEntries().size());
}

TEST(StatusTest, Translation) {
  EXPECT_EQ(ToMcbpStatus(Errc::kOk), McbpStatus::kSuccess);
  EXPECT_EQ(ToMcbpStatus(Errc::kNotFound), McbpStatus::kKeyEnoent);
  EXPECT_EQ(ToMcbpStatus(Errc::kExists), McbpStatus::kKeyEexists);
  EXPECT_EQ(ToMcbpStatus(Errc::kNotStored), McbpStatus::kNotStored);
  EXPECT_EQ(ToMcbpStatus(Errc::kTooBig), McbpStatus::kE2big);
  EXPECT_EQ(ToMcbpStatus(Errc::kInvalid), McbpStatus::kEinval);
  EXPECT_EQ(ToMcbpStatus(Errc::kDeltaBadval), McbpStatus::kDeltaBadval);
  EXPECT_EQ(ToMcbpStatus(Errc::kNotMyVbucket), McbpStatus::kNotMyVbucket);
  EXPECT_EQ(ToMcbpStatus(Errc::kNoBucket), McbpStatus::kNoBucket);
  EXPECT_EQ(ToMcbpStatus(Errc::kLocked), McbpStatus::kLocked);
  EXPECT_EQ(ToMcbpStatus(Errc::kRange), McbpStatus::kErange);
  EXPECT_EQ(ToMcbpStatus(Errc::kRollback), McbpStatus::kRollback);
  EXPECT_EQ(ToMcbpStatus(Errc::kNoAccess), McbpStatus::kEaccess);
  EXPECT_EQ(ToMcbpStatus(Errc::kUnknownCollection), McbpStatus::kUnknownCollection);
  EXPECT_EQ(ToMcbpStatus(Errc::kNotSupported), McbpStatus::kNotSupported);
  EXPECT_EQ(ToMcbpStatus(Errc::kUnknownCommand), McbpStatus::kUnknownCommand);
  EXPECT_EQ(ToMcbpStatus(Errc::kAuthError), McbpStatus::kAuthError);
  EXPECT_EQ(ToMcbpStatus(Errc::kAuthContinue), McbpStatus::kAuthContinue);
  EXPECT_EQ(ToMcbpStatus(Errc::kStreamNotFound), McbpStatus::kKeyEnoent);
  EXPECT_EQ(ToMcbpStatus(Errc::kStreamNotFound, {.v7_dcp_status_codes = true}),
            McbpStatus::kDcpStreamNotFound);
  EXPECT_EQ(ToMcbpStatus(Errc::kDurabilityInvalidLevel), McbpStatus::kDurabilityInvalidLevel);
  EXPECT_EQ(ToMcbpStatus(Errc::kDurabilityImpossible), McbpStatus::kDurabilityImpossible);
  EXPECT_EQ(ToMcbpStatus(Errc::kSyncWriteInProgress), McbpStatus::kSyncWriteInProgress);
  EXPECT_EQ(ToMcbpStatus(Errc::kSyncWriteAmbiguous), McbpStatus::kSyncWriteAmbiguous);
  EXPECT_EQ(ToMcbpStatus(Errc::kTempFail), McbpStatus::kEtmpfail);
  EXPECT_EQ(ToMcbpStatus(Errc::kIoError), McbpStatus::kEtmpfail);
  EXPECT_EQ(ToMcbpStatus(Errc::kCancelled), McbpStatus::kEtmpfail);
  EXPECT_EQ(ToMcbpStatus(Errc::kNoMemory), McbpStatus::kEnomem);
  EXPECT_EQ(ToMcbpStatus(Errc::kBusy), McbpStatus::kEbusy);
  EXPECT_EQ(ToMcbpStatus(Errc::kInternal), McbpStatus::kEinternal);
  EXPECT_EQ(ToMcbpStatus(Errc::kCorruption), McbpStatus::kEinternal);
  EXPECT_EQ(ToMcbpStatus(Errc::kWouldBlock), McbpStatus::kEinternal);
  EXPECT_EQ(ToMcbpStatus(Errc::kDisconnect), McbpStatus::kEinternal);
}

TEST(StatusTest, ReverseTranslationRoundTripsTheCommonCodes) {
  for (Errc code : AllErrc()) {
    const McbpStatus status = ToMcbpStatus(code);
    const Errc back = ErrcFromMcbpStatus(status);
    // Lossy only where several codes share a wire status.
    if (status == McbpStatus::kEtmpfail) {
      EXPECT_EQ(back, Errc::kTempFail);
    } else if (status == McbpStatus::kEinternal) {
      EXPECT_EQ(back, Errc::kInternal);
    } else if (status == McbpStatus::kKeyEnoent) {
      EXPECT_EQ(back, Errc::kNotFound);
    } else {
      EXPECT_EQ(back, code) << ErrcName(code);
    }
  }
}

TEST(StatusTest, NamesAndSuccess) {
  EXPECT_EQ(McbpStatusName(McbpStatus::kKeyEnoent), "KeyEnoent");
  EXPECT_EQ(McbpStatusName(McbpStatus::kRollback), "Rollback");
  EXPECT_EQ(McbpStatusName(static_cast<McbpStatus>(0x7777)), "Unknown");
  EXPECT_TRUE(IsSuccessStatus(McbpStatus::kSuccess));
  EXPECT_TRUE(IsSuccessStatus(McbpStatus::kRollback));
  EXPECT_FALSE(IsSuccessStatus(McbpStatus::kEinval));
}

TEST(OpcodeTest, NamesMatchKvEngine) {
  EXPECT_EQ(OpcodeName(Opcode::kGet), "GET");
  EXPECT_EQ(OpcodeName(Opcode::kDcpMutation), "DCP_MUTATION");
  EXPECT_EQ(OpcodeName(Opcode::kDcpBufferAcknowledgement), "DCP_BUFFER_ACKNOWLEDGEMENT");
  EXPECT_EQ(OpcodeName(Opcode::kGetMeta), "GET_META");
  EXPECT_EQ(OpcodeName(Opcode::kSeqnoPersistence), "SEQNO_PERSISTENCE");
  EXPECT_EQ(OpcodeName(Opcode::kSubdocMultiLookup), "SUBDOC_MULTI_LOOKUP");
  EXPECT_EQ(OpcodeName(static_cast<Opcode>(0x4c)), "UNKNOWN");
  EXPECT_EQ(OpcodeFromName("GET_ERROR_MAP"), Opcode::kGetErrorMap);
  EXPECT_FALSE(OpcodeFromName("NOPE"));
  std::set<std::string_view> names;
  for (int i = 0; i < 256; ++i) {
    const auto op = static_cast<Opcode>(i);
    if (!IsKnownOpcode(op)) continue;
    EXPECT_TRUE(names.insert(OpcodeName(op)).second) << "duplicate " << OpcodeName(op);
    EXPECT_EQ(OpcodeFromName(OpcodeName(op)), op);
  }
  EXPECT_EQ(ServerOpcodeName(ServerOpcode::kAuthenticate), "Authenticate");
}

TEST(OpcodeTest, QuietVariants) {
  const std::pair<Opcode, Opcode> pairs[] = {{Opcode::kGetq, Opcode::kGet},
                                             {Opcode::kGetkq, Opcode::kGetk},
                                             {Opcode::kSetq, Opcode::kSet},
                                             {Opcode::kAddq, Opcode::kAdd},
                                             {Opcode::kReplaceq, Opcode::kReplace},
                                             {Opcode::kDeleteq, Opcode::kDelete},
                                             {Opcode::kIncrementq, Opcode::kIncrement},
                                             {Opcode::kDecrementq, Opcode::kDecrement},
                                             {Opcode::kQuitq, Opcode::kQuit},
                                             {Opcode::kFlushq, Opcode::kFlush},
                                             {Opcode::kAppendq, Opcode::kAppend},
                                             {Opcode::kPrependq, Opcode::kPrepend},
                                             {Opcode::kGatq, Opcode::kGat},
                                             {Opcode::kGetqMeta, Opcode::kGetMeta},
                                             {Opcode::kSetqWithMeta, Opcode::kSetWithMeta},
                                             {Opcode::kAddqWithMeta, Opcode::kAddWithMeta},
                                             {Opcode::kDelqWithMeta, Opcode::kDelWithMeta}};
  for (const auto& [quiet, loud] : pairs) {
    EXPECT_TRUE(IsQuiet(quiet)) << OpcodeName(quiet);
    EXPECT_FALSE(IsQuiet(loud)) << OpcodeName(loud);
    EXPECT_EQ(NonQuietOpcode(quiet), loud);
    EXPECT_EQ(NonQuietOpcode(loud), loud);
    EXPECT_EQ(QuietOpcode(loud), quiet);
  }
  EXPECT_FALSE(QuietOpcode(Opcode::kNoop));
  EXPECT_FALSE(QuietOpcode(Opcode::kGetq));
  EXPECT_FALSE(IsQuiet(Opcode::kTouch));
}

TEST(OpcodeTest, Attributes) {
  EXPECT_TRUE(IsDcpOpcode(Opcode::kDcpOpen));
  EXPECT_TRUE(IsDcpOpcode(Opcode::kDcpCacheTransferEnd));
  EXPECT_FALSE(IsDcpOpcode(Opcode::kGetFailoverLog));
  EXPECT_TRUE(SupportsDurability(Opcode::kSet));
  EXPECT_TRUE(SupportsDurability(Opcode::kTouch));
  EXPECT_FALSE(SupportsDurability(Opcode::kSetq));
  EXPECT_FALSE(SupportsDurability(Opcode::kGet));
  EXPECT_TRUE(SupportsPreserveTtl(Opcode::kReplace));
  EXPECT_FALSE(SupportsPreserveTtl(Opcode::kAdd));
  EXPECT_TRUE(IsCollectionKeyOpcode(Opcode::kGetkq));
  EXPECT_FALSE(IsCollectionKeyOpcode(Opcode::kStat));
  EXPECT_TRUE(IsSupportedOpcode(Opcode::kGet));
  EXPECT_FALSE(IsSupportedOpcode(Opcode::kFlush));
}

TEST(FeatureTest, NamesAndCodec) {
  EXPECT_EQ(FeatureName(Feature::kMutationSeqno), "Mutation seqno");
  EXPECT_EQ(FeatureName(Feature::kXerror), "XERROR");
  EXPECT_EQ(FeatureName(Feature::kCollections), "Collections");
  EXPECT_EQ(FeatureName(static_cast<Feature>(0x99)), "Unknown");
  EXPECT_TRUE(IsKnownFeature(0x12));
  EXPECT_FALSE(IsKnownFeature(0x27));
  std::string value;
  AppendFeatures(&value, {Feature::kXerror, Feature::kCollections, Feature::kJson});
  EXPECT_EQ(value, std::string("\x00\x07\x00\x12\x00\x0b", 6));
  const auto decoded = DecodeFeatures(value);
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(decoded[1], Feature::kCollections);
}

}  // namespace
}  // namespace sluice::protocol
