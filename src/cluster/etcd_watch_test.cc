// WatchStream and EtcdWatcher against a real etcd: order, restarts, compaction, clean stops.
#include "cluster/etcd_watch.h"

#include <gtest/gtest.h>

#include "testing/etcd_test_util.h"
#include "testing/recorder.h"

namespace sluice::cluster {
namespace {

using EtcdWatchTest = EtcdTest;
using testing::Recorder;

EtcdWatcher::Callbacks Record(Recorder<WatchEvent>* events, Recorder<int64_t>* compacted = nullptr,
                              Recorder<std::string>* interrupted = nullptr) {
  return {.on_batch =
              [events](const WatchBatch& batch) {
                for (const auto& event : batch.events) events->Add(event);
              },
          .on_interrupted =
              [interrupted](const Status& why) {
                if (interrupted) interrupted->Add(why.ToString());
              },
          .on_compacted =
              [compacted](int64_t revision) {
                if (compacted) compacted->Add(revision);
              }};
}

TEST_F(EtcdWatchTest, DeliversPutsAndDeletesInOrder) {
  Recorder<WatchEvent> events;
  EtcdWatcher watcher(
      client_, {.key = "/w/", .prefix = true, .start_revision = Revision() + 1, .prev_kv = true},
      Record(&events));
  watcher.Start();
  ASSERT_TRUE(client_->Put("/w/a", "1").ok());
  ASSERT_TRUE(client_->Put("/w/a", "2").ok());
  ASSERT_TRUE(client_->Put("/other", "not watched").ok());
  ASSERT_TRUE(client_->DeleteRange("/w/a").ok());
  ASSERT_TRUE(client_->Txn({.success = {TxnOp::Put("/w/b", "x"), TxnOp::Put("/w/c", "y")}}).ok());
  ASSERT_TRUE(events.WaitForCount(5, kWait));
  watcher.Stop();

  const auto seen = events.values();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(seen[0].kv.value, "1");
  EXPECT_FALSE(seen[0].prev_kv.has_value());
  EXPECT_EQ(seen[1].kv.value, "2");
  ASSERT_TRUE(seen[1].prev_kv.has_value());
  EXPECT_EQ(seen[1].prev_kv->value, "1");
  EXPECT_EQ(seen[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(seen[2].kv.key, "/w/a");
  EXPECT_EQ(seen[2].prev_kv->value, "2");
  EXPECT_EQ(seen[3].kv.key, "/w/b");
  EXPECT_EQ(seen[4].kv.key, "/w/c");
  EXPECT_EQ(seen[3].kv.mod_revision, seen[4].kv.mod_revision);  // one txn, one revision
  for (size_t i = 1; i < 4; ++i) EXPECT_LT(seen[i - 1].kv.mod_revision, seen[i].kv.mod_revision);
}

TEST_F(EtcdWatchTest, ResumesAfterAnEtcdRestartWithoutLossOrRepeats) {
  Recorder<WatchEvent> events;
  Recorder<std::string> interrupted;
  EtcdWatcher watcher(
      client_, {.key = "/w/", .prefix = true, .start_revision = Revision() + 1},
      Record(&events, nullptr, &interrupted),
      {.initial = std::chrono::milliseconds(50), .max = std::chrono::milliseconds(200)});
  watcher.Start();
  ASSERT_TRUE(client_->Put("/w/x", "1").ok());
  ASSERT_TRUE(events.WaitForCount(1, kWait));

  etcd_.Stop();
  ASSERT_TRUE(interrupted.WaitForCount(1, kWait));
  ASSERT_TRUE(etcd_.Start()) << etcd_.error();
  ASSERT_TRUE(client_->Put("/w/y", "2").ok());
  ASSERT_TRUE(events.WaitFor(
      [](const std::vector<WatchEvent>& v) { return !v.empty() && v.back().kv.key == "/w/y"; },
      kWait));
  watcher.Stop();
  const auto seen = events.values();
  ASSERT_EQ(seen.size(), 2u);  // x once, y once
  EXPECT_EQ(seen[0].kv.key, "/w/x");
}

TEST_F(EtcdWatchTest, ReportsCompactionSoTheOwnerReLists) {
  auto first = client_->Put("/w/k", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client_->Put("/w/k", "2").ok());
  auto last = client_->Put("/w/k", "3");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(client_->Compact(last->revision).ok());

  Recorder<WatchEvent> events;
  Recorder<int64_t> compacted;
  EtcdWatcher stale(client_, {.key = "/w/", .prefix = true, .start_revision = first->revision},
                    Record(&events, &compacted));
  stale.Start();
  ASSERT_TRUE(compacted.WaitForCount(1, kWait));
  EXPECT_EQ(compacted.values()[0], last->revision);
  EXPECT_EQ(events.size(), 0u);
  stale.Stop();

  // The owner re-lists, then watches from the listed revision on.
  auto listed = client_->Range("/w/", {.prefix = true});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->kvs[0].value, "3");
  EtcdWatcher fresh(client_, {.key = "/w/", .prefix = true, .start_revision = listed->revision + 1},
                    Record(&events, &compacted));
  fresh.Start();
  ASSERT_TRUE(client_->Put("/w/k", "4").ok());
  ASSERT_TRUE(events.WaitForCount(1, kWait));
  EXPECT_EQ(events.values()[0].kv.value, "4");
  EXPECT_EQ(compacted.size(), 1u);
}

TEST_F(EtcdWatchTest, StoppingAnIdleOrDisconnectedWatcherReturns) {
  Recorder<WatchEvent> events;
  {
    EtcdWatcher idle(client_, {.key = "/idle"}, Record(&events));
    idle.Start();
    ASSERT_TRUE(Eventually([&] {
      EXPECT_TRUE(client_->Put("/idle", "p").ok());
      return events.WaitForCount(1, std::chrono::milliseconds(200));
    }));
  }  // the destructor stops a stream blocked in its read
  etcd_.Kill();
  EtcdWatcher retrying(client_, {.key = "/idle"}, Record(&events));
  retrying.Start();
  retrying.Stop();  // between failed connections
  // A stream cancelled before it ran returns at once.
  WatchStream stream(client_->transport().current_endpoint(), client_->transport().options());
  stream.Cancel();
  EXPECT_EQ(stream.Run({.key = "/idle"}, [](const WatchBatch&) {}).reason,
            WatchEnd::Reason::kCancelled);
}

}  // namespace
}  // namespace sluice::cluster
