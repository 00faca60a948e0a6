#include "cluster/watch_stream.h"

#include <httplib.h>

#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include "cluster/etcd_codec.h"
#include "cluster/etcd_messages.h"

namespace sluice::cluster {
namespace {

using codec::Json;

Json EncodeWatch(const WatchOptions& options) {
  Json create = Json::object();
  codec::SetKeyRange(create, options.key, options.prefix);
  if (options.start_revision != 0)
    create["start_revision"] = std::to_string(options.start_revision);
  if (options.prev_kv) create["prev_kv"] = true;
  return Json{{"create_request", std::move(create)}};
}

WatchEnd Broken(Status status, int64_t next_revision) {
  return WatchEnd{.reason = WatchEnd::Reason::kBroken,
                  .status = std::move(status),
                  .next_revision = next_revision};
}

}  // namespace

// Splits the stream into lines (one JSON message each) and interprets them.
struct WatchStream::Reader {
  WatchStream* stream;
  const BatchCallback& on_batch;
  int64_t next_revision;
  std::string pending;          // bytes after the last newline
  std::optional<WatchEnd> end;  // set by a message that ends the stream
  bool created = false;

  // Returns false to stop reading (the stream ended, or was cancelled).
  bool Feed(const char* data, size_t size) {
    pending.append(data, size);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string_view line(pending.data() + start, nl - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      if (!Message(line)) return false;
    }
    pending.erase(0, start);
    return !stream->cancelled();
  }

  bool Message(std::string_view line) {
    auto body = codec::ParseBody(line);
    if (!body.ok()) return Stop(Broken(body.status(), next_revision));
    if (Status error = codec::ErrorInBody(*body); !error.ok()) {
      return Stop(Broken(std::move(error), next_revision));
    }
    const auto result = body->find("result");
    if (result == body->end() || !result->is_object()) {
      return Stop(
          Broken(Status(Errc::kIoError, "etcd: a watch message without a result"), next_revision));
    }
    if (codec::BoolField(*result, "canceled")) return Cancelled(*result);
    if (codec::BoolField(*result, "created")) return Created(*result);
    const auto events = result->find("events");
    if (events == result->end() || !events->is_array() || events->empty()) return true;
    WatchBatch batch;
    auto revision = codec::HeaderRevision(*result);
    if (!revision.ok()) return Stop(Broken(revision.status(), next_revision));
    batch.revision = *revision;
    for (const auto& item : *events) {
      auto event = codec::DecodeWatchEvent(item);
      if (!event.ok()) return Stop(Broken(event.status(), next_revision));
      batch.events.push_back(std::move(event).value());
    }
    next_revision = batch.events.back().kv.mod_revision + 1;
    on_batch(batch);
    return true;
  }

  // The watch exists from here on; a watch "from now" starts after the revision it was made at.
  bool Created(const Json& result) {
    created = true;
    auto revision = codec::HeaderRevision(result);
    if (!revision.ok()) return Stop(Broken(revision.status(), next_revision));
    if (next_revision == 0) next_revision = *revision + 1;
    return true;
  }

  // etcd cancelled the watch: compaction, or a reason it states.
  bool Cancelled(const Json& result) {
    const auto compact = codec::Int64Field(result, "compact_revision");
    if (compact.ok() && *compact > 0) {
      return Stop(WatchEnd{.reason = WatchEnd::Reason::kCompacted,
                           .compact_revision = *compact,
                           .next_revision = next_revision});
    }
    std::string reason = "etcd cancelled the watch";
    if (const auto it = result.find("cancel_reason"); it != result.end() && it->is_string()) {
      reason += ": " + it->get<std::string>();
    }
    return Stop(Broken(Status(Errc::kTempFail, reason), next_revision));
  }

  bool Stop(WatchEnd how) {
    end = std::move(how);
    return false;
  }
};

WatchStream::WatchStream(EtcdEndpoint endpoint, const EtcdOptions& options)
    : endpoint_(std::move(endpoint)), options_(options) {}

WatchStream::~WatchStream() = default;

bool WatchStream::cancelled() const {
  MutexLock lock(&mu_);
  return cancelled_;
}

WatchEnd WatchStream::Run(const WatchOptions& options, const BatchCallback& on_batch) {
  std::shared_ptr<httplib::Client> client;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return WatchEnd{.next_revision = options.start_revision};
    client = std::make_shared<httplib::Client>(endpoint_.host, endpoint_.port);
    client->set_keep_alive(false);
    client->set_connection_timeout(options_.connect_timeout);
    client->set_read_timeout(options_.watch_idle_timeout);
    client->set_write_timeout(options_.request_timeout);
    client_ = client;
    running_ = true;
    run_thread_ = std::this_thread::get_id();
  }
  Reader reader{.stream = this, .on_batch = on_batch, .next_revision = options.start_revision};
  httplib::Request request;
  request.method = "POST";
  request.path = "/v3/watch";
  request.body = EncodeWatch(options).dump();
  request.headers.emplace("Content-Type", "application/json");
  request.content_receiver = [&reader](const char* data, size_t size, uint64_t, uint64_t) {
    return reader.Feed(data, size);
  };
  const auto result = client->send(request);

  WatchEnd end;
  const std::string where = "etcd watch on " + endpoint_.ToString();
  if (reader.end) {
    end = std::move(*reader.end);
  } else if (cancelled()) {
    end = WatchEnd{.next_revision = reader.next_revision};
  } else if (!result) {
    const bool connect = result.error() == httplib::Error::Connection;
    end = Broken(Status(Errc::kTempFail,
                        where + (connect ? ": could not connect" : ": connection lost or idle (") +
                            (connect ? "" : httplib::to_string(result.error()) + ")")),
                 reader.next_revision);
  } else {
    end = Broken(Status(Errc::kTempFail,
                        where + ": stream ended (HTTP " + std::to_string(result->status) + ")"),
                 reader.next_revision);
  }
  end.created = reader.created;
  MutexLock lock(&mu_);
  running_ = false;
  client_.reset();
  done_cv_.SignalAll();
  return end;
}

void WatchStream::Cancel() {
  std::shared_ptr<httplib::Client> client;
  {
    MutexLock lock(&mu_);
    cancelled_ = true;
    if (!running_ || run_thread_ == std::this_thread::get_id()) return;
    client = client_;
  }
  // stop() shuts the socket of a request in flight; a request still connecting has no socket to
  // shut yet (its content receiver then sees `cancelled_` on the first message, or the next
  // stop() catches it), hence the repetition until Run() reports it is over.
  while (true) {
    client->stop();
    MutexLock lock(&mu_);
    if (!running_) return;
    done_cv_.WaitFor(&mu_, std::chrono::milliseconds(20));
    if (!running_) return;
  }
}

}  // namespace sluice::cluster
