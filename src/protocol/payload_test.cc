// Round trips of the non-DCP payload codecs (payload.h).
#include "protocol/payload.h"

#include <gtest/gtest.h>

namespace sluice::protocol {
namespace {

TEST(PayloadTest, MutationAndArithmeticExtras) {
  std::string s;
  AppendMutationExtras(&s, {0xdeadbeef, 3600});
  auto m = DecodeMutationExtras(s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->flags, 0xdeadbeefu);
  EXPECT_EQ(m->expiry, 3600u);
  EXPECT_EQ(DecodeMutationExtras("1234").status().code(), Errc::kInvalid);

  s.clear();
  AppendArithmeticExtras(&s, {7, 100, kArithmeticNoCreate});
  auto a = DecodeArithmeticExtras(s);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->delta, 7u);
  EXPECT_EQ(a->initial, 100u);
  EXPECT_EQ(a->expiry, kArithmeticNoCreate);
  EXPECT_EQ(DecodeArithmeticExtras(std::string(8, '\0')).status().code(), Errc::kInvalid);
}

TEST(PayloadTest, Scalars) {
  EXPECT_EQ(*DecodeU32(std::string("\x00\x00\x01\x02", 4)), 0x102u);
  EXPECT_EQ(*DecodeU16(std::string("\x01\x02", 2)), 0x102u);
  EXPECT_EQ(*DecodeU64(std::string("\x00\x00\x00\x00\x00\x00\x01\x02", 8)), 0x102u);
  EXPECT_FALSE(DecodeU32("").ok());
  EXPECT_FALSE(DecodeU64("1234").ok());
}

TEST(PayloadTest, MutationToken) {
  std::string s;
  AppendMutationTokenExtras(&s, 0xabc, 42);
  auto t = DecodeMutationTokenExtras(s, 5);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->vbucket, 5);
  EXPECT_EQ(t->vbucket_uuid, 0xabcu);
  EXPECT_EQ(t->seqno, 42u);
  EXPECT_FALSE(DecodeMutationTokenExtras("", 0).ok());
}

TEST(PayloadTest, ClusterConfigVersion) {
  std::string s;
  AppendClusterConfigVersion(&s, {-1, 12});
  auto v = DecodeClusterConfigVersion(s);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->epoch, -1);
  EXPECT_EQ(v->revision, 12);
}

TEST(PayloadTest, AllVbSeqnos) {
  std::string extras;
  AppendAllVbSeqnosExtras(&extras, {1, 8});
  auto f = DecodeAllVbSeqnosExtras(extras);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ((*f)->state, 1u);
  EXPECT_EQ((*f)->collection_id, 8u);
  EXPECT_FALSE(DecodeAllVbSeqnosExtras("")->has_value());
  EXPECT_FALSE(DecodeAllVbSeqnosExtras("12").ok());

  std::string value;
  AppendVbSeqnoEntry(&value, 0, 10);
  AppendVbSeqnoEntry(&value, 3, 99);
  auto entries = DecodeAllVbSeqnos(value);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1], (std::pair<Vbid, uint64_t>(3, 99)));
  EXPECT_FALSE(DecodeAllVbSeqnos("123").ok());
}

TEST(PayloadTest, ObserveSeqno) {
  for (bool failover : {false, true}) {
    ObserveSeqnoReply in{failover, 4, 0x111, 10, 12, failover ? 0x222u : 0u, failover ? 9u : 0u};
    std::string s;
    AppendObserveSeqnoReply(&s, in);
    EXPECT_EQ(s.size(), failover ? 43u : 27u);
    auto out = DecodeObserveSeqnoReply(s);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->failover, failover);
    EXPECT_EQ(out->vbucket, 4);
    EXPECT_EQ(out->vbucket_uuid, 0x111u);
    EXPECT_EQ(out->last_persisted_seqno, 10u);
    EXPECT_EQ(out->current_seqno, 12u);
    EXPECT_EQ(out->old_vbucket_uuid, in.old_vbucket_uuid);
    EXPECT_EQ(out->last_received_seqno, in.last_received_seqno);
  }
  EXPECT_FALSE(DecodeObserveSeqnoReply(std::string(26, '\0')).ok());
}

}  // namespace
}  // namespace sluice::protocol
