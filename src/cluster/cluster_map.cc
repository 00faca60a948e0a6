#include "cluster/cluster_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cluster/vbucket_layout.h"

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Status CheckKeys(const Json& object, std::initializer_list<std::string_view> known,
                 std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::Invalid(fmt::format("{}: unknown key \"{}\"", where, key));
    }
  }
  return Status::Ok();
}

StatusOr<ClusterNode> ParseNode(const Json& j, size_t index) {
  const std::string where = fmt::format("nodes[{}]", index);
  if (!j.is_object()) return Status::Invalid(where + " must be an object, found " + Dump(j));
  RETURN_IF_ERROR(CheckKeys(j, {"id", "host", "port"}, where));
  ClusterNode node;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return Status::Invalid(where + ": \"id\" must be a non-empty string");
  }
  node.id = id->get<std::string>();
  auto host = j.find("host");
  if (host == j.end() || !host->is_string() || host->get<std::string>().empty()) {
    return Status::Invalid(where + ": \"host\" must be a non-empty string");
  }
  node.host = host->get<std::string>();
  auto port = j.find("port");
  if (port == j.end() || !port->is_number_integer() || port->get<int64_t>() < 1 ||
      port->get<int64_t>() > 65535) {
    return Status::Invalid(where + ": \"port\" must be an integer from 1 to 65535");
  }
  node.port = static_cast<uint16_t>(port->get<int64_t>());
  return node;
}

StatusOr<std::vector<ClusterNode>> ParseNodes(const Json& doc) {
  auto nodes = doc.find("nodes");
  if (nodes == doc.end() || !nodes->is_array() || nodes->empty()) {
    return Status::Invalid("\"nodes\" must be a non-empty array");
  }
  std::vector<ClusterNode> out;
  std::set<std::string> ids;
  std::set<std::pair<std::string, uint16_t>> addresses;
  for (size_t i = 0; i < nodes->size(); ++i) {
    ASSIGN_OR_RETURN(ClusterNode node, ParseNode((*nodes)[i], i));
    if (!ids.insert(node.id).second) {
      return Status::Invalid(fmt::format("nodes[{}]: id \"{}\" is listed twice", i, node.id));
    }
    if (!addresses.insert({node.host, node.port}).second) {
      return Status::Invalid(
          fmt::format("nodes[{}]: {}:{} is listed twice", i, node.host, node.port));
    }
    out.push_back(std::move(node));
  }
  return out;
}

StatusOr<size_t> ParseNumReplicas(const Json& doc) {
  auto n = doc.find("num_replicas");
  if (n == doc.end() || !n->is_number_integer() || n->get<int64_t>() < 0 ||
      n->get<int64_t>() > static_cast<int64_t>(ClusterMap::kMaxReplicas)) {
    return Status::Invalid("\"num_replicas\" must be an integer from 0 to 3");
  }
  return static_cast<size_t>(n->get<int64_t>());
}

StatusOr<TopologyChain> ParseChain(const Json& j, size_t vb, size_t num_replicas,
                                   const std::set<std::string>& ids) {
  const std::string where = fmt::format("vbucket_map[{}]", vb);
  if (!j.is_array() || j.size() != num_replicas + 1) {
    return Status::Invalid(
        fmt::format("{} must be an array of {} (num_replicas + 1) node ids, found {}", where,
                    num_replicas + 1, Dump(j)));
  }
  TopologyChain chain;
  std::set<std::string> seen;
  for (size_t i = 0; i < j.size(); ++i) {
    if (j[i].is_null() && i > 0) {
      chain.emplace_back(std::nullopt);
      continue;
    }
    if (!j[i].is_string()) {
      return Status::Invalid(fmt::format("{}[{}] must be a node id{}, found {}", where, i,
                                         i == 0 ? " (the active)" : " or null", Dump(j[i])));
    }
    const std::string id = j[i].get<std::string>();
    if (ids.count(id) == 0) {
      return Status::Invalid(fmt::format("{}[{}]: \"{}\" is not in \"nodes\"", where, i, id));
    }
    if (!seen.insert(id).second) {
      return Status::Invalid(fmt::format("{}: \"{}\" appears twice in the chain", where, id));
    }
    chain.emplace_back(id);
  }
  return chain;
}

constexpr std::string_view kPhaseNames[] = {"backfill", "takeover"};

