// Integration: what monitoring tools read from sluiced.
//   - STAT groups in the conventions of kv_engine's cbstats: "timings" (per-opcode latency
//     histograms as "<name>_<lo>,<hi>" / "<name>_mean" keys), "dcp" with the JSON options
//     cbstats sends ({"stream_format":"json"}: one JSON stat per stream), and every group cbstats
//     reads answering; GET_CMD_TIMER (mctimings).
//   - The Prometheus endpoint: GET /metrics over HTTP (cpp-httplib's client), every line parsed
//     against the text exposition format, histograms checked for consistency, and the values
//     compared with what the test did.
#include <fmt/format.h>
#include <httplib.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "protocol/datatype.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

// ---- a strict reader of the Prometheus text format ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Page {
  std::map<std::string, std::string> types;  // family -> TYPE
  std::vector<Sample> samples;
  std::vector<std::string> errors;

  // Samples named `name` whose labels include every pair of `match`.
  std::vector<Sample> Find(const std::string& name,
                           const std::map<std::string, std::string>& match = {}) const {
    std::vector<Sample> out;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      if (ok) out.push_back(s);
    }
    return out;
  }
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& match = {}) const {
    auto found = Find(name, match);
    if (found.size() != 1) return std::nullopt;
    return found[0].value;
  }
};

std::optional<double> ParseValue(const std::string& text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// The family a sample belongs to, given the declared types.
std::string FamilyOf(const std::string& sample, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.ends_with(s)) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return sample;
}

Page ParsePage(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)$)");
  static const std::regex kLabel(R"re(^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$))re");
  Page page;
  std::set<std::string> helped, finished;
  std::string current;  // family of the previous line
  if (text.empty() || text.back() != '\n') page.errors.push_back("page does not end in \\n");
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto error = [&](const std::string& what) {
      page.errors.push_back(fmt::format("line {}: {}: {}", line_no, what, line));
    };
    std::smatch m;
    std::string family;
    if (line.rfind("# HELP ", 0) == 0) {
      if (!std::regex_match(line, m, kHelp)) {
        error("bad HELP");
        continue;
      }
      family = m[1];
      if (!helped.insert(family).second) error("second HELP");
      if (page.types.count(family)) error("HELP after TYPE");
    } else if (line.rfind("# TYPE ", 0) == 0) {
      if (!std::regex_match(line, m, kType)) {
        error("bad TYPE");
        continue;
      }
      family = m[1];
      if (!page.types.emplace(family, m[2]).second) error("second TYPE");
    } else if (line.empty() || line[0] == '#') {
      error("unexpected comment or empty line");
      continue;
    } else {
      if (!std::regex_match(line, m, kSample)) {
        error("bad sample");
        continue;
      }
      Sample s;
      s.name = m[1];
      std::string labels = m[3];
      while (!labels.empty()) {
        std::smatch lm;
        if (!std::regex_search(labels, lm, kLabel)) {
          error("bad labels");
          break;
        }
        if (!s.labels.emplace(lm[1], lm[2]).second) error("duplicate label");
        labels = lm.suffix();
      }
      auto v = ParseValue(m[4]);
      if (!v) error("bad value");
      s.value = v.value_or(0);
      family = FamilyOf(s.name, page.types);
      if (!page.types.count(family)) error("sample before its TYPE");
      page.samples.push_back(std::move(s));
    }
    if (family != current) {
      if (!current.empty()) finished.insert(current);
      if (finished.count(family)) error("family " + family + " is not contiguous");
      current = family;
    }
  }
  return page;
}

