#include "cluster/node_state.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

Status Errno(std::string_view what, const std::string& path) {
  return Status(Errc::kIoError, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Writes all of `data` to fd.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Status SyncDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync", dir);
  return Status::Ok();
}

}  // namespace

StatusOr<NodeState> ReadNodeState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return NodeState{};
    return Status(Errc::kIoError, "cannot read " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  const Json doc = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto corrupt = [&](std::string_view why) {
    return Status(Errc::kCorruption, fmt::format("{}: {}", path, why));
  };
  if (!doc.is_object()) return corrupt("not a JSON object");
  NodeState state;
  auto rev = doc.find("config_rev");
  if (rev == doc.end() || !rev->is_number_integer() || rev->get<int64_t>() < 0) {
    return corrupt("\"config_rev\" must be a non-negative integer");
  }
  state.config_rev = rev->get<int64_t>();
  auto map = doc.find("cluster_map");
  if (map != doc.end()) {
    const std::string hex = map->is_string() ? map->get<std::string>() : std::string();
    uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
    if (hex.size() != 16 || ec != std::errc() || ptr != hex.data() + hex.size()) {
      return corrupt("\"cluster_map\" must be 16 hex digits");
    }
    state.cluster_map = value;
  }
  return state;
}

Status WriteNodeState(const std::string& path, const NodeState& state, bool sync) {
  Json doc = {{"config_rev", state.config_rev}};
  if (state.cluster_map) doc["cluster_map"] = fmt::format("{:016x}", *state.cluster_map);
  const std::string text = doc.dump() + "\n";
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  bool ok = WriteAll(fd, text);
  if (ok && sync) ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    errno = saved;
    return Errno("cannot write", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  return sync ? SyncDirectory(path) : Status::Ok();
}

}  // namespace sluice::cluster
