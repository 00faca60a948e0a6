// File: testing/server_process.h
//
// ServerProcess: runs the real `sluiced` binary for an integration test — on a free port
// (--port 0, the port read back from its "sluiced listening on HOST:PORT" line; with --tls-port
// in the extra arguments also the "sluiced listening (tls) on HOST:PORT" line), with a data
// directory of its own and a users file written for the test. Stop() sends SIGTERM and waits for
// a clean exit; Kill() sends SIGKILL (a crash); Start() again reuses the same data directory, so
// restarts and crash recovery can be tested.
//
// Ownership: owned by the test; the destructor kills a running server and removes the data
// directory (unless keep_data_dir). Thread safety: thread-compatible (the test's thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "testing/temp_dir.h"

namespace sluice::testing {

struct ServerOptions {
  std::vector<std::string> extra_args;  // e.g. {"--vbuckets", "64", "--set", "max_size=64M"}
  std::string users_json;               // empty: one user "admin"/"password" with every bucket
  std::string log_level = "warn";
  // --host; clients still connect to 127.0.0.1 (so a wildcard address works too).
  std::string listen_host = "127.0.0.1";
  bool keep_data_dir = false;
  // A restart listens on the port the first start got (--port 0 picks it), so peers that dial
  // this server (a replica's --replica-of) keep reaching it.
  bool reuse_port = false;
};

class ServerProcess {
 public:
  static constexpr const char* kUser = "admin";
  static constexpr const char* kPassword = "password";

  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts sluiced and waits for its listening line (fails the test on timeout or early exit).
  // Returns false if it could not start (the reason is in error()).
  bool Start(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGTERM, then waits for exit; returns the exit status (-1 on timeout, after a SIGKILL; 128 +
  // signal if it died by a signal; if it had already exited by itself, how it exited).
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGKILL and reap.
  void Kill();
  // True while a started server has not exited (false before Start and after Stop/Kill).
  bool running() const { return pid_ > 0; }
  // Checks whether the process is still alive; if it exited on its own (a crash), reaps it and
  // remembers how (Stop() then returns that status). Use it to assert "no crash".
  bool Alive();
  pid_t pid() const { return pid_; }

  uint16_t port() const { return port_; }
  // The TLS port from the second listening line when started with --tls-port, else 0.
  uint16_t tls_port() const { return tls_port_; }
  const std::string& host() const { return host_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& error() const { return error_; }
  // What the server wrote to stderr so far (for diagnostics).
  std::string Log() const;
  // Path of the sluiced binary (SLUICED_BIN, else ./build/sluiced).
  static std::string BinaryPath();

 private:
  ServerOptions options_;
  TempDir dir_{"sluice_it"};  // data/, users.json, stderr.log
  const std::string data_dir_;
  const std::string users_path_;
  const std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;  // how a server that died by itself exited (see Alive())
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::string host_ = "127.0.0.1";
  std::string error_;
};

}  // namespace sluice::testing
