// File: tools/cli_runner.h
//
// Test support for the end-to-end tests of the `sluice` binary: runs a program as a subprocess
// with the given arguments (and extra environment variables), captures its stdout and stderr and
// returns them with its exit code; or runs one in the background (BackgroundProcess: for `sluice
// tail`, which runs until interrupted), so the test can wait for output, act, and signal it. Also
// starts plain memcached for the --no-auth tests.
//
// The binary under test is $SLUICE_BIN (set by sluice_test()), else the one built in the same build
// tree as the test (compiled in as SLUICE_DEFAULT_BIN), else ./build/sluice.
//
// Ownership: RunResult is a value; MemcachedProcess and BackgroundProcess own their child and kill
// it on destruction.
// Thread safety: thread-compatible (the test's thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::tools::testing {

struct RunResult {
  int exit_code = -1;  // 128 + signal if it was killed
  std::string out;
  std::string err;
};

// Path of the sluice binary under test.
std::string SluiceBinary();

// Runs `program` with `args`; `env` entries are added to (or replace in) the environment.
RunResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env = {});

// RunProgram(SluiceBinary(), ...).
RunResult RunSluice(const std::vector<std::string>& args,
                    const std::vector<std::pair<std::string, std::string>>& env = {});

// A command's JSON output (--json); a discarded value when it is not JSON.
nlohmann::json ParseJson(const std::string& text);

// A command's output split into lines.
std::vector<std::string> Lines(const std::string& text);

// A program running in the background with its stdout and stderr captured.
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Starts `program` with `args`; false if it could not be started.
  bool Start(const std::string& program, const std::vector<std::string>& args);
  // Reads output until `needle` appears in stdout (or stderr), the program closes both, or
  // `timeout` passes; true if it appeared.
  bool WaitForOut(std::string_view needle, std::chrono::milliseconds timeout);
  bool WaitForErr(std::string_view needle, std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Reads the rest of the output and reaps the program; after `timeout` it is killed (SIGKILL,
  // exit code 128 + 9).
  RunResult Wait(std::chrono::milliseconds timeout);
  // The output so far.
  const std::string& out() const { return result_.out; }
  const std::string& err() const { return result_.err; }

 private:
  // Reads what is available for up to `timeout`; false once both pipes are closed.
  bool Pump(std::chrono::milliseconds timeout);
  bool WaitFor(const std::string* text, std::string_view needle, std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  RunResult result_;
};

// A plain memcached on 127.0.0.1 at a free port (memcached cannot report a port it picked, so a
// free one is found first), ready once Start() returns true.
class MemcachedProcess {
 public:
  MemcachedProcess() = default;
  ~MemcachedProcess();
  MemcachedProcess(const MemcachedProcess&) = delete;
  MemcachedProcess& operator=(const MemcachedProcess&) = delete;

  // False if memcached is not installed or does not accept connections in time.
  bool Start();
  uint16_t port() const { return port_; }
  static std::string BinaryPath();  // $MEMCACHED_BIN, else /usr/bin/memcached

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::tools::testing
