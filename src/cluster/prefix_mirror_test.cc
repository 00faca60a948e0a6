// PrefixMirror against a real etcd: a consistent local copy through changes and restarts.
#include "cluster/prefix_mirror.h"

#include <gtest/gtest.h>

#include "testing/etcd_test_util.h"
#include "testing/recorder.h"

namespace sluice::cluster {
namespace {

using PrefixMirrorTest = EtcdTest;
using testing::Recorder;

std::map<std::string, std::string> Values(const MirrorSnapshot& snapshot) {
  std::map<std::string, std::string> out;
  for (const auto& [key, kv] : snapshot.kvs) out[key] = kv.value;
  return out;
}

TEST_F(PrefixMirrorTest, ListsThenAppliesChanges) {
  ASSERT_TRUE(client_->Put("/c/nodes/a", "1").ok());
  ASSERT_TRUE(client_->Put("/c/nodes/b", "2").ok());
  ASSERT_TRUE(client_->Put("/d/elsewhere", "x").ok());
  Recorder<MirrorUpdate::Kind> kinds;
  PrefixMirror mirror(client_, "/c/",
                      {.on_update = [&](const MirrorUpdate& u) { kinds.Add(u.kind); }});
  mirror.Start();
  ASSERT_TRUE(mirror.WaitForRevision(Revision(), Deadline()));
  using Map = std::map<std::string, std::string>;
  EXPECT_EQ(Values(*mirror.snapshot()), (Map{{"/c/nodes/a", "1"}, {"/c/nodes/b", "2"}}));

  ASSERT_TRUE(client_->Put("/c/nodes/a", "1b").ok());
  ASSERT_TRUE(client_->DeleteRange("/c/nodes/b").ok());
  auto last = client_->Put("/c/map", "m");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(mirror.WaitForRevision(last->revision, Deadline()));
  const auto snapshot = mirror.snapshot();
  EXPECT_EQ(Values(*snapshot), (Map{{"/c/map", "m"}, {"/c/nodes/a", "1b"}}));
  EXPECT_EQ(snapshot->revision, last->revision);
  EXPECT_EQ(snapshot->kvs.at("/c/map").mod_revision, last->revision);
  mirror.Stop();
  const auto seen = kinds.values();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0], MirrorUpdate::Kind::kReset);
  EXPECT_EQ(seen.back(), MirrorUpdate::Kind::kChanges);
  EXPECT_EQ(mirror.lists(), 1);
}

TEST_F(PrefixMirrorTest, KeepsItsCopyWhileEtcdIsDownAndReListsAfterARestart) {
  ASSERT_TRUE(client_->Put("/c/map", "v1").ok());
  Recorder<std::string> interrupted;
  PrefixMirror mirror(
      client_, "/c/",
      {.on_interrupted = [&](const Status& why) { interrupted.Add(why.ToString()); }},
      {.initial = std::chrono::milliseconds(50), .max = std::chrono::milliseconds(200)});
  mirror.Start();
  ASSERT_TRUE(mirror.WaitForRevision(Revision(), Deadline()));

  etcd_.Kill();
  ASSERT_TRUE(interrupted.WaitForCount(2, kWait));  // the broken watch, then a failed list
  EXPECT_EQ(mirror.snapshot()->kvs.at("/c/map").value, "v1");  // still served from the copy

  ASSERT_TRUE(etcd_.Start()) << etcd_.error();
  auto put = client_->Put("/c/map", "v2");
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(mirror.WaitForRevision(put->revision, Deadline()));
  EXPECT_EQ(mirror.snapshot()->kvs.at("/c/map").value, "v2");
  EXPECT_GE(mirror.lists(), 2);
}

TEST_F(PrefixMirrorTest, EmptyPrefixAndStopBeforeAnyList) {
  etcd_.Kill();
  PrefixMirror mirror(client_, "/c/", {});
  mirror.Start();
  EXPECT_FALSE(mirror.WaitForRevision(1, std::chrono::steady_clock::now()));
  EXPECT_EQ(mirror.snapshot(), nullptr);
  mirror.Stop();
}

}  // namespace
}  // namespace sluice::cluster
