// File: tools/load_generator.cc
#include "tools/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

#include "protocol/encode.h"
#include "protocol/frame.h"
#include "protocol/opcode.h"

namespace sluice::tools {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::McbpStatus;
using protocol::Opcode;

// splitmix64: tiny, fast and good enough to pick keys and operations.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is far below anything measurable here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// SETs happen when Next() < threshold; set_ratio 1 is handled by `all_sets`.
struct SetChance {
  explicit SetChance(double ratio)
      : all_sets(ratio >= 1.0),
        // ratio < 1 is at most 1 - 2^-53, so ratio * 2^64 fits in 64 bits.
        threshold(ratio <= 0.0 || ratio >= 1.0 ? 0 : static_cast<uint64_t>(std::ldexp(ratio, 64))) {
  }
  bool Roll(Random& random) const { return all_sets || random.Next() < threshold; }

  bool all_sets;
  uint64_t threshold;
};

size_t DecimalDigits(uint64_t n) {
  size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

uint64_t Nanos(Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Writes the current steady-clock time into the first 8 bytes of `value` (see the header).
void StampValue(std::string& value) {
  const auto now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
  std::memcpy(value.data(), &now, sizeof(now));
}

std::string MakeValue(uint32_t size) {
  std::string value(size, '\0');
  for (uint32_t i = 0; i < size; ++i) value[i] = static_cast<char>('a' + i % 26);
  return value;
}

std::string MakeFraming(const std::optional<protocol::DurabilityRequirement>& durability) {
  std::string framing;
  if (durability) protocol::AppendDurabilityFrameInfo(&framing, *durability);
  return framing;
}

}  // namespace

Status ValidateLoadOptions(const LoadOptions& options) {
  if (options.keys == 0) return Status(Errc::kInvalid, "--keys must be at least 1");
  if (!(options.set_ratio >= 0.0 && options.set_ratio <= 1.0)) {
    return Status(Errc::kInvalid, "--set-ratio must be between 0 and 1");
  }
  if (options.ops.has_value() == options.duration_seconds.has_value()) {
    return Status(Errc::kInvalid, "give exactly one of --ops and --duration");
  }
  if (options.ops && *options.ops == 0) return Status(Errc::kInvalid, "--ops must be at least 1");
  if (options.ops && *options.ops > static_cast<uint64_t>(INT64_MAX)) {
    return Status(Errc::kInvalid, "--ops is too large");
  }
  if (options.duration_seconds && !(*options.duration_seconds > 0.0)) {
    return Status(Errc::kInvalid, "--duration must be positive");
  }
  if (options.connections == 0) return Status(Errc::kInvalid, "--connections must be at least 1");
  if (options.pipeline == 0) return Status(Errc::kInvalid, "--pipeline must be at least 1");
  if (options.rate && !(*options.rate > 0.0)) {
    return Status(Errc::kInvalid, "--rate must be positive");
  }
  if (options.timestamp_values && options.value_size < sizeof(uint64_t)) {
    return Status(Errc::kInvalid, "--timestamp-values needs --value-size of at least 8");
  }
  if (options.key_prefix.size() + DecimalDigits(options.keys - 1) > 250) {
    return Status(Errc::kInvalid, "--key-prefix is too long (keys are at most 250 bytes)");
  }
  return Status::Ok();
}

std::optional<protocol::DurabilityLevel> ParseDurabilityLevel(std::string_view name) {
  for (const protocol::DurabilityLevel level :
       {protocol::DurabilityLevel::kMajority,
        protocol::DurabilityLevel::kMajorityAndPersistOnMaster,
        protocol::DurabilityLevel::kPersistToMajority}) {
    if (name == protocol::DurabilityLevelName(level)) return level;
  }
  return std::nullopt;
}

// ---- KeySpace ----

KeySpace::KeySpace(std::string_view prefix, uint64_t count, uint32_t num_vbuckets)
    : count_(count), stride_(prefix.size() + DecimalDigits(count == 0 ? 0 : count - 1)) {
  keys_.reserve(count_ * stride_);
  vbuckets_.reserve(count_);
  const size_t digits = stride_ - prefix.size();
  for (uint64_t i = 0; i < count_; ++i) {
    const size_t start = keys_.size();
    keys_.append(prefix);
    fmt::format_to(std::back_inserter(keys_), "{:0{}}", i, digits);
    const std::string_view key(keys_.data() + start, stride_);
    vbuckets_.push_back(num_vbuckets == 0 ? 0 : VBucketForKey(key, num_vbuckets));
  }
}

// ---- LoadGenerator ----

struct LoadGenerator::Worker {
  Worker(std::unique_ptr<client::Connection> c, uint64_t seed, uint32_t pipeline)
      : conn(std::move(c)), random(seed), opaques(pipeline), is_set(pipeline) {}

  std::unique_ptr<client::Connection> conn;
  // --timestamp-values: this worker's copy of the value, stamped before each batch.
  std::string stamped_value;
  Random random;
  LoadResult result;  // this worker's share
  Status status;      // a transport failure stops the worker
  // The batch in flight: each request's opaque and kind, in send order.
  std::vector<uint32_t> opaques;
  std::vector<uint8_t> is_set;
};

LoadGenerator::LoadGenerator(LoadOptions options, uint32_t num_vbuckets,
                             std::vector<std::unique_ptr<client::Connection>> connections)
    : options_(std::move(options)),
      keys_(options_.key_prefix, options_.keys,
            options_.vbucket_mode == VBucketMode::kCrc ? num_vbuckets : 0),
      value_(MakeValue(options_.value_size)),
      framing_(MakeFraming(options_.durability)) {
  for (size_t i = 0; i < connections.size(); ++i) {
    // Distinct, reproducible streams per connection.
    const uint64_t seed = options_.seed * 0x100000001b3ULL + i;
    workers_.push_back(std::make_unique<Worker>(std::move(connections[i]), seed,
                                                std::max<uint32_t>(options_.pipeline, 1)));
    if (options_.timestamp_values) workers_.back()->stamped_value = value_;
  }
}

LoadGenerator::~LoadGenerator() = default;

template <class Fn>
double LoadGenerator::RunWorkers(Fn&& fn) {
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads.emplace_back([this, &fn, i] { fn(*workers_[i], i); });
  }
  for (std::thread& t : threads) t.join();
  return Seconds(Clock::now() - start);
}

void LoadGenerator::Populate(Worker& w, uint64_t begin, uint64_t end) {
  char extras[8] = {};  // flags 0, expiry 0
  protocol::RequestFields set;
  set.opcode = Opcode::kSet;
  set.extras = std::string_view(extras, sizeof(extras));
  set.framing_extras = framing_;
  const bool stamp = options_.timestamp_values;
  set.value = stamp ? std::string_view(w.stamped_value) : std::string_view(value_);
  const uint64_t pipeline = options_.pipeline;
  // Keys the server refused for now (Etmpfail/Enomem), written again after a pause.
  std::vector<uint64_t> refused;
  std::vector<uint64_t> batch;
  batch.reserve(pipeline);
  auto pause = std::chrono::milliseconds(1);
  for (uint64_t next = begin; next < end || !refused.empty();) {
    batch.clear();
    if (!refused.empty()) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(100));
      const size_t take = std::min<size_t>(pipeline, refused.size());
      batch.assign(refused.end() - static_cast<std::ptrdiff_t>(take), refused.end());
      refused.resize(refused.size() - take);
    } else {
      const uint64_t n = std::min(pipeline, end - next);
      for (uint64_t i = 0; i < n; ++i) batch.push_back(next + i);
      next += n;
    }
    if (stamp) StampValue(w.stamped_value);
    for (uint64_t key : batch) {
      set.key = keys_.Key(key);
      set.vbucket = keys_.VBucket(key);
      w.conn->Enqueue(set);
    }
    w.status = w.conn->Flush();
    if (!w.status.ok()) return;
    size_t answered = 0;
    bool any_refused = false;
    w.status = w.conn->ReadResponses(batch.size(), [&](const protocol::Frame& frame) {
      const uint64_t key = batch[answered++];  // answers come in request order
      const McbpStatus status = frame.status();
      if (status == McbpStatus::kSuccess) {
        ++w.result.populated;
      } else if (status == McbpStatus::kEtmpfail || status == McbpStatus::kEnomem) {
        ++w.result.populate_retries;
        refused.push_back(key);
        any_refused = true;
      } else {
        ++w.result.populate_errors;
        if (!w.result.first_error) w.result.first_error = status;
      }
    });
    if (!w.status.ok()) return;
    if (!any_refused) pause = std::chrono::milliseconds(1);
  }
}

