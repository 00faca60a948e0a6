// File: testing/etcd_process.h
//
// EtcdProcess: a real, single-member etcd for a test — the Debian `etcd` binary ($ETCD_BIN, else
// the first `etcd` on PATH) on two free loopback ports (client and peer; never the default
// 2379/2380), with a temporary data directory, --unsafe-no-fsync, and short heartbeat/election
// settings (10 ms / 100 ms, which lets leases be as short as 1 s). Start() waits until it answers
// /v3/maintenance/status with a leader. Stop() sends SIGTERM, Kill() SIGKILL; Start() again
// restarts it on the same ports and data directory ("etcd restarted mid-test"). The destructor
// kills a running etcd by its pid and removes the directory.
//
// Tests skip where etcd is missing:  SLUICE_SKIP_WITHOUT_ETCD();
//
// Ownership: owned by the test. Thread safety: thread-compatible (the test's thread).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::testing {

class EtcdProcess {
 public:
  // The etcd binary to run; empty if there is none.
  static std::string BinaryPath();

  EtcdProcess();
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Starts etcd (on new free ports the first time, the same ports afterwards) and waits until it
  // serves with a leader. False (the reason in error()) if it did not within `timeout`.
  bool Start(std::chrono::seconds timeout = std::chrono::seconds(30));
  // SIGTERM and wait for the exit (SIGKILL after `timeout`).
  void Stop(std::chrono::seconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // "127.0.0.1:<client port>", for EtcdOptions::endpoints.
  std::string endpoint() const;
  uint16_t client_port() const { return client_port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& error() const { return error_; }
  // What etcd wrote to stderr so far (the end of it), for failure messages.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  bool Spawn();
  bool WaitReady(std::chrono::steady_clock::time_point deadline);

  std::string dir_;  // temp root: data/ and etcd.log
  std::string data_dir_;
  std::string log_path_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace sluice::testing

// Skips the calling test (with the reason) when there is no etcd binary.
#define SLUICE_SKIP_WITHOUT_ETCD()                                             \
  do {                                                                         \
    if (::sluice::testing::EtcdProcess::BinaryPath().empty()) {                \
      GTEST_SKIP() << "no etcd binary (install etcd-server, or set ETCD_BIN)"; \
    }                                                                          \
  } while (0)