StatusOr<std::pair<Vbid, VbucketMove>> ParseMove(const Json& j, size_t index, size_t num_vbuckets,
                                                 size_t num_replicas,
                                                 const std::set<std::string>& ids) {
  const std::string where = fmt::format("moves[{}]", index);
  if (!j.is_object()) return Status::Invalid(where + " must be an object, found " + Dump(j));
  RETURN_IF_ERROR(CheckKeys(j, {"vbucket", "to", "phase"}, where));
  auto vb = j.find("vbucket");
  if (vb == j.end() || !vb->is_number_integer() || vb->get<int64_t>() < 0 ||
      vb->get<int64_t>() >= static_cast<int64_t>(num_vbuckets)) {
    return Status::Invalid(
        fmt::format("{}: \"vbucket\" must be an integer from 0 to {}", where, num_vbuckets - 1));
  }
  const auto vbid = static_cast<Vbid>(vb->get<int64_t>());
  auto to = j.find("to");
  if (to == j.end()) return Status::Invalid(where + ": \"to\" is missing");
  VbucketMove move;
  ASSIGN_OR_RETURN(move.to, ParseChain(*to, vbid, num_replicas, ids));
  auto phase = j.find("phase");
  if (phase == j.end() || !phase->is_string()) {
    return Status::Invalid(where + ": \"phase\" must be \"backfill\" or \"takeover\"");
  }
  const std::string name = phase->get<std::string>();
  if (name == kPhaseNames[0]) {
    move.phase = VbucketMove::Phase::kBackfill;
  } else if (name == kPhaseNames[1]) {
    move.phase = VbucketMove::Phase::kTakeover;
  } else {
    return Status::Invalid(where + ": \"phase\" must be \"backfill\" or \"takeover\"");
  }
  return std::make_pair(vbid, std::move(move));
}