void LoadGenerator::Measure(Worker& w, size_t index) {
  char extras[8] = {};  // flags 0, expiry 0
  protocol::RequestFields get;
  get.opcode = Opcode::kGet;
  protocol::RequestFields set;
  set.opcode = Opcode::kSet;
  set.extras = std::string_view(extras, sizeof(extras));
  set.framing_extras = framing_;
  const bool stamp = options_.timestamp_values;
  set.value = stamp ? std::string_view(w.stamped_value) : std::string_view(value_);

  const SetChance set_chance(options_.set_ratio);
  const uint64_t pipeline = options_.pipeline;
  const bool by_ops = options_.ops.has_value();
  LoadResult& r = w.result;

  // --rate: this worker's batches are `interval` apart, offset by its share of one interval.
  const bool paced = options_.rate.has_value();
  Clock::duration interval{};
  Clock::time_point next_batch = measure_start_;
  if (paced) {
    const double seconds =
        static_cast<double>(pipeline) * static_cast<double>(workers_.size()) / *options_.rate;
    interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    next_batch += interval * static_cast<int64_t>(index) / static_cast<int64_t>(workers_.size());
  }
  while (true) {
    uint64_t batch = pipeline;
    if (by_ops) {
      const int64_t before =
          unclaimed_ops_.fetch_sub(static_cast<int64_t>(pipeline), std::memory_order_relaxed);
      if (before <= 0) break;
      batch = std::min<uint64_t>(pipeline, static_cast<uint64_t>(before));
    } else if (Clock::now() >= deadline_) {
      break;
    }
    if (paced) {
      if (Clock::now() < next_batch) std::this_thread::sleep_until(next_batch);
      next_batch += interval;
      if (!by_ops && Clock::now() >= deadline_) break;
    }
    if (stamp) StampValue(w.stamped_value);

    for (uint64_t i = 0; i < batch; ++i) {
      const uint64_t k = w.random.Below(keys_.size());
      const bool is_set = set_chance.Roll(w.random);
      protocol::RequestFields& request = is_set ? set : get;
      request.key = keys_.Key(k);
      request.vbucket = keys_.VBucket(k);
      w.opaques[i] = w.conn->Enqueue(request);
      w.is_set[i] = is_set;
    }

    const Clock::time_point sent = Clock::now();
    w.status = w.conn->Flush();
    if (!w.status.ok()) return;
    uint64_t i = 0;
    bool out_of_order = false;
    w.status = w.conn->ReadResponses(batch, [&](const protocol::Frame& frame) {
      r.latency_ns.Record(Nanos(Clock::now() - sent));
      if (frame.opaque != w.opaques[i]) out_of_order = true;
      const McbpStatus status = frame.status();
      if (w.is_set[i]) {
        ++r.sets;
      } else {
        ++r.gets;
      }
      if (status != McbpStatus::kSuccess) {
        if (!w.is_set[i] && status == McbpStatus::kKeyEnoent) {
          ++r.misses;
        } else {
          ++r.errors;
          if (!r.first_error) r.first_error = status;
        }
      }
      ++i;
    });
    if (!w.status.ok()) return;
    r.ops += batch;
    if (out_of_order) {
      w.status = Status(Errc::kInternal, "responses arrived out of order (opaque mismatch)");
      return;
    }
  }
}

