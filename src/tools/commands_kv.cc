// File: tools/commands_kv.cc
//
// get / set / rm / touch: one request each, through client::Connection's KV helpers.
#include <fmt/format.h>

#include <variant>

#include "tools/commands.h"
#include "tools/session.h"

namespace sluice::tools {
namespace {

using client::KvResult;

// A session plus the vbucket the key goes to.
struct KvTarget {
  std::unique_ptr<client::Connection> conn;
  client::KeyOptions route;
};

std::variant<KvTarget, Failure> OpenKvTarget(const CommandLine& cmd) {
  auto session = OpenSession(cmd.connection);
  if (auto* failure = std::get_if<Failure>(&session)) return std::move(*failure);
  KvTarget target{std::move(std::get<std::unique_ptr<client::Connection>>(session)), {}};
  if (cmd.vbucket) {
    target.route.vbucket = *cmd.vbucket;
    return target;
  }
  auto count = FetchVBucketCount(*target.conn);
  if (auto* failure = std::get_if<Failure>(&count)) return std::move(*failure);
  const std::optional<uint32_t> vbuckets = std::get<std::optional<uint32_t>>(count);
  target.route.vbucket = vbuckets ? VBucketForKey(cmd.key, *vbuckets) : Vbid{0};
  return target;
}

// Runs `op` on a fresh target; reports transport and server failures; on success calls
// done(result) and returns 0.
template <class Op, class Done>
int RunKv(const CommandLine& cmd, Output& out, std::string_view name, Op&& op, Done&& done) {
  auto opened = OpenKvTarget(cmd);
  if (auto* failure = std::get_if<Failure>(&opened)) return out.Fail(*failure);
  KvTarget& target = std::get<KvTarget>(opened);
  StatusOr<KvResult> result = op(*target.conn, target.route);
  if (!result.ok()) return out.Fail(FailureFromStatus(result.status(), target.conn.get()));
  if (!result->ok()) {
    Failure failure = FailureFromKv(*result, name, cmd.key);
    if (failure.code == ExitCode::kAuth && cmd.connection.no_auth) {
      failure.message += " (the server requires authentication: drop --no-auth)";
    }
    return out.Fail(failure);
  }
  done(*result);
  return ToInt(ExitCode::kOk);
}

// "vbucket 3, cas 0x..., seqno 7" and the same fields into `json`.
std::string DescribeMutation(const KvResult& r, nlohmann::json* json) {
  (*json)["vbucket"] = r.vbucket;
  (*json)["cas"] = r.cas;
  std::string text = fmt::format("vbucket {}, cas {:#x}", r.vbucket, r.cas);
  if (r.token) {
    (*json)["seqno"] = r.token->seqno;
    (*json)["vbucket_uuid"] = r.token->vbucket_uuid;
    text += fmt::format(", seqno {}", r.token->seqno);
  }
  return text;
}

}  // namespace

int RunGet(const CommandLine& cmd, Output& out) {
  return RunKv(
      cmd, out, "get",
      [&](client::Connection& conn, const client::KeyOptions& route) {
        return conn.Get(cmd.key, route);
      },
      [&](const KvResult& r) {
        if (out.json()) {
          out.Json({{"key", cmd.key},
                    {"value", r.value},
                    {"flags", r.flags},
                    {"cas", r.cas},
                    {"datatype", r.datatype},
                    {"vbucket", r.vbucket}});
        } else {
          out.Text(r.value);
          out.Text("\n");
        }
      });
}

int RunSet(const CommandLine& cmd, Output& out) {
  return RunKv(
      cmd, out, "set",
      [&](client::Connection& conn, const client::KeyOptions& route) {
        client::MutationOptions options;
        options.flags = cmd.flags;
        options.expiry = cmd.expiry.value_or(0);
        options.route = route;
        return conn.Set(cmd.key, cmd.value, options);
      },
      [&](const KvResult& r) {
        nlohmann::json json = {{"key", cmd.key}};
        const std::string text = DescribeMutation(r, &json);
        if (out.json()) {
          out.Json(json);
        } else {
          out.Text(fmt::format("stored {} ({})\n", cmd.key, text));
        }
      });
}

int RunRm(const CommandLine& cmd, Output& out) {
  return RunKv(
      cmd, out, "rm",
      [&](client::Connection& conn, const client::KeyOptions& route) {
        client::MutationOptions options;
        options.route = route;
        return conn.Delete(cmd.key, options);
      },
      [&](const KvResult& r) {
        nlohmann::json json = {{"key", cmd.key}};
        const std::string text = DescribeMutation(r, &json);
        if (out.json()) {
          out.Json(json);
        } else {
          out.Text(fmt::format("deleted {} ({})\n", cmd.key, text));
        }
      });
}

int RunTouch(const CommandLine& cmd, Output& out) {
  const uint32_t expiry = cmd.expiry.value_or(0);
  return RunKv(
      cmd, out, "touch",
      [&](client::Connection& conn, const client::KeyOptions& route) {
        return conn.Touch(cmd.key, expiry, route);
      },
      [&](const KvResult& r) {
        if (out.json()) {
          out.Json({{"key", cmd.key}, {"vbucket", r.vbucket}, {"cas", r.cas}, {"expiry", expiry}});
        } else {
          out.Text(fmt::format("touched {} (vbucket {}, cas {:#x}, expiry {})\n", cmd.key,
                               r.vbucket, r.cas, expiry));
        }
      });
}

}  // namespace sluice::tools
