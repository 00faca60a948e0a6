// File: fuzz/server_fuzz.cc
//
// server_fuzz: throws mutated frames at a running sluiced over TCP for a bounded time, then
// checks that the server still serves a fresh client (HELLO, auth, SET, GET, NOOP). Run by
// scripts/fuzz-server.sh, which starts the server (the ASan+UBSan build), and fails when this
// program fails, the server dies or the server's sanitizer reports anything.
//
// Each of --connections threads loops until the deadline: connect; usually HELLO with a random
// feature set and authenticate (sometimes nothing, sometimes also DCP_OPEN as a producer); then a
// few batches, each 1-4 frames taken from the seed corpus (fuzz/corpus/frame: a valid frame of
// every opcode) and mutated (bit flips, header fields set to edge values, truncation, insertion,
// splicing, lengths recomputed or left lying), or a random but well-delimited request. The
// program delimits its own batch with protocol::DecodeFrame, as the server will:
//   - every frame complete and none closes the connection: a NOOP follows, and the responses are
//     read up to the NOOP's answer (a server that answers nothing within --io-timeout-ms or
//     closes is counted, not failed: QUIT, auth failures and DCP misuse may close legitimately);
//   - a truncated or undelimitable tail: the bytes are sent and the connection dropped (a client
//     vanishing mid-frame).
// Failures (exit 1): a response the client cannot decode (the server broke framing), the server
// refusing connections during the run, or the final health check failing. The last batches of
// every thread are then written to --crash-dir to replay.
//
// Thread safety: worker threads share only atomic counters and the immutable corpus; each thread
// keeps its own recent batches (read by main after joining).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame.h"
#include "protocol/opcode.h"

namespace sluice::fuzz {
namespace {

namespace fs = std::filesystem;
using protocol::DecodeStatus;
using protocol::Feature;
using protocol::Opcode;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::vector<std::string> corpus_dirs;
  double seconds = 30;
  int connections = 8;
  uint64_t seed = 0;
  std::string user = "admin";
  std::string password = "password";
  int io_timeout_ms = 2000;
  std::string crash_dir;
  uint32_t max_packet_size = 30u << 20;  // the server's max_packet_size
};

struct Counters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> answered{0};     // batches whose trailing NOOP was answered
  std::atomic<uint64_t> dropped{0};      // batches ending mid-frame: we hung up
  std::atomic<uint64_t> closed{0};       // the server closed the connection
  std::atomic<uint64_t> silent{0};       // no answer within --io-timeout-ms
  std::atomic<uint64_t> responses{0};    // frames read back
  std::atomic<uint64_t> auth_failed{0};  // handshakes that did not complete
  std::atomic<uint64_t> refused{0};      // consecutive connect failures (any thread)
  std::atomic<bool> failed{false};
};