StatusOr<LoadResult> LoadGenerator::Run() {
  LoadResult total;
  auto first_failure = [this]() -> Status {
    for (size_t i = 0; i < workers_.size(); ++i) {
      const Status& s = workers_[i]->status;
      if (!s.ok()) {
        return Status(s.code(), fmt::format("connection {}: {}", i + 1,
                                            s.message().empty() ? s.ToString() : s.message()));
      }
    }
    return Status::Ok();
  };

  if (options_.populate) {
    const uint64_t n = keys_.size();
    const uint64_t c = workers_.size();
    total.populate_seconds = RunWorkers([this, n, c](Worker& w, size_t i) {
      // 128-bit products: n * (i + 1) may not fit 64 bits for absurd --keys values.
      const auto share = [n, c](uint64_t j) {
        return static_cast<uint64_t>(static_cast<unsigned __int128>(n) * j / c);
      };
      Populate(w, share(i), share(i + 1));
    });
    RETURN_IF_ERROR(first_failure());
  }

  if (options_.ops) unclaimed_ops_.store(static_cast<int64_t>(*options_.ops));
  measure_start_ = Clock::now();
  if (options_.duration_seconds) {
    deadline_ = measure_start_ + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(*options_.duration_seconds));
  }
  total.seconds = RunWorkers([this](Worker& w, size_t i) { Measure(w, i); });
  RETURN_IF_ERROR(first_failure());

  for (const auto& w : workers_) {
    const LoadResult& r = w->result;
    total.ops += r.ops;
    total.gets += r.gets;
    total.sets += r.sets;
    total.misses += r.misses;
    total.errors += r.errors;
    total.populated += r.populated;
    total.populate_errors += r.populate_errors;
    total.populate_retries += r.populate_retries;
    if (!total.first_error) total.first_error = r.first_error;
    total.latency_ns.Merge(r.latency_ns);
  }
  return total;
}

}  // namespace sluice::tools
