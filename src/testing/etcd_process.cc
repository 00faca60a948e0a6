#include "testing/etcd_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Two distinct free loopback ports: both sockets stay bound until both are known.
bool FreePorts(uint16_t* a, uint16_t* b) {
  int fds[2] = {-1, -1};
  uint16_t ports[2] = {0, 0};
  bool ok = true;
  for (int i = 0; i < 2 && ok; ++i) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ok = fds[i] >= 0 && bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
         getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ports[i] = ntohs(addr.sin_port);
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  *a = ports[0];
  *b = ports[1];
  return ok;
}

bool Executable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

// Reaps `pid` if it has exited; true then.
bool Exited(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  return r == pid || r < 0;
}

}  // namespace

std::string EtcdProcess::BinaryPath() {
  if (const char* env = std::getenv("ETCD_BIN"); env && Executable(env)) return env;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (Executable(dir + "/etcd")) return dir + "/etcd";
    }
  }
  return Executable("/usr/bin/etcd") ? "/usr/bin/etcd" : "";
}

EtcdProcess::EtcdProcess() {
  char tmpl[] = "/tmp/sluice_etcd_XXXXXX";
  dir_ = mkdtemp(tmpl);
  data_dir_ = dir_ + "/data";
  log_path_ = dir_ + "/etcd.log";
}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) Kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EtcdProcess::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

std::string EtcdProcess::LogTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string log = ss.str();
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

bool EtcdProcess::Start(std::chrono::seconds timeout) {
  if (pid_ > 0) return true;
  const auto deadline = Clock::now() + timeout;
  const bool fresh_ports = client_port_ == 0;
  // Free ports can be taken by someone else before etcd binds them: new ones, a few times.
  for (int attempt = 0; attempt < (fresh_ports ? 3 : 1); ++attempt) {
    if (fresh_ports && !FreePorts(&client_port_, &peer_port_)) {
      error_ = "no free loopback ports";
      return false;
    }
    if (!Spawn()) return false;
    if (WaitReady(deadline)) return true;
    if (pid_ > 0) Kill();
  }
  return false;
}

bool EtcdProcess::Spawn() {
  const std::string binary = BinaryPath();
  if (binary.empty()) {
    error_ = "no etcd binary";
    return false;
  }
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {binary,
                                   "--name",
                                   "t",
                                   "--data-dir",
                                   data_dir_,
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   "t=" + peer,
                                   "--unsafe-no-fsync",
                                   "--heartbeat-interval",
                                   "10",
                                   "--election-timeout",
                                   "100",
                                   "--logger",
                                   "zap",
                                   "--log-level",
                                   "warn"};
  const pid_t pid = fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return true;
}

bool EtcdProcess::WaitReady(Clock::time_point deadline) {
  httplib::Client http("127.0.0.1", client_port_);
  http.set_connection_timeout(std::chrono::milliseconds(200));
  http.set_read_timeout(std::chrono::seconds(2));
  while (Clock::now() < deadline) {
    if (Exited(pid_)) {
      pid_ = -1;
      error_ = "etcd exited while starting; log:\n" + LogTail();
      return false;
    }
    if (auto res = http.Post("/v3/maintenance/status", "{}", "application/json");
        res && res->status == 200) {
      const auto status = nlohmann::json::parse(res->body, nullptr, false);
      if (status.is_object() && status.contains("leader")) return true;
    }
    // Readiness has no event to wait on: poll, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ = "etcd did not serve with a leader in time; log:\n" + LogTail();
  return false;
}

void EtcdProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  while (!Exited(pid_)) {
    if (Clock::now() >= deadline) {
      Kill();
      return;
    }
    // A child's exit has no fd to wait on: poll, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace sluice::testing
