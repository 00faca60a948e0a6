#include "cluster/etcd_transport.h"

#include <httplib.h>

#include <charconv>
#include <string>
#include <utility>

namespace sluice::cluster {
namespace {

StatusOr<EtcdEndpoint> ParseEndpoint(std::string_view text) {
  if (text.rfind("https://", 0) == 0) {
    return Status(Errc::kInvalid, "etcd endpoint '" + std::string(text) + "': TLS not supported");
  }
  if (text.rfind("http://", 0) == 0) text.remove_prefix(7);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  const size_t colon = text.rfind(':');
  EtcdEndpoint endpoint;
  int port = 0;
  if (colon != std::string_view::npos && colon > 0) {
    const std::string_view digits = text.substr(colon + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) port = 0;
    endpoint.host = std::string(text.substr(0, colon));
  }
  if (port <= 0 || port > 65535) {
    return Status(Errc::kInvalid, "etcd endpoint '" + std::string(text) + "': want host:port");
  }
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

// The message for a request that got no HTTP answer.
std::string NoAnswer(const EtcdEndpoint& endpoint, std::string_view path, httplib::Error error) {
  const char* what = error == httplib::Error::Read    ? "no answer in time or connection lost"
                     : error == httplib::Error::Write ? "could not send the request"
                                                      : "request failed";
  return "etcd " + endpoint.ToString() + std::string(path) + ": " + what + " (" +
         httplib::to_string(error) + ")";
}

// One POST's outcome. The body is collected through a content receiver rather than read into
// httplib's Response: etcd's gateway ends an error answer (HTTP 4xx/5xx, chunked) with an HTTP
// trailer ("Grpc-Trailer-Content-Type"), which Debian's cpp-httplib 0.11 cannot parse — it
// reports Error::Read after the whole body has arrived. A complete JSON body with a status is
// therefore an answer even when httplib reports a read error (the connection is then not reused).
struct Exchange {
  httplib::Error error = httplib::Error::Unknown;
  int status = 0;  // 0: no status line arrived
  std::string body;
  bool complete = false;  // the answer is usable (see above)
};

Exchange Post(httplib::Client& client, const std::string& path, const std::string& body) {
  Exchange out;
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.body = body;
  request.set_header("Content-Type", "application/json");
  request.response_handler = [&out](const httplib::Response& res) {
    out.status = res.status;
    return true;
  };
  request.content_receiver = [&out](const char* data, size_t size, uint64_t, uint64_t) {
    out.body.append(data, size);
    return true;
  };
  out.error = client.send(request).error();
  out.complete = out.error == httplib::Error::Success ||
                 (out.error == httplib::Error::Read && out.status != 0 && !out.body.empty() &&
                  codec::ParseBody(out.body).ok());
  return out;
}

StatusOr<codec::Json> DecodeAnswer(const Exchange& answer, const EtcdEndpoint& endpoint,
                                   std::string_view path) {
  auto body = codec::ParseBody(answer.body);
  if (body.ok()) {
    RETURN_IF_ERROR(codec::ErrorInBody(*body));
    // Streaming calls (lease keepalive) wrap each message in {"result": ...}.
    if (const auto it = body->find("result"); it != body->end() && it->is_object()) {
      return codec::Json(*it);
    }
  }
  if (answer.status != 200) {
    return Status(Errc::kIoError, "etcd " + endpoint.ToString() + std::string(path) + ": HTTP " +
                                      std::to_string(answer.status) + " '" +
                                      answer.body.substr(0, 120) + "'");
  }
  return body;
}

}  // namespace

std::string EtcdEndpoint::ToString() const { return host + ":" + std::to_string(port); }

StatusOr<std::vector<EtcdEndpoint>> ParseEndpoints(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) return Status(Errc::kInvalid, "no etcd endpoint given");
  std::vector<EtcdEndpoint> out;
  for (const auto& text : endpoints) {
    ASSIGN_OR_RETURN(auto endpoint, ParseEndpoint(text));
    out.push_back(std::move(endpoint));
  }
  return out;
}

StatusOr<std::unique_ptr<EtcdTransport>> EtcdTransport::Create(EtcdOptions options) {
  ASSIGN_OR_RETURN(auto endpoints, ParseEndpoints(options.endpoints));
  return std::unique_ptr<EtcdTransport>(
      new EtcdTransport(std::move(options), std::move(endpoints)));
}

EtcdTransport::EtcdTransport(EtcdOptions options, std::vector<EtcdEndpoint> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {
  MutexLock lock(&mu_);
  idle_.resize(endpoints_.size());
}

EtcdTransport::~EtcdTransport() = default;

EtcdEndpoint EtcdTransport::current_endpoint() const {
  MutexLock lock(&mu_);
  return endpoints_[current_];
}

std::unique_ptr<httplib::Client> EtcdTransport::Take(size_t index) {
  {
    MutexLock lock(&mu_);
    auto& idle = idle_[index];
    if (!idle.empty()) {
      auto client = std::move(idle.back());
      idle.pop_back();
      return client;
    }
  }
  const auto& endpoint = endpoints_[index];
  auto client = std::make_unique<httplib::Client>(endpoint.host, endpoint.port);
  client->set_keep_alive(true);
  client->set_connection_timeout(options_.connect_timeout);
  client->set_write_timeout(options_.request_timeout);
  return client;
}

void EtcdTransport::Give(size_t index, std::unique_ptr<httplib::Client> client) {
  MutexLock lock(&mu_);
  if (idle_[index].size() < kMaxIdle) idle_[index].push_back(std::move(client));
}

StatusOr<codec::Json> EtcdTransport::Call(std::string_view path, const codec::Json& request,
                                          std::chrono::milliseconds timeout) {
  const std::string body = request.dump();
  const std::string target(path);
  size_t index;
  {
    MutexLock lock(&mu_);
    index = current_;
  }
  std::string refused;  // endpoints whose connection failed, for the message
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    auto client = Take(index);
    client->set_read_timeout(timeout.count() > 0 ? timeout : options_.request_timeout);
    const Exchange exchange = Post(*client, target, body);
    const EtcdEndpoint& endpoint = endpoints_[index];
    if (exchange.complete) {
      {
        MutexLock lock(&mu_);
        current_ = index;
      }
      if (exchange.error == httplib::Error::Success) Give(index, std::move(client));
      return DecodeAnswer(exchange, endpoint, path);
    }
    if (exchange.error != httplib::Error::Connection) {
      return Status(Errc::kTempFail, NoAnswer(endpoint, path, exchange.error));
    }
    refused += (refused.empty() ? "" : ", ") + endpoint.ToString();
    index = (index + 1) % endpoints_.size();
  }
  return Status(Errc::kTempFail, "etcd unreachable (no connection to " + refused + ")");
}

}  // namespace sluice::cluster