// 64-bit FNV-1a, fed with length-prefixed fields so that field boundaries count.
class Fnv64 {
 public:
  void Add(std::string_view bytes) {
    AddNumber(bytes.size());
    for (char c : bytes) Byte(static_cast<uint8_t>(c));
  }
  void AddNumber(uint64_t v) {
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  uint64_t value() const { return h_; }

 private:
  void Byte(uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

StatusOr<ClusterMap> ClusterMap::Parse(std::string_view json, size_t num_vbuckets) {
  const Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Invalid("not valid JSON");
  if (!doc.is_object()) return Status::Invalid("must be a JSON object, found " + Dump(doc));
  RETURN_IF_ERROR(
      CheckKeys(doc, {"nodes", "num_replicas", "vbucket_map", "moves"}, "the cluster map"));
  ClusterMap map;
  ASSIGN_OR_RETURN(map.nodes_, ParseNodes(doc));
  ASSIGN_OR_RETURN(map.num_replicas_, ParseNumReplicas(doc));
  auto vbmap = doc.find("vbucket_map");
  if (vbmap == doc.end() && doc.contains("moves"))
    return Status::Invalid("\"moves\" needs \"vbucket_map\"");
  if (vbmap == doc.end()) {
    std::vector<std::string> ids;
    for (const auto& node : map.nodes_) ids.push_back(node.id);
    map.chains_ = ComputeLayout(ids, map.num_replicas_, num_vbuckets);
    return map;
  }
  if (!vbmap->is_array() || vbmap->size() != num_vbuckets) {
    return Status::Invalid(
        fmt::format("\"vbucket_map\" must be an array of one chain per vbucket ({}), "
                    "found {}",
                    num_vbuckets,
                    vbmap->is_array() ? std::to_string(vbmap->size()) + " chains"
                                      : std::string(vbmap->type_name())));
  }
  std::set<std::string> ids;
  for (const auto& node : map.nodes_) ids.insert(node.id);
  for (size_t vb = 0; vb < vbmap->size(); ++vb) {
    ASSIGN_OR_RETURN(TopologyChain chain, ParseChain((*vbmap)[vb], vb, map.num_replicas_, ids));
    map.chains_.push_back(std::move(chain));
  }
  map.vbucket_map_given_ = true;
  if (auto moves = doc.find("moves"); moves != doc.end()) {
    if (!moves->is_array()) return Status::Invalid("\"moves\" must be an array");
    for (size_t i = 0; i < moves->size(); ++i) {
      ASSIGN_OR_RETURN(auto move, ParseMove((*moves)[i], i, num_vbuckets, map.num_replicas_, ids));
      if (!map.moves_.emplace(move.first, std::move(move.second)).second) {
        return Status::Invalid(fmt::format("moves[{}]: vbucket {} moves twice", i, move.first));
      }
    }
  }
  return map;
}

std::string_view MovePhaseName(VbucketMove::Phase phase) {
  return kPhaseNames[static_cast<size_t>(phase)];
}

StatusOr<ClusterMap> ClusterMap::Load(const std::string& path, size_t num_vbuckets) {
  std::ifstream in(path);
  if (!in) return Status(Errc::kIoError, "cannot read the cluster map " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto map = Parse(text.str(), num_vbuckets);
  if (!map.ok()) {
    return Status(map.status().code(),
                  fmt::format("cluster map {}: {}", path, map.status().message()));
  }
  return map;
}

const ClusterNode* ClusterMap::FindNode(std::string_view id) const {
  for (const auto& node : nodes_) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

std::optional<size_t> ClusterMap::NodeIndex(std::string_view id) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].id == id) return i;
  }
  return std::nullopt;
}

const ClusterNode& ClusterMap::ActiveOf(Vbid vb) const { return *FindNode(*chains_[vb][0]); }

VBucketState ClusterMap::RoleOf(std::string_view id, Vbid vb) const {
  const TopologyChain& chain = chains_[vb];
  for (size_t i = 0; i < chain.size(); ++i) {
    if (chain[i] && *chain[i] == id) return i == 0 ? VBucketState::kActive : VBucketState::kReplica;
  }
  if (const VbucketMove* move = MoveOf(vb)) {
    for (const auto& node : move->to) {
      if (node && *node == id) return VBucketState::kReplica;  // incoming: streams from the active
    }
  }
  return VBucketState::kDead;
}

VBucketTopology ClusterMap::TopologyOf(Vbid vb) const {
  const VbucketMove* move = MoveOf(vb);
  if (move && move->phase == VbucketMove::Phase::kTakeover) {
    return VBucketTopology{{chains_[vb], move->to}};
  }
  return VBucketTopology{{chains_[vb]}};
}

const VbucketMove* ClusterMap::MoveOf(Vbid vb) const {
  auto it = moves_.find(vb);
  return it == moves_.end() ? nullptr : &it->second;
}

bool ClusterMap::InTakeover(std::string_view id, Vbid vb) const {
  const VbucketMove* move = MoveOf(vb);
  return move && move->phase == VbucketMove::Phase::kTakeover && chains_[vb][0] &&
         *chains_[vb][0] == id;
}

std::map<std::string, std::vector<Vbid>> ClusterMap::ReplicaVbucketsBySource(
    std::string_view me) const {
  std::map<std::string, std::vector<Vbid>> out;
  for (size_t vb = 0; vb < chains_.size(); ++vb) {
    if (RoleOf(me, static_cast<Vbid>(vb)) == VBucketState::kReplica) {
      out[*chains_[vb][0]].push_back(static_cast<Vbid>(vb));
    }
  }
  return out;
}

uint64_t ClusterMap::Fingerprint() const {
  Fnv64 h;
  h.AddNumber(nodes_.size());
  for (const auto& node : nodes_) {
    h.Add(node.id);
    h.Add(node.host);
    h.AddNumber(node.port);
  }
  h.AddNumber(num_replicas_);
  h.AddNumber(chains_.size());
  for (const auto& chain : chains_) {
    h.AddNumber(chain.size());
    for (const auto& node : chain) {
      h.AddNumber(node ? 1 : 0);
      if (node) h.Add(*node);
    }
  }
  // A map without moves keeps the fingerprint it had before moves existed (node-state files).
  for (const auto& [vb, move] : moves_) {
    h.AddNumber(vb);
    h.AddNumber(static_cast<uint64_t>(move.phase));
    for (const auto& node : move.to) h.Add(node.value_or(""));
  }
  return h.value();
}

std::string ClusterMap::BucketUuid(std::string_view bucket) const {
  uint64_t halves[2];
  for (uint64_t half = 0; half < 2; ++half) {
    Fnv64 h;
    h.AddNumber(half);
    h.Add(bucket);
    for (const auto& node : nodes_) h.Add(node.id);
    halves[half] = h.value();
  }
  return fmt::format("{:016x}{:016x}", halves[0], halves[1]);
}

}  // namespace sluice::cluster