// Histogram rules: per label set, ascending le, cumulative counts, +Inf == _count, a _sum.
std::vector<std::string> CheckHistograms(const Page& page) {
  std::vector<std::string> errors;
  for (const auto& [family, type] : page.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> series;
    for (const Sample& s : page.Find(family + "_bucket")) {
      auto labels = s.labels;
      auto le = labels.find("le");
      if (le == labels.end()) {
        errors.push_back(family + ": bucket without le");
        continue;
      }
      auto bound = ParseValue(le->second);
      if (!bound) errors.push_back(family + ": bad le " + le->second);
      labels.erase(le);
      series[labels].push_back({bound.value_or(0), s.value});
    }
    if (series.empty()) errors.push_back(family + ": no buckets");
    for (const auto& [labels, buckets] : series) {
      const std::string id = family + nlohmann::json(labels).dump();
      for (size_t i = 1; i < buckets.size(); ++i) {
        if (!(buckets[i].first > buckets[i - 1].first)) errors.push_back(id + ": le not ascending");
        if (buckets[i].second < buckets[i - 1].second) errors.push_back(id + ": not cumulative");
      }
      if (buckets.empty() || !std::isinf(buckets.back().first)) {
        errors.push_back(id + ": no +Inf bucket last");
        continue;
      }
      auto count = page.Value(family + "_count", labels);
      auto sum = page.Value(family + "_sum", labels);
      if (!count || *count != buckets.back().second) errors.push_back(id + ": +Inf != _count");
      if (!sum || *sum < 0) errors.push_back(id + ": no valid _sum");
    }
  }
  return errors;
}

// ---- the tests ----

class MetricsTest : public DcpTest {
 protected:
  // The metrics port sluiced named on stderr ("sluiced metrics on http://HOST:PORT/metrics").
  uint16_t MetricsPort() {
    static const std::regex kLine(R"(sluiced metrics on http://[^ ]+:(\d+)/metrics)");
    uint16_t port = 0;
    PollUntil([&] {
      std::smatch m;
      const std::string log = server().Log();
      if (!std::regex_search(log, m, kLine)) return false;
      port = static_cast<uint16_t>(std::stoi(m[1]));
      return true;
    });
    EXPECT_NE(port, 0) << "no metrics line in the log:\n" << server().Log();
    return port;
  }

  std::string Scrape(uint16_t port, std::string* content_type = nullptr) {
    httplib::Client http(server().host(), port);
    http.set_read_timeout(std::chrono::seconds(60));
    auto res = http.Get("/metrics");
    if (!res) {
      ADD_FAILURE() << "GET /metrics: " << httplib::to_string(res.error());
      return {};
    }
    EXPECT_EQ(res->status, 200);
    if (content_type) *content_type = res->get_header_value("Content-Type");
    return res->body;
  }
};

TEST_F(MetricsTest, TimingsGroupIsCbstatsHistograms) {
  auto kv = Connect({.memcached_routing = true});
  ASSERT_TRUE(kv);
  constexpr int kSets = 25;
  for (int i = 0; i < kSets; ++i) {
    ASSERT_EQ(Must(kv->Set("t" + std::to_string(i), "v")).status, protocol::McbpStatus::kSuccess);
  }
  ASSERT_EQ(Must(kv->Get("t0")).status, protocol::McbpStatus::kSuccess);
  // kv_engine answers text histograms to cbstats only (by its HELLO agent name).
  auto cbstats = Connect({.hello = false, .authenticate = false});
  ASSERT_TRUE(cbstats);
  ASSERT_TRUE(cbstats->Hello("cbstats 0.0.0", DefaultFeatures()).ok());
  ASSERT_TRUE(cbstats->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok());
  auto fetched = FetchStats(*cbstats, "timings");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  const StatMap& timings = *fetched;
  // Every key is one of cbstats' histogram forms; collect bucket counts per histogram.
  static const std::regex kKey(R"(^(.+)_(mean|overflowed|maxTrackable|(\d+),(\d+))$)");
  std::map<std::string, uint64_t> counts;
  for (const auto& [key, value] : timings) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(key, m, kKey)) << key;
    ASSERT_TRUE(StatU64(timings, key).has_value()) << key << "=" << value;
    if (m[3].matched) {
      EXPECT_LE(std::stoull(m[3]), std::stoull(m[4])) << key;
      counts[m[1]] += *StatU64(timings, key);
    }
  }
  EXPECT_EQ(counts["cmd_set"], static_cast<uint64_t>(kSets));
  EXPECT_EQ(counts["store_cmd"], static_cast<uint64_t>(kSets));
  EXPECT_EQ(counts["cmd_get"], 1u);
  EXPECT_EQ(counts["get_cmd"], 1u);
  EXPECT_TRUE(timings.count("cmd_set_mean"));
  EXPECT_TRUE(timings.count("cmd_hello_mean"));
  EXPECT_TRUE(timings.count("cmd_sasl_auth_mean"));
}

