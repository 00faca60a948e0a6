// File: testing/wire_util.h
//
// Shared pieces of the tests that drive the real `sluiced` over TCP (tests/integration, the CLI
// end-to-end tests):
//
//   PollUntil          waits for a condition with a deadline (the only way these tests wait:
//                      never sleep-and-assert)
//   StatMap / Stats    a STAT group as a map, and its numeric values
//   SluicedTest        a GoogleTest fixture that starts one sluiced per test (Options() chooses
//                      its flags), hands out connected / authenticated clients, and on TearDown
//                      checks that the server is still alive, exits 0 on SIGTERM and logged no
//                      sanitizer report; the server's stderr is printed when a test failed
//
// Ownership: the fixture owns its ServerProcess and every client it returns is owned by the
// caller (unique_ptr). Thread safety: the fixture and its clients belong to the test's thread;
// PollUntil and the free functions are reentrant.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "common/status.h"
#include "protocol/feature.h"
#include "testing/server_process.h"

namespace sluice::testing {

using namespace std::chrono_literals;

// How long a test waits for the server to reach a state before failing. Generous: sanitizer
// builds on two shared cores are slow, and a condition that is met returns at once.
inline constexpr std::chrono::milliseconds kWaitTimeout = 60s;

// Calls `condition` until it returns true or `timeout` passes; returns its last result. Between
// calls it sleeps `interval` (polling a remote server: there is nothing to block on).
bool PollUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = kWaitTimeout,
               std::chrono::milliseconds interval = 10ms);

using StatMap = std::map<std::string, std::string, std::less<>>;

// STAT `group` on `conn` as a map (an error if the server refused).
StatusOr<StatMap> FetchStats(client::Connection& conn, std::string_view group = {});
// The numeric value of stat `key`, or nullopt if it is missing or not a number.
std::optional<uint64_t> StatU64(const StatMap& stats, std::string_view key);

// What Must() returns when there was no answer at all (the connection broke).
inline constexpr auto kNoAnswer = static_cast<protocol::McbpStatus>(0xffff);
// The server's answer to a KV helper call; on a transport failure it records a test failure and
// returns a result with status kNoAnswer, so a broken connection fails the test instead of
// dereferencing an error.
client::KvResult Must(StatusOr<client::KvResult> result);
// `request` on `conn`; on a transport failure it records a test failure (naming the opcode) and
// returns an empty Response.
client::Response Exec(client::Connection& conn, protocol::RequestFields request);

// Runs `command` with /bin/sh and appends its standard output to *output; returns its exit code
// (128 + the signal if killed, -1 if it could not start). It runs to its end: give it bounded work.
int RunCommand(const std::string& command, std::string* output);

// A size field of /proc/<pid>/status ("VmRSS", "VmData", ...) in bytes; 0 if unknown.
uint64_t ProcStatusBytes(pid_t pid, std::string_view field);
// The resident set size of process `pid` in bytes (VmRSS). Memory checks compare it before and
// after with generous bounds.
inline uint64_t ResidentBytes(pid_t pid) { return ProcStatusBytes(pid, "VmRSS"); }

// The HELLO features most tests ask for (the KV helpers then decode mutation tokens and XERROR
// bodies).
std::vector<protocol::Feature> DefaultFeatures();

// How a test client is set up.
struct ClientSetup {
  bool hello = true;
  std::vector<protocol::Feature> features = DefaultFeatures();
  bool authenticate = true;
  std::string user = ServerProcess::kUser;
  std::string password = ServerProcess::kPassword;
  std::string mechanism = "PLAIN";
  // KV helpers route keys with VBucketForKey over this many vbuckets; 0 = the server's count;
  // set `memcached_routing` to send every key to vbucket 0 as memcached clients do.
  uint32_t num_vbuckets = 0;
  bool memcached_routing = false;
  std::chrono::milliseconds io_timeout = 60s;
};

// The test's own sluiced. Derive, override Options() to pass flags, and use Connect().
class SluicedTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kDefaultTestVbuckets = 16;

  // The server's flags; by default a small vbucket count to keep start-up and stats cheap.
  virtual ServerOptions Options() const;

  void SetUp() override;
  void TearDown() override;

  ServerProcess& server() { return *server_; }
  // The number of vbuckets the server was started with (its --vbuckets, else 1024).
  uint32_t vbuckets() const { return vbuckets_; }

  // A connected client set up as asked; null (with a test failure recorded) if any step failed.
  std::unique_ptr<client::Connection> Connect(const ClientSetup& setup = {});
  // A bare TCP connection: no HELLO, no authentication.
  std::unique_ptr<client::Connection> ConnectRaw();

  // STAT `group` over a fresh authenticated connection; an empty map (and a failure) on error.
  StatMap Stats(std::string_view group = {});
  // Waits until every write reached disk: ep_queue_size is 0 and, for every vbucket,
  // last_persisted_seqno == high_seqno. Returns false (after recording a failure) on timeout.
  bool WaitUntilPersisted();

  // SIGTERM and restart on the same data directory; expects exit code 0.
  void RestartClean();
  // SIGKILL and restart on the same data directory.
  void RestartAfterKill();

  // Fails the test if the server's log holds a sanitizer report.
  void ExpectNoSanitizerReport();

 private:
  std::unique_ptr<ServerProcess> server_;
  uint32_t vbuckets_ = 1024;
};

}  // namespace sluice::testing
