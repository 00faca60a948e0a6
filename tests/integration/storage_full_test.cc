// A real full disk under sluiced: its data directory is a small tmpfs, which the test fills with a
// filler file while a client writes. Checked: the server does not crash; writes keep being
// accepted into memory until the memory limit and then get TMPFAIL; nothing is reported
// persisted while the disk is full; once the filler is deleted the flusher recovers by itself,
// writes are accepted again, and every write the server acknowledged is there — also after a
// clean restart.
//
// Needs root (mount(2) of a tmpfs); skipped with the reason otherwise (unprivileged CI). The
// tmpfs is 64 MiB rather than a few: max_size cannot go below 16 MiB, and what the server holds
// in memory when it starts refusing writes must fit on the disk once the filler is gone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;

constexpr const char* kTmpfsSize = "size=64m";
constexpr uint32_t kVbuckets = 4;

class StorageFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.extra_args = {"--vbuckets",   "4",     "--set",
                          "max_size=16M", "--set", "rocksdb_write_buffer_size=4M"};
    server_ = std::make_unique<ServerProcess>(std::move(options));
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs (euid " << geteuid() << ")";
    std::error_code ec;
    std::filesystem::create_directories(server_->data_dir(), ec);
    ASSERT_FALSE(ec) << ec.message();
    if (mount("tmpfs", server_->data_dir().c_str(), "tmpfs", 0, kTmpfsSize) != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs on " << server_->data_dir() << ": "
                   << std::strerror(errno) << " (an unprivileged container?)";
    }
    mounted_ = true;
    ASSERT_TRUE(server_->Start()) << server_->error();
  }

  void TearDown() override {
    if (server_ && server_->running()) {
      if (HasFailure()) std::cerr << "sluiced log:\n" << server_->Log();
      server_->Kill();
    }
    if (mounted_) umount2(server_->data_dir().c_str(), MNT_DETACH);
    server_.reset();
  }

  std::unique_ptr<client::Connection> Connect() {
    client::ConnectOptions co;
    co.num_vbuckets = kVbuckets;
    auto conn = client::Connection::Connect(server_->host(), server_->port(), co);
    if (!conn.ok()) {
      ADD_FAILURE() << conn.status().ToString();
      return nullptr;
    }
    if (!(*conn)->Hello("storage_full_test", DefaultFeatures()).ok() ||
        !(*conn)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok()) {
      ADD_FAILURE() << "handshake failed";
      return nullptr;
    }
    return std::move(*conn);
  }

  uint64_t Stat(client::Connection& conn, std::string_view key) {
    auto stats = FetchStats(conn);
    EXPECT_TRUE(stats.ok());
    if (!stats.ok()) return 0;
    return StatU64(*stats, key).value_or(0);
  }

  // Fills the tmpfs with a filler file until the filesystem refuses more.
  void Fill() {
    filler_ = server_->data_dir() + "/filler";
    const int fd = open(filler_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::string chunk(64 << 10, 'f');
    while (write(fd, chunk.data(), chunk.size()) > 0) {
    }
    const int err = errno;
    close(fd);
    ASSERT_EQ(err, ENOSPC) << std::strerror(err);
  }

  std::unique_ptr<ServerProcess> server_;
  bool mounted_ = false;
  std::string filler_;
};

TEST_F(StorageFullTest, FullDiskMeansTmpfailNoCrashNoLossAndRecovery) {
  auto conn = Connect();
  ASSERT_TRUE(conn);
  std::map<std::string, std::string> acked;  // every write the server answered Success
  auto set = [&](const std::string& key, const std::string& value) {
    auto r = Must(conn->Set(key, value));
    if (r.status == McbpStatus::kSuccess) acked[key] = value;
    return r.status;
  };
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(set("before" + std::to_string(i), "v"), McbpStatus::kSuccess);
  ASSERT_TRUE(PollUntil([&] { return Stat(*conn, "ep_queue_size") == 0; }));

  Fill();
  if (HasFatalFailure()) return;
  const uint64_t failed_before = Stat(*conn, "ep_item_commit_failed");
  // Write until the server refuses: first into memory, then TMPFAIL at the memory limit.
  const std::string value(4096, 'x');
  McbpStatus refused = McbpStatus::kSuccess;
  int accepted_while_full = 0;
  for (int i = 0; i < 20000; ++i) {
    refused = set("full" + std::to_string(i), value + std::to_string(i));
    if (refused != McbpStatus::kSuccess) break;
    ++accepted_while_full;
  }
  EXPECT_EQ(refused, McbpStatus::kEtmpfail);
  EXPECT_GT(accepted_while_full, 0);
  ASSERT_TRUE(server_->Alive()) << "sluiced died on a full disk";
  EXPECT_TRUE(PollUntil([&] { return Stat(*conn, "ep_item_commit_failed") > failed_before; }))
      << "the flusher never failed: the disk did not fill up";
  EXPECT_GT(Stat(*conn, "ep_queue_size"), 0u) << "writes were reported persisted on a full disk";
  // Reads still work, from memory.
  EXPECT_EQ(Must(conn->Get("full0")).value, value + "0");

  // Space comes back: the flusher recovers by itself and writes are accepted again.
  ASSERT_TRUE(std::filesystem::remove(filler_));
  EXPECT_TRUE(PollUntil([&] { return Stat(*conn, "ep_queue_size") == 0; }))
      << "the flusher did not recover after space was freed";
  EXPECT_TRUE(PollUntil([&] { return set("after", "v") == McbpStatus::kSuccess; }));
  ASSERT_TRUE(server_->Alive());

  auto check_all = [&](const char* when) {
    int missing = 0;
    for (const auto& [key, v] : acked) {
      auto r = Must(conn->Get(key));
      if (r.status != McbpStatus::kSuccess || r.value != v) {
        if (++missing <= 5) ADD_FAILURE() << when << ": " << key << " lost or changed";
      }
    }
    EXPECT_EQ(missing, 0) << when << ": of " << acked.size() << " acknowledged writes";
  };
  check_all("after recovery");

  // Everything acknowledged survives a clean restart.
  conn.reset();
  ASSERT_EQ(server_->Stop(), 0) << server_->Log();
  ASSERT_TRUE(server_->Start()) << server_->error();
  conn = Connect();
  ASSERT_TRUE(conn);
  check_all("after a clean restart");
}

}  // namespace
}  // namespace sluice::testing