TEST_F(MetricsTest, TimingsGroupIsHdrHistogramJsonForOtherClients) {
  auto kv = Connect();  // HELLO "sluice-it"
  ASSERT_TRUE(kv);
  constexpr int kSets = 7;
  for (int i = 0; i < kSets; ++i) {
    ASSERT_EQ(Must(kv->Set("j" + std::to_string(i), "v")).status, protocol::McbpStatus::kSuccess);
  }
  auto fetched = FetchStats(*kv, "timings");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  for (const auto& [key, value] : *fetched) {
    const auto json = nlohmann::json::parse(value, nullptr, false);
    ASSERT_TRUE(json.is_object()) << key << "=" << value;
    for (const char* field :
         {"total", "bucketsLow", "data", "overflowed", "overflowed_sum", "max_trackable"}) {
      EXPECT_TRUE(json.contains(field)) << key << " lacks " << field;
    }
  }
  const auto set = nlohmann::json::parse(fetched->at("cmd_set"));
  EXPECT_EQ(set["total"], kSets);
  uint64_t in_buckets = 0;
  double last_percentile = 0;
  for (const auto& entry : set["data"]) {
    ASSERT_EQ(entry.size(), 3u);
    in_buckets += entry[1].get<uint64_t>();
    EXPECT_GE(entry[2].get<double>(), last_percentile);
    last_percentile = entry[2].get<double>();
  }
  EXPECT_EQ(in_buckets, static_cast<uint64_t>(kSets));
  EXPECT_DOUBLE_EQ(last_percentile, 100.0);
  EXPECT_TRUE(fetched->count("store_cmd"));
}

// GET_CMD_TIMER (mctimings): one opcode's histogram as HdrHistogram JSON, for the selected
// bucket's name, "", "/all/"; another bucket is NotSupported; malformed requests are Einval.
TEST_F(MetricsTest, GetCmdTimerAnswersOneOpcodesHistogram) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  constexpr int kSets = 5;
  for (int i = 0; i < kSets; ++i) {
    ASSERT_EQ(Must(kv->Set("t" + std::to_string(i), "v")).status, protocol::McbpStatus::kSuccess);
  }
  auto timer = [&](std::string_view bucket, protocol::Opcode op, std::string_view extras_override,
                   bool use_override) {
    protocol::RequestFields r;
    r.opcode = protocol::Opcode::kGetCmdTimer;
    r.key = bucket;
    const char extras[1] = {static_cast<char>(op)};
    r.extras = use_override ? extras_override : std::string_view(extras, 1);
    auto response = kv->Execute(r);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : client::Response{};
  };
  auto set = timer("", protocol::Opcode::kSet, {}, false);
  ASSERT_EQ(set.status, protocol::McbpStatus::kSuccess);
  EXPECT_EQ(set.datatype, protocol::kDatatypeJson);
  const auto json = nlohmann::json::parse(set.value, nullptr, false);
  ASSERT_TRUE(json.is_object()) << set.value;
  EXPECT_EQ(json["total"], kSets);
  EXPECT_TRUE(json.contains("data"));
  for (const char* name : {"default", "/all/"}) {
    auto same = timer(name, protocol::Opcode::kSet, {}, false);
    ASSERT_EQ(same.status, protocol::McbpStatus::kSuccess) << name;
    EXPECT_GE(nlohmann::json::parse(same.value)["total"].get<int>(), kSets) << name;
  }
  auto never = timer("", protocol::Opcode::kGetRandomKey, {}, false);
  ASSERT_EQ(never.status, protocol::McbpStatus::kSuccess);
  EXPECT_EQ(nlohmann::json::parse(never.value)["total"], 0);
  EXPECT_EQ(timer("other-bucket", protocol::Opcode::kSet, {}, false).status,
            protocol::McbpStatus::kNotSupported);
  EXPECT_EQ(timer("", protocol::Opcode::kSet, "", true).status, protocol::McbpStatus::kEinval);
  EXPECT_EQ(timer("", protocol::Opcode::kSet, "ab", true).status, protocol::McbpStatus::kEinval);
}

