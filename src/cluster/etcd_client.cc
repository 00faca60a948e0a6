#include "cluster/etcd_client.h"

#include <utility>

#include "cluster/etcd_messages.h"

namespace sluice::cluster {

using codec::Json;

StatusOr<std::shared_ptr<EtcdClient>> EtcdClient::Create(EtcdOptions options) {
  ASSIGN_OR_RETURN(auto transport, EtcdTransport::Create(std::move(options)));
  return std::shared_ptr<EtcdClient>(new EtcdClient(std::move(transport)));
}

EtcdClient::EtcdClient(std::unique_ptr<EtcdTransport> transport)
    : transport_(std::move(transport)) {}

StatusOr<RangeResult> EtcdClient::Range(std::string_view key, const RangeOptions& options) {
  ASSIGN_OR_RETURN(auto response,
                   transport_->Call("/v3/kv/range", codec::EncodeRange(key, options)));
  return codec::DecodeRange(response);
}

StatusOr<EtcdKeyValue> EtcdClient::Get(std::string_view key) {
  ASSIGN_OR_RETURN(auto range, Range(key));
  if (range.kvs.empty()) return Status(Errc::kNotFound, "etcd: no key '" + std::string(key) + "'");
  return std::move(range.kvs.front());
}

StatusOr<PutResult> EtcdClient::Put(std::string_view key, std::string_view value,
                                    const PutOptions& options) {
  ASSIGN_OR_RETURN(auto response,
                   transport_->Call("/v3/kv/put", codec::EncodePut(key, value, options)));
  return codec::DecodePut(response);
}

StatusOr<DeleteResult> EtcdClient::DeleteRange(std::string_view key, const DeleteOptions& options) {
  ASSIGN_OR_RETURN(auto response,
                   transport_->Call("/v3/kv/deleterange", codec::EncodeDelete(key, options)));
  return codec::DecodeDelete(response);
}

StatusOr<TxnResult> EtcdClient::Txn(const TxnRequest& request) {
  ASSIGN_OR_RETURN(auto response, transport_->Call("/v3/kv/txn", codec::EncodeTxn(request)));
  return codec::DecodeTxn(response);
}

Status EtcdClient::Compact(int64_t revision) {
  return transport_->Call("/v3/kv/compaction", Json{{"revision", std::to_string(revision)}})
      .status();
}

}  // namespace sluice::cluster
