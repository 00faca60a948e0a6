#include "testing/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::testing {
namespace {

int DecodeExit(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0) return true;  // already reaped
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Polling a child's exit: there is no fd to wait on, so a short sleep between checks.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

std::string ServerProcess::BinaryPath() {
  if (const char* env = std::getenv("SLUICED_BIN")) return env;
  return "./build/sluiced";
}

ServerProcess::ServerProcess(ServerOptions options)
    : options_(std::move(options)),
      data_dir_(dir_.Sub("data")),
      users_path_(dir_.Sub("users.json")),
      log_path_(dir_.Sub("stderr.log")) {
  std::ofstream users(users_path_);
  users << (options_.users_json.empty()
                ? std::string(R"({"users":[{"name":"admin","password":"password"}]})")
                : options_.users_json);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
  if (options_.keep_data_dir) dir_.Keep();
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ServerProcess::Start(std::chrono::seconds timeout) {
  exit_status_ = -1;
  int out_pipe[2];
  if (pipe(out_pipe) != 0) {
    error_ = "pipe failed";
    return false;
  }
  const std::string port = options_.reuse_port && port_ != 0 ? std::to_string(port_) : "0";
  std::vector<std::string> args = {
      BinaryPath(), "--port",  port,        "--host",      options_.listen_host, "--data-dir",
      data_dir_,    "--users", users_path_, "--log-level", options_.log_level};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const pid_t pid = fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    // If the test process dies (a crash, an abort), the server must not outlive it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out_pipe[1], STDOUT_FILENO);
    const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  pid_ = pid;

  // Read the listening line (and, with --tls-port, the TLS one after it).
  const bool tls = std::find(args.begin(), args.end(), "--tls-port") != args.end();
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;  // stdout closed: the server exited
    line.append(buf, static_cast<size_t>(n));
    const size_t nl = line.find('\n');
    if (nl != std::string::npos) {
      if (tls && line.find('\n', nl + 1) == std::string::npos) continue;
      const std::string first = line.substr(0, nl);
      const size_t colon = first.rfind(':');
      if (first.rfind("sluiced listening on ", 0) == 0 && colon != std::string::npos) {
        port_ = static_cast<uint16_t>(std::stoi(first.substr(colon + 1)));
        ok = true;
      }
      if (tls) {
        const std::string second = line.substr(nl + 1, line.find('\n', nl + 1) - nl - 1);
        const size_t tls_colon = second.rfind(':');
        ok = ok && second.rfind("sluiced listening (tls) on ", 0) == 0 &&
             tls_colon != std::string::npos;
        if (ok) tls_port_ = static_cast<uint16_t>(std::stoi(second.substr(tls_colon + 1)));
      }
      break;
    }
  }
  close(out_pipe[0]);
  if (!ok) {
    error_ = "sluiced did not report listening; stdout: '" + line + "'; log:\n" + Log();
    Kill();
    return false;
  }
  return true;
}

bool ServerProcess::Alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_status_ = r == pid_ ? DecodeExit(status) : -1;
  pid_ = -1;
  return false;
}

int ServerProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return exit_status_;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitForExit(pid_, timeout, &status)) {
    Kill();
    return -1;
  }
  pid_ = -1;
  exit_status_ = DecodeExit(status);
  return exit_status_;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) exit_status_ = DecodeExit(status);
  pid_ = -1;
}

}  // namespace sluice::testing