TEST_F(MetricsTest, EveryCbstatsGroupAnswers) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  ASSERT_EQ(Must(kv->Set("k", "v")).status, protocol::McbpStatus::kSuccess);
  for (const char* group :
       {"", "dcp", "dcpagg :", "vbucket-seqno", "failovers", "checkpoint", "memory", "timings"}) {
    auto stats = FetchStats(*kv, group);
    ASSERT_TRUE(stats.ok()) << "'" << group << "': " << stats.status().ToString();
    EXPECT_FALSE(stats->empty()) << group;
  }
  auto dcp_json = kv->Stats("dcp", R"({"stream_format":"json"})");
  ASSERT_TRUE(dcp_json.ok()) << dcp_json.status().ToString();
}

TEST_F(MetricsTest, DcpGroupStreamFormats) {
  auto consumer = OpenConsumer({.name = "fmt"});
  ASSERT_TRUE(consumer);
  auto req = StreamRequest();
  req.vbucket = 0;
  auto r = consumer->Stream(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto kv = Connect();
  ASSERT_TRUE(kv);
  const std::string prefix = DcpConnStatPrefix("fmt");

  auto as_map = [](auto pairs) {
    StatMap m;
    for (auto& [k, v] : pairs) m[k] = v;
    return m;
  };
  // Legacy (no options): one stat per stream value.
  auto legacy = kv->Stats("dcp");
  ASSERT_TRUE(legacy.ok());
  const StatMap l = as_map(*legacy);
  EXPECT_TRUE(l.count(prefix + "stream_0_state"));
  EXPECT_FALSE(l.count(prefix + "stream_0"));

  // cbstats: the options in the request's value.
  auto json = kv->Stats("dcp", R"({"stream_format":"json"})");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  const StatMap j = as_map(*json);
  EXPECT_FALSE(j.count(prefix + "stream_0_state"));
  ASSERT_TRUE(j.count(prefix + "stream_0"));
  const auto object = nlohmann::json::parse(j.at(prefix + "stream_0"), nullptr, false);
  ASSERT_TRUE(object.is_object()) << j.at(prefix + "stream_0");
  EXPECT_TRUE(object.contains("state"));
  EXPECT_TRUE(object.contains("last_sent_seqno"));
  EXPECT_EQ(object["start_seqno"], "0");
  // Connection stats and aggregates are unchanged.
  EXPECT_TRUE(j.count(prefix + "items_sent"));
  EXPECT_TRUE(j.count("ep_dcp_count"));

  // mcstat style: the JSON after the group name; and "skip".
  auto skip = kv->Stats(R"(dcp {"stream_format":"skip"})");
  ASSERT_TRUE(skip.ok()) << skip.status().ToString();
  const StatMap s = as_map(*skip);
  EXPECT_FALSE(s.count(prefix + "stream_0"));
  EXPECT_FALSE(s.count(prefix + "stream_0_state"));
  EXPECT_TRUE(s.count(prefix + "num_streams"));

  // Options that do not parse are ignored, as kv_engine does.
  auto bad = kv->Stats("dcp", R"({"stream_format":"xml"})");
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(as_map(*bad).count(prefix + "stream_0_state"));
}

TEST_F(MetricsTest, PrometheusPageIsValidAndFollowsTheServer) {
  const uint16_t port = MetricsPort();
  ASSERT_NE(port, 0);
  // An empty server scrapes cleanly too.
  {
    const Page empty = ParsePage(Scrape(port));
    EXPECT_THAT(empty.errors, ::testing::IsEmpty());
  }

  auto kv = Connect();
  ASSERT_TRUE(kv);
  TrackedWriter writer(*kv);
  constexpr int kDocs = 40;
  for (int i = 0; i < kDocs; ++i) {
    ASSERT_TRUE(writer.Set("m" + std::to_string(i), std::string(100, 'x')));
  }
  ASSERT_EQ(Must(kv->Get("m1")).status, protocol::McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv->Get("absent")).status, protocol::McbpStatus::kKeyEnoent);
  ASSERT_TRUE(WaitUntilPersisted());

  // A DCP stream of every vbucket, read to the end.
  auto consumer = OpenConsumer({.name = "scraped"});
  ASSERT_TRUE(consumer);
  std::map<Vbid, uint64_t> targets;
  for (const auto& [vb, seqno] : writer.high_seqnos()) targets[vb] = seqno;
  ASSERT_TRUE(consumer->StreamAll(vbuckets(), StreamRequest()).ok());
  ASSERT_TRUE(consumer->ReadUntilSeqnos(targets).ok());

  std::string content_type;
  const std::string text = Scrape(port, &content_type);
  EXPECT_EQ(content_type.rfind("text/plain; version=0.0.4", 0), 0u) << content_type;
  const Page page = ParsePage(text);
  ASSERT_THAT(page.errors, ::testing::IsEmpty()) << text;
  EXPECT_THAT(CheckHistograms(page), ::testing::IsEmpty()) << text;

  const std::map<std::string, std::string> bucket = {{"bucket", "default"}};
  EXPECT_EQ(page.types.at("kv_curr_items"), "gauge");
  EXPECT_EQ(page.Value("kv_curr_items", bucket), kDocs);
  EXPECT_GT(page.Value("kv_mem_used_bytes", bucket).value_or(0), 0);
  EXPECT_EQ(page.Value("kv_ep_queue_size", bucket), 0);
  EXPECT_GE(page.Value("kv_ep_total_persisted", bucket).value_or(0), kDocs);
  EXPECT_EQ(page.Value("kv_ops", {{"op", "set"}}), kDocs);
  EXPECT_EQ(page.Value("kv_ops", {{"op", "get"}, {"result", "hit"}}), 1);
  EXPECT_EQ(page.Value("kv_ops", {{"op", "get"}, {"result", "miss"}}), 1);
  EXPECT_EQ(page.types.at("kv_cmd_duration_seconds"), "histogram");
  EXPECT_EQ(page.Value("kv_cmd_duration_seconds_count", {{"opcode", "SET"}}), kDocs);
  EXPECT_EQ(page.Value("kv_cmd_duration_seconds_count", {{"opcode", "GET"}}), 2);
  EXPECT_GE(page.Value("kv_cmd_duration_seconds_count", {{"opcode", "DCP_STREAM_REQ"}}).value_or(0),
            vbuckets());
  EXPECT_EQ(page.Value("kv_dcp_count", {{"type", "producer"}}), 1);
  EXPECT_EQ(page.Value("kv_dcp_stream_count", {{"for", "producer"}}), vbuckets());
  EXPECT_GE(page.Value("kv_dcp_items_sent", bucket).value_or(0), kDocs);
  EXPECT_GT(page.Value("kv_dcp_total_data_size_bytes", bucket).value_or(0), 0);
  EXPECT_TRUE(page.Value("kv_dcp_num_running_backfills", bucket).has_value());
  EXPECT_GT(page.Value("kv_dcp_max_running_backfills", bucket).value_or(0), 0);
  EXPECT_TRUE(page.Value("kv_dcp_backfill_buffer_bytes", bucket).has_value());
  EXPECT_GE(page.Value("kv_curr_connections").value_or(0), 2);
  EXPECT_GT(page.Value("kv_written_bytes").value_or(0), 0);

  // / leads to the console (its own test drives it in a browser); any other path is 404.
  httplib::Client http(server().host(), port);
  auto root = http.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/console");
  auto state = http.Get("/console/state.json");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, 200);
  EXPECT_NE(state->body.find("\"vBucketServerMap\""), std::string::npos);
  auto other = http.Get("/nothing-here");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

class MetricsOffTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = SluicedTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--metrics-port", "0"});
    return o;
  }
};

// Two nodes on one machine given the same metrics port: the second cannot take it (no
// SO_REUSEPORT: the kernel would otherwise spread the scrapes over both processes), says so and
// serves the memcached port without /metrics.
TEST_F(MetricsTest, ASecondServerCannotShareTheMetricsPort) {
  const uint16_t taken = MetricsPort();
  ASSERT_NE(taken, 0);
  ServerProcess second({.extra_args = {"--metrics-port", std::to_string(taken)}});
  ASSERT_TRUE(second.Start()) << second.error();
  EXPECT_TRUE(PollUntil([&] {
    return second.Log().find("metrics: cannot listen") != std::string::npos;
  })) << second.Log();
  EXPECT_EQ(second.Log().find("sluiced metrics on"), std::string::npos) << second.Log();
  EXPECT_FALSE(Scrape(taken).empty());  // the first one still answers
}

TEST_F(MetricsOffTest, MetricsPortZeroServesNothing) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  EXPECT_EQ(server().Log().find("sluiced metrics on"), std::string::npos) << server().Log();
}

}  // namespace
}  // namespace sluice::testing