std::vector<std::string> LoadCorpus(const std::vector<std::string>& dirs) {
  std::vector<std::string> corpus;
  for (const std::string& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!bytes.empty() && bytes.size() < (1u << 20)) corpus.push_back(std::move(bytes));
    }
  }
  std::sort(corpus.begin(), corpus.end());  // the seed alone decides the run
  return corpus;
}

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<std::string>& corpus) : rng_(seed), corpus_(corpus) {}

  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool OneIn(uint64_t n) { return Below(n) == 0; }

  // One frame's worth of bytes.
  std::string Next() {
    if (corpus_.empty() || OneIn(5)) return RandomRequest();
    std::string frame = corpus_[Below(corpus_.size())];
    if (OneIn(6)) return frame;  // as is: valid commands move the server's state along
    const int rounds = 1 + static_cast<int>(Below(4));
    for (int i = 0; i < rounds; ++i) Mutate(&frame);
    if (!OneIn(8)) FixLengths(&frame);  // mostly well delimited: reach the handlers
    return frame;
  }

 private:
  static constexpr uint32_t kEdges32[] = {
      0,       1,          0x7f,       0x80,       0xff,       0x100,     0xffff,
      0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 30u << 20, (30u << 20) + 1};

  void Mutate(std::string* f) {
    if (f->empty()) {
      *f = RandomRequest();
      return;
    }
    switch (Below(9)) {
      case 0:  // bit flip
        (*f)[Below(f->size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:  // an edge byte anywhere
        (*f)[Below(f->size())] =
            static_cast<char>(std::array<uint8_t, 6>{0, 1, 0x7f, 0x80, 0xfe, 0xff}[Below(6)]);
        break;
      case 2:  // a header field
        MutateHeader(f);
        break;
      case 3:  // truncate
        f->resize(Below(f->size()));
        break;
      case 4: {  // insert random bytes
        std::string junk(1 + Below(64), '\0');
        for (char& c : junk) c = static_cast<char>(rng_());
        f->insert(Below(f->size() + 1), junk);
        break;
      }
      case 5: {  // duplicate a chunk
        const size_t at = Below(f->size());
        const size_t n = 1 + Below(std::min<size_t>(f->size() - at, 128));
        f->insert(Below(f->size() + 1), f->substr(at, n));
        break;
      }
      case 6: {  // splice with another seed
        const std::string& other = corpus_.empty() ? *f : corpus_[Below(corpus_.size())];
        *f = f->substr(0, Below(f->size() + 1)) + other.substr(Below(other.size() + 1));
        break;
      }
      case 7:  // grow the value (big bodies within the limit)
        f->append(OneIn(16) ? (1u << 16) + Below(1u << 18) : Below(4096), 'v');
        break;
      default:  // a random opcode keeps the rest of a valid frame
        if (f->size() > 1) (*f)[1] = static_cast<char>(rng_());
        break;
    }
  }

  void MutateHeader(std::string* f) {
    if (f->size() < protocol::kHeaderSize) f->resize(protocol::kHeaderSize, '\0');
    char* h = f->data();
    switch (Below(7)) {
      case 0: {
        static constexpr uint8_t kMagics[] = {0x80, 0x08, 0x81, 0x18, 0x82, 0x83, 0x00, 0xff};
        h[0] = static_cast<char>(kMagics[Below(sizeof(kMagics))]);
        break;
      }
      case 1:
        protocol::StoreBe16(h + 2, static_cast<uint16_t>(kEdges32[Below(std::size(kEdges32))]));
        break;
      case 2:
        h[4] = static_cast<char>(rng_());
        break;
      case 3:
        h[5] = static_cast<char>(Below(2) ? rng_() : Below(8));  // datatype
        break;
      case 4:
        protocol::StoreBe16(h + 6, static_cast<uint16_t>(Below(2) ? rng_() : Below(1100)));
        break;
      case 5:
        protocol::StoreBe32(h + 8, kEdges32[Below(std::size(kEdges32))]);
        break;
      default:
        protocol::StoreBe64(h + 16, Below(2) ? rng_() : 0);  // CAS
        break;
    }
  }

  // Makes the body length match the bytes present, so the frame reaches validation and the
  // handlers instead of being a lying length.
  void FixLengths(std::string* f) {
    if (f->size() < protocol::kHeaderSize) return;
    protocol::StoreBe32(f->data() + 8, static_cast<uint32_t>(f->size() - protocol::kHeaderSize));
  }

  std::string RandomRequest() {
    std::string extras(
        Below(4) == 0 ? Below(64) : std::array<size_t, 6>{0, 4, 8, 20, 31, 48}[Below(6)], '\0');
    for (char& c : extras) c = static_cast<char>(Below(3) == 0 ? rng_() : 0);
    std::string key = "key" + std::to_string(Below(16));
    if (OneIn(8)) key.clear();
    if (OneIn(16)) key.assign(240 + Below(20), 'k');
    std::string value(OneIn(3) ? Below(300) : 0, 'x');
    protocol::RequestFields fields;
    fields.opcode = static_cast<Opcode>(OneIn(3) ? rng_() : Below(0x30));
    fields.vbucket = static_cast<Vbid>(Below(70));
    fields.datatype = static_cast<uint8_t>(Below(4) == 0 ? Below(8) : 0);
    fields.cas = OneIn(4) ? rng_() : 0;
    fields.extras = std::string_view(extras).substr(0, 255);
    fields.key = key;
    fields.value = value;
    std::string out;
    protocol::AppendRequest(&out, fields);
    return out;
  }

  std::mt19937_64 rng_;
  const std::vector<std::string>& corpus_;
};

// What the server will make of a batch, by delimiting it the same way.
enum class BatchEnd { kComplete, kClosesConnection, kIncomplete };

BatchEnd Classify(std::string_view batch, uint32_t max_body) {
  while (!batch.empty()) {
    const protocol::DecodeResult r = protocol::DecodeFrame(batch, max_body);
    if (r.status == DecodeStatus::kNeedMore) return BatchEnd::kIncomplete;
    if (r.status == DecodeStatus::kMalformed) return BatchEnd::kClosesConnection;
    if (r.status == DecodeStatus::kOk && r.frame.is_request()) {
      const auto op = r.frame.client_opcode();
      if (op == Opcode::kQuit || op == Opcode::kQuitq) return BatchEnd::kClosesConnection;
    }
    batch.remove_prefix(r.size);
  }
  return BatchEnd::kComplete;
}

constexpr Feature kFeatures[] = {Feature::kTcpNoDelay,
                                 Feature::kMutationSeqno,
                                 Feature::kXattr,
                                 Feature::kXerror,
                                 Feature::kSelectBucket,
                                 Feature::kSnappy,
                                 Feature::kJson,
                                 Feature::kDuplex,
                                 Feature::kAltRequestSupport,
                                 Feature::kSyncReplication,
                                 Feature::kCollections,
                                 Feature::kPreserveTtl,
                                 Feature::kUnorderedExecution,
                                 Feature::kTracing};

class Worker {
 public:
  Worker(int id, const Options& options, const std::vector<std::string>& corpus, Counters& counters)
      : id_(id),
        options_(options),
        counters_(counters),
        mutator_(options.seed * 1000003 + static_cast<uint64_t>(id), corpus) {}

  void Run(Clock::time_point deadline) {
    while (Clock::now() < deadline && !counters_.failed.load()) OneConnection(deadline);
  }
  const std::deque<std::string>& recent() const { return recent_; }

 private:
  void OneConnection(Clock::time_point deadline) {
    client::ConnectOptions co;
    co.io_timeout = std::chrono::milliseconds(options_.io_timeout_ms);
    co.connect_timeout = std::chrono::milliseconds(5000);
    auto conn = client::Connection::Connect(options_.host, options_.port, co);
    if (!conn.ok()) {
      if (counters_.refused.fetch_add(1) + 1 >= 20) {
        std::fprintf(stderr, "server_fuzz: cannot connect: %s\n", conn.status().ToString().c_str());
        counters_.failed = true;
      }
      return;
    }
    counters_.refused = 0;
    counters_.connections++;
    client::Connection& c = **conn;
    if (!mutator_.OneIn(10) && !Handshake(c)) {
      counters_.auth_failed++;
      return;
    }
    const int batches = 1 + static_cast<int>(mutator_.Below(12));
    for (int b = 0; b < batches && Clock::now() < deadline; ++b) {
      if (!Batch(c)) return;
    }
  }

  bool Handshake(client::Connection& c) {
    std::vector<Feature> features;
    for (Feature f : kFeatures) {
      if (mutator_.OneIn(2)) features.push_back(f);
    }
    if (!c.Hello("server_fuzz", features).ok()) return false;
    static constexpr std::string_view kMechs[] = {"PLAIN", "PLAIN", "PLAIN", "SCRAM-SHA256"};
    if (!c.Authenticate(options_.user, options_.password, kMechs[mutator_.Below(4)]).ok()) {
      return false;
    }
    if (mutator_.OneIn(5)) {
      const uint32_t flags = protocol::kDcpOpenProducer |
                             (mutator_.OneIn(2) ? protocol::kDcpOpenIncludeDeleteTimes : 0);
      if (!c.DcpOpen("server_fuzz_" + std::to_string(id_), flags).ok()) return false;
    }
    return true;
  }

  // Returns false when the connection is finished.
  bool Batch(client::Connection& c) {
    std::string batch;
    const int frames = 1 + static_cast<int>(mutator_.Below(4));
    for (int i = 0; i < frames; ++i) batch += mutator_.Next();
    const BatchEnd end = Classify(batch, options_.max_packet_size);
    uint32_t noop_opaque = 0;
    if (end == BatchEnd::kComplete) {
      noop_opaque = 0x5f000000u | static_cast<uint32_t>(mutator_.Below(1u << 24));
      protocol::RequestBuilder(Opcode::kNoop).Opaque(noop_opaque).AppendTo(&batch);
    }
    Remember(batch);
    counters_.batches++;
    counters_.frames += static_cast<uint64_t>(frames);
    counters_.bytes += batch.size();
    if (!c.SendRaw(batch).ok()) {
      counters_.closed++;
      return false;
    }
    if (end != BatchEnd::kComplete) {
      counters_.dropped++;
      return false;  // hang up mid-frame / after a frame the server closes on
    }
    while (true) {
      auto frame = c.ReadFrame();
      if (!frame.ok()) {
        if (frame.status().message().find("malformed frame from the server") !=
            std::string_view::npos) {
          std::fprintf(stderr, "server_fuzz: thread %d: %s\n", id_,
                       frame.status().ToString().c_str());
          counters_.failed = true;
        }
        if (frame.status().code() == Errc::kTempFail) {
          counters_.silent++;
        } else {
          counters_.closed++;
        }
        return false;
      }
      counters_.responses++;
      if (frame->is_response() && frame->client_opcode() == Opcode::kNoop &&
          frame->opaque == noop_opaque) {
        counters_.answered++;
        return true;
      }
    }
  }

  void Remember(const std::string& batch) {
    recent_.push_back(batch);
    if (recent_.size() > 4) recent_.pop_front();
  }

  const int id_;
  const Options& options_;
  Counters& counters_;
  Mutator mutator_;
  std::deque<std::string> recent_;  // this thread's last batches, for --crash-dir
};

// A fresh, well-behaved client must still get everything done.
bool HealthCheck(const Options& options) {
  client::ConnectOptions co;
  co.io_timeout = std::chrono::milliseconds(60'000);
  auto conn = client::Connection::Connect(options.host, options.port, co);
  if (!conn.ok()) {
    std::fprintf(stderr, "health check: connect: %s\n", conn.status().ToString().c_str());
    return false;
  }
  client::Connection& c = **conn;
  auto step = [](const char* what, const Status& s) {
    if (!s.ok()) std::fprintf(stderr, "health check: %s: %s\n", what, s.ToString().c_str());
    return s.ok();
  };
  if (!step("HELLO", c.Hello("server_fuzz-health", {Feature::kXerror, Feature::kJson}).status()))
    return false;
  if (!step("auth", c.Authenticate(options.user, options.password, "SCRAM-SHA512"))) return false;
  // A vbucket the fuzzers may have made non-active answers NOT_MY_VBUCKET: try a few.
  bool stored = false;
  for (Vbid vb = 1000; vb < 1024 && !stored; ++vb) {
    client::MutationOptions mo;
    mo.route.vbucket = vb;
    auto set = c.Set("health-check", "alive", mo);
    if (!step("SET", set.status())) return false;
    if (!set->ok()) continue;
    client::KeyOptions ko;
    ko.vbucket = vb;
    auto get = c.Get("health-check", ko);
    if (!step("GET", get.status())) return false;
    if (!get->ok() || get->value != "alive") {
      std::fprintf(stderr, "health check: GET did not read back the SET\n");
      return false;
    }
    stored = true;
  }
  if (!stored) {
    std::fprintf(stderr, "health check: no vbucket in 1000..1023 accepted a SET\n");
    return false;
  }
  return step("NOOP", c.Noop());
}

void SaveRecent(const Options& options, const std::vector<std::unique_ptr<Worker>>& workers) {
  if (options.crash_dir.empty()) return;
  fs::create_directories(options.crash_dir);
  for (size_t t = 0; t < workers.size(); ++t) {
    const auto& recent = workers[t]->recent();
    for (size_t i = 0; i < recent.size(); ++i) {
      const fs::path path =
          fs::path(options.crash_dir) / ("server-seed" + std::to_string(options.seed) + "-t" +
                                         std::to_string(t) + "-" + std::to_string(i) + ".bin");
      std::ofstream(path, std::ios::binary) << recent[i];
    }
  }
  std::fprintf(stderr, "server_fuzz: the last batches of every connection are in %s\n",
               options.crash_dir.c_str());
}

int Main(int argc, char** argv) {
  Options options;
  CLI::App app("Throws mutated frames at a running sluiced, then checks it still serves.");
  app.add_option("--host", options.host);
  app.add_option("--port", options.port)->required();
  app.add_option("--corpus", options.corpus_dirs, "seed directories (frames)")->required();
  app.add_option("--seconds", options.seconds);
  app.add_option("--connections", options.connections);
  app.add_option("--seed", options.seed, "0: from the clock (printed)");
  app.add_option("--user", options.user);
  app.add_option("--password", options.password);
  app.add_option("--io-timeout-ms", options.io_timeout_ms);
  app.add_option("--max-packet-size", options.max_packet_size);
  app.add_option("--crash-dir", options.crash_dir, "where the last batches go on failure");
  CLI11_PARSE(app, argc, argv);
  if (options.seed == 0) {
    options.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) % 1000000007;
  }
  const std::vector<std::string> corpus = LoadCorpus(options.corpus_dirs);
  std::printf("server_fuzz: seed %llu, %zu seeds, %d connections, %.0f s\n",
              static_cast<unsigned long long>(options.seed), corpus.size(), options.connections,
              options.seconds);
  std::fflush(stdout);

  Counters counters;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < options.connections; ++i) {
    workers.push_back(std::make_unique<Worker>(i, options, corpus, counters));
  }
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(options.seconds * 1000));
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w, deadline] { w->Run(deadline); });
  for (auto& t : threads) t.join();

  std::printf(
      "server_fuzz: %llu connections, %llu batches (%llu frames, %llu bytes), %llu answered, "
      "%llu dropped mid-frame, %llu closed by the server, %llu unanswered, %llu responses, "
      "%llu handshakes refused\n",
      static_cast<unsigned long long>(counters.connections.load()),
      static_cast<unsigned long long>(counters.batches.load()),
      static_cast<unsigned long long>(counters.frames.load()),
      static_cast<unsigned long long>(counters.bytes.load()),
      static_cast<unsigned long long>(counters.answered.load()),
      static_cast<unsigned long long>(counters.dropped.load()),
      static_cast<unsigned long long>(counters.closed.load()),
      static_cast<unsigned long long>(counters.silent.load()),
      static_cast<unsigned long long>(counters.responses.load()),
      static_cast<unsigned long long>(counters.auth_failed.load()));
  bool ok = !counters.failed.load();
  if (ok && !HealthCheck(options)) ok = false;
  if (!ok) {
    SaveRecent(options, workers);
    std::printf("server_fuzz: FAILED (seed %llu)\n", static_cast<unsigned long long>(options.seed));
    return 1;
  }
  std::printf("server_fuzz: the server survived and serves a fresh client\n");
  return 0;
}

}  // namespace
}  // namespace sluice::fuzz

int main(int argc, char** argv) { return sluice::fuzz::Main(argc, argv); }
