// Integration: libmemcached's command-line tools (Debian libmemcached-tools: memccp, memccat,
// memcrm, memcexist, memctouch, memcstat) against sluiced, with --binary and SASL. They speak
// plain memcached: every key on vbucket 0, PLAIN with authzid = user, GETK, QUIT at the end.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;

struct ToolResult {
  int exit_code = -1;  // 128 + signal if killed
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] looked up on PATH) with stdout and stderr captured; kills it after
// `timeout`.
ToolResult RunTool(const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = kWaitTimeout) {
  ToolResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  const pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class MemcachedToolsTest : public SluicedTest {
 protected:
  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    if (access("/usr/bin/memccp", X_OK) != 0) {
      GTEST_SKIP() << "libmemcached-tools is not installed (apt-get install libmemcached-tools)";
    }
    work_dir_ = server().data_dir() + "/../tools";
    std::filesystem::create_directories(work_dir_);
  }

  // tool + the connection flags + `args`.
  ToolResult Tool(const std::string& tool, const std::vector<std::string>& args,
                  const std::string& password = ServerProcess::kPassword) {
    std::vector<std::string> argv = {
        tool, "--binary", "--servers=127.0.0.1:" + std::to_string(server().port()),
        std::string("--username=") + ServerProcess::kUser, "--password=" + password};
    argv.insert(argv.end(), args.begin(), args.end());
    ToolResult r = RunTool(argv);
    if (r.exit_code == 127) ADD_FAILURE() << "could not run " << tool;
    return r;
  }

  // Writes a file named `name` in the work directory (memccp uses the base name as the key).
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = work_dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // What a memcached-style client (vbucket 0) reads for `key`.
  client::KvResult GetOnVb0(const std::string& key) {
    auto conn = Connect({.memcached_routing = true});
    if (conn == nullptr) return {};
    return Must(conn->Get(key));
  }

  std::string work_dir_;
};

TEST_F(MemcachedToolsTest, CopyCatExistTouchRemove) {
  const std::string content = "hello from libmemcached\nsecond line\n";
  const std::string path = WriteFile("tooldoc.txt", content);

  ToolResult cp = Tool("memccp", {path});
  EXPECT_EQ(cp.exit_code, 0) << cp.err;
  auto stored = GetOnVb0("tooldoc.txt");
  EXPECT_EQ(stored.status, McbpStatus::kSuccess);
  EXPECT_EQ(stored.value, content);

  ToolResult cat = Tool("memccat", {"tooldoc.txt"});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out.substr(0, content.size()), content);

  ToolResult exist = Tool("memcexist", {"tooldoc.txt"});
  EXPECT_EQ(exist.exit_code, 0) << exist.err;
  ToolResult missing = Tool("memcexist", {"no-such-key"});
  EXPECT_NE(missing.exit_code, 0);

  ToolResult touch = Tool("memctouch", {"--expire=3600", "tooldoc.txt"});
  EXPECT_EQ(touch.exit_code, 0) << touch.err;
  ToolResult touch_missing = Tool("memctouch", {"--expire=3600", "no-such-key"});
  EXPECT_NE(touch_missing.exit_code, 0);

  ToolResult rm = Tool("memcrm", {"tooldoc.txt"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(GetOnVb0("tooldoc.txt").status, McbpStatus::kKeyEnoent);
  ToolResult cat_gone = Tool("memccat", {"tooldoc.txt"});
  EXPECT_NE(cat_gone.exit_code, 0);
  ToolResult rm_gone = Tool("memcrm", {"tooldoc.txt"});
  EXPECT_NE(rm_gone.exit_code, 0);
}

TEST_F(MemcachedToolsTest, CopyWithFlagsAndExpiryAndManyFiles) {
  std::vector<std::string> paths;
  for (int i = 0; i < 5; ++i) {
    paths.push_back(WriteFile("file" + std::to_string(i) + ".bin",
                              std::string(1000 * (i + 1), static_cast<char>('a' + i))));
  }
  std::vector<std::string> args = {"--flag=77"};
  args.insert(args.end(), paths.begin(), paths.end());
  ToolResult cp = Tool("memccp", args);
  EXPECT_EQ(cp.exit_code, 0) << cp.err;
  auto conn = Connect({.memcached_routing = true});
  ASSERT_NE(conn, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto r = Must(conn->Get("file" + std::to_string(i) + ".bin"));
    EXPECT_EQ(r.status, McbpStatus::kSuccess);
    EXPECT_EQ(r.value, std::string(1000 * (i + 1), static_cast<char>('a' + i)));
    EXPECT_EQ(r.flags, 77u);
  }
  // A value written by our client is readable by the tool.
  ASSERT_EQ(Must(conn->Set("from-sluice", "written by the sluice client")).status,
            McbpStatus::kSuccess);
  ToolResult cat = Tool("memccat", {"from-sluice"});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_NE(cat.out.find("written by the sluice client"), std::string::npos) << cat.out;
  // memccp with a short expiry: the document goes away.
  const std::string short_path = WriteFile("short.txt", "short-lived");
  ToolResult cp_short = Tool("memccp", {"--expire=1", short_path});
  EXPECT_EQ(cp_short.exit_code, 0) << cp_short.err;
  EXPECT_TRUE(
      PollUntil([&] { return Must(conn->Get("short.txt")).status == McbpStatus::kKeyEnoent; }));
}

TEST_F(MemcachedToolsTest, StatShowsServerAndBucketStats) {
  ToolResult stat = Tool("memcstat", {});
  EXPECT_EQ(stat.exit_code, 0) << stat.err;
  for (const char* name : {"pid", "uptime", "version", "curr_connections", "curr_items", "mem_used",
                           "ep_queue_size"}) {
    EXPECT_NE(stat.out.find(std::string(name) + ":"), std::string::npos) << name << "\n"
                                                                         << stat.out;
  }
  EXPECT_NE(stat.out.find(std::to_string(server().port())), std::string::npos);
}

TEST_F(MemcachedToolsTest, WrongPasswordFails) {
  const std::string path = WriteFile("secret.txt", "nope");
  ToolResult cp = Tool("memccp", {path}, "wrong-password");
  EXPECT_NE(cp.exit_code, 0);
  EXPECT_EQ(GetOnVb0("secret.txt").status, McbpStatus::kKeyEnoent) << "nothing was stored";
  auto writer = Connect({.memcached_routing = true});
  ASSERT_NE(writer, nullptr);
  ASSERT_EQ(Must(writer->Set("guarded", "guarded-secret-value")).status, McbpStatus::kSuccess);
  ToolResult cat = Tool("memccat", {"guarded"}, "wrong-password");
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_EQ(cat.out.find("guarded-secret-value"), std::string::npos) << "leaked: " << cat.out;
  ToolResult rm = Tool("memcrm", {"guarded"}, "wrong-password");
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_EQ(GetOnVb0("guarded").value, "guarded-secret-value") << "not removed";
  ToolResult stat = Tool("memcstat", {}, "wrong-password");
  EXPECT_EQ(stat.out.find("curr_items"), std::string::npos) << stat.out;
  // The server counted the failures and still serves the right password.
  const StatMap stats = Stats();
  EXPECT_GE(StatU64(stats, "auth_errors").value_or(0), 3u);
  ToolResult ok = Tool("memccat", {"guarded"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("guarded-secret-value"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace sluice::testing
