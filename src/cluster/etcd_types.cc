#include "cluster/etcd_types.h"

#include <utility>

namespace sluice::cluster {

Compare Compare::Value(std::string key, CompareOp op, std::string value) {
  return {
      .key = std::move(key), .target = CompareTarget::kValue, .op = op, .value = std::move(value)};
}
Compare Compare::Version(std::string key, CompareOp op, int64_t version) {
  return {.key = std::move(key), .target = CompareTarget::kVersion, .op = op, .number = version};
}
Compare Compare::CreateRevision(std::string key, CompareOp op, int64_t revision) {
  return {.key = std::move(key),
          .target = CompareTarget::kCreateRevision,
          .op = op,
          .number = revision};
}
Compare Compare::ModRevision(std::string key, CompareOp op, int64_t revision) {
  return {
      .key = std::move(key), .target = CompareTarget::kModRevision, .op = op, .number = revision};
}
Compare Compare::Lease(std::string key, CompareOp op, int64_t lease) {
  return {.key = std::move(key), .target = CompareTarget::kLease, .op = op, .number = lease};
}

TxnOp TxnOp::Put(std::string key, std::string value, int64_t lease) {
  return {.kind = Kind::kPut, .key = std::move(key), .value = std::move(value), .lease = lease};
}
TxnOp TxnOp::Get(std::string key, bool prefix) {
  return {.kind = Kind::kRange, .key = std::move(key), .prefix = prefix};
}
TxnOp TxnOp::Delete(std::string key, bool prefix) {
  return {.kind = Kind::kDelete, .key = std::move(key), .prefix = prefix};
}

}  // namespace sluice::cluster
