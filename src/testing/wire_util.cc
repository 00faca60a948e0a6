#include "testing/wire_util.h"

#include <sys/wait.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <fstream>

#include "protocol/opcode.h"

namespace sluice::testing {

bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(interval);
  }
}

StatusOr<StatMap> FetchStats(client::Connection& conn, std::string_view group) {
  ASSIGN_OR_RETURN(auto pairs, conn.Stats(group));
  StatMap map;
  for (auto& [k, v] : pairs) map[std::move(k)] = std::move(v);
  return map;
}

std::optional<uint64_t> StatU64(const StatMap& stats, std::string_view key) {
  auto it = stats.find(key);
  if (it == stats.end()) return std::nullopt;
  uint64_t v = 0;
  const std::string& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

client::KvResult Must(StatusOr<client::KvResult> result) {
  if (result.ok()) return std::move(*result);
  ADD_FAILURE() << "no answer from the server: " << result.status().ToString();
  client::KvResult failed;
  failed.status = kNoAnswer;
  return failed;
}

client::Response Exec(client::Connection& conn, protocol::RequestFields request) {
  auto r = conn.Execute(request);
  EXPECT_TRUE(r.ok()) << protocol::OpcodeName(request.opcode) << ": " << r.status().ToString();
  return r.ok() ? std::move(*r) : client::Response{};
}

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output->append(buf.data(), n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t ProcStatusBytes(pid_t pid, std::string_view field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = std::string(field) + ":";
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
  }
  return 0;
}

std::vector<protocol::Feature> DefaultFeatures() {
  using protocol::Feature;
  return {Feature::kTcpNoDelay, Feature::kMutationSeqno, Feature::kXerror, Feature::kSelectBucket,
          Feature::kJson};
}

ServerOptions SluicedTest::Options() const {
  ServerOptions options;
  options.extra_args = {"--vbuckets", std::to_string(kDefaultTestVbuckets)};
  return options;
}

void SluicedTest::SetUp() {
  ServerOptions options = Options();
  vbuckets_ = 1024;
  for (size_t i = 0; i + 1 < options.extra_args.size(); ++i) {
    if (options.extra_args[i] == "--vbuckets") {
      vbuckets_ = static_cast<uint32_t>(std::stoul(options.extra_args[i + 1]));
    }
  }
  server_ = std::make_unique<ServerProcess>(std::move(options));
  ASSERT_TRUE(server_->Start()) << server_->error();
}

void SluicedTest::TearDown() {
  if (server_ == nullptr) return;
  if (server_->running()) {
    EXPECT_TRUE(server_->Alive()) << "sluiced died during the test";
    EXPECT_EQ(server_->Stop(), 0) << "sluiced did not exit cleanly on SIGTERM";
  }
  ExpectNoSanitizerReport();
  if (HasFailure()) {
    std::fprintf(stderr, "---- sluiced stderr ----\n%s---- end of sluiced stderr ----\n",
                 server_->Log().c_str());
  }
  server_.reset();
}

void SluicedTest::ExpectNoSanitizerReport() {
  const std::string log = server_->Log();
  for (const char* marker : {"AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                             "UndefinedBehaviorSanitizer", "runtime error:"}) {
    EXPECT_EQ(log.find(marker), std::string::npos) << "sanitizer report in sluiced's log";
  }
}

std::unique_ptr<client::Connection> SluicedTest::ConnectRaw() {
  client::ConnectOptions options;
  options.io_timeout = 60s;
  auto conn = client::Connection::Connect(server_->host(), server_->port(), options);
  if (!conn.ok()) {
    ADD_FAILURE() << "connect: " << conn.status().ToString();
    return nullptr;
  }
  return std::move(*conn);
}

std::unique_ptr<client::Connection> SluicedTest::Connect(const ClientSetup& setup) {
  client::ConnectOptions options;
  options.io_timeout = setup.io_timeout;
  options.num_vbuckets = setup.memcached_routing   ? 0
                         : setup.num_vbuckets != 0 ? setup.num_vbuckets
                                                   : vbuckets_;
  auto conn = client::Connection::Connect(server_->host(), server_->port(), options);
  if (!conn.ok()) {
    ADD_FAILURE() << "connect: " << conn.status().ToString();
    return nullptr;
  }
  if (setup.hello) {
    auto agreed = (*conn)->Hello("sluice-it", setup.features);
    if (!agreed.ok()) {
      ADD_FAILURE() << "HELLO: " << agreed.status().ToString();
      return nullptr;
    }
  }
  if (setup.authenticate) {
    Status s = (*conn)->Authenticate(setup.user, setup.password, setup.mechanism);
    if (!s.ok()) {
      ADD_FAILURE() << "authenticate: " << s.ToString();
      return nullptr;
    }
  }
  return std::move(*conn);
}

StatMap SluicedTest::Stats(std::string_view group) {
  auto conn = Connect();
  if (conn == nullptr) return {};
  auto stats = FetchStats(*conn, group);
  if (!stats.ok()) {
    ADD_FAILURE() << "STAT '" << group << "': " << stats.status().ToString();
    return {};
  }
  return std::move(*stats);
}

bool SluicedTest::WaitUntilPersisted() {
  auto conn = Connect();
  if (conn == nullptr) return false;
  std::string last_state;
  const bool done = PollUntil([&] {
    auto def = FetchStats(*conn);
    auto seqnos = FetchStats(*conn, "vbucket-seqno");
    if (!def.ok() || !seqnos.ok()) return false;
    if (StatU64(*def, "ep_queue_size") != 0u) {
      last_state = "ep_queue_size=" + (*def)["ep_queue_size"];
      return false;
    }
    for (uint32_t vb = 0; vb < vbuckets_; ++vb) {
      const std::string prefix = "vb_" + std::to_string(vb) + ":";
      auto high = StatU64(*seqnos, prefix + "high_seqno");
      auto persisted = StatU64(*seqnos, prefix + "last_persisted_seqno");
      if (!high) continue;  // vbucket does not exist
      if (persisted != high) {
        last_state = prefix + " persisted " + std::to_string(persisted.value_or(0)) + " of " +
                     std::to_string(*high);
        return false;
      }
    }
    return true;
  });
  if (!done) ADD_FAILURE() << "writes not persisted in time: " << last_state;
  return done;
}

void SluicedTest::RestartClean() {
  ASSERT_EQ(server_->Stop(), 0) << "sluiced did not exit cleanly on SIGTERM";
  ASSERT_TRUE(server_->Start()) << server_->error();
}

void SluicedTest::RestartAfterKill() {
  server_->Kill();
  ASSERT_TRUE(server_->Start()) << server_->error();
}

}  // namespace sluice::testing
