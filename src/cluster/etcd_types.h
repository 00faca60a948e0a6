// File: cluster/etcd_types.h
//
// The values of the etcd v3 KV, lease and watch APIs as sluice sees them: plain structs with byte
// strings (already base64-decoded) and int64 revisions. They mirror etcd's mvccpb.KeyValue and the
// etcdserverpb request/response messages, keeping only the fields sluice uses. A field etcd omits
// (its zero value) is 0 or empty here.
//
// Revisions: every change to the store gets the next store-wide revision. A key's create_revision
// is the revision of the put that created it (0: the key does not exist), mod_revision that of its
// last change, version the number of changes since creation. A response's header revision is the
// store's revision when it was served.
//
// Ownership: values. Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace sluice::cluster {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0: not under a lease

  friend bool operator==(const EtcdKeyValue&, const EtcdKeyValue&) = default;
};

// ---- Range ----------------------------------------------------------------------------------

struct RangeOptions {
  bool prefix = false;      // every key starting with the given key (the empty key: all keys)
  int64_t revision = 0;     // read at this past revision (0: the current one)
  int64_t limit = 0;        // at most this many keys (0: no limit); `more` then says if cut
  bool keys_only = false;   // values left empty
  bool count_only = false;  // no kvs, only `count`
};

struct RangeResult {
  int64_t revision = 0;           // header revision: the snapshot the kvs were read from
  std::vector<EtcdKeyValue> kvs;  // in key order
  bool more = false;
  int64_t count = 0;  // keys in the range (not limited)
};

// ---- Put / DeleteRange ------------------------------------------------------------------------

struct PutOptions {
  int64_t lease = 0;     // attach the key to this lease (0: none)
  bool prev_kv = false;  // return the previous key-value
};

struct PutResult {
  int64_t revision = 0;                 // the put's revision
  std::optional<EtcdKeyValue> prev_kv;  // with PutOptions::prev_kv, if the key existed
};

struct DeleteOptions {
  bool prefix = false;
  bool prev_kv = false;  // return the deleted key-values
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;                 // number of keys deleted
  std::vector<EtcdKeyValue> prev_kvs;  // with DeleteOptions::prev_kv
};

// ---- Txn --------------------------------------------------------------------------------------

// What a comparison looks at: the key's value, version, create/mod revision or lease. A key that
// does not exist compares as version 0, create_revision 0, mod_revision 0, lease 0, and a value
// comparison against it is false.
enum class CompareTarget : uint8_t { kValue, kVersion, kCreateRevision, kModRevision, kLease };
enum class CompareOp : uint8_t { kEqual, kNotEqual, kLess, kGreater };

struct Compare {
  std::string key;
  CompareTarget target = CompareTarget::kModRevision;
  CompareOp op = CompareOp::kEqual;
  int64_t number = 0;  // for every target but kValue
  std::string value;   // for kValue

  static Compare Value(std::string key, CompareOp op, std::string value);
  static Compare Version(std::string key, CompareOp op, int64_t version);
  static Compare CreateRevision(std::string key, CompareOp op, int64_t revision);
  static Compare ModRevision(std::string key, CompareOp op, int64_t revision);
  static Compare Lease(std::string key, CompareOp op, int64_t lease);
};

// One operation of a txn branch.
struct TxnOp {
  enum class Kind : uint8_t { kPut, kRange, kDelete };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;     // kPut
  int64_t lease = 0;     // kPut
  bool prefix = false;   // kRange, kDelete
  bool prev_kv = false;  // kPut, kDelete

  static TxnOp Put(std::string key, std::string value, int64_t lease = 0);
  static TxnOp Get(std::string key, bool prefix = false);
  static TxnOp Delete(std::string key, bool prefix = false);
};

struct TxnRequest {
  std::vector<Compare> compare;  // all must hold for `success` to run, else `failure` runs
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

// The result of one TxnOp, in the order of the branch that ran.
using TxnOpResult = std::variant<PutResult, RangeResult, DeleteResult>;

struct TxnResult {
  bool succeeded = false;  // the compares held (the success branch ran)
  int64_t revision = 0;    // header revision (the txn's revision if it wrote)
  std::vector<TxnOpResult> responses;
};

// ---- Leases -----------------------------------------------------------------------------------

struct LeaseGrantResult {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, as granted (etcd may raise a TTL below its minimum)
};

struct LeaseTimeToLiveResult {
  int64_t id = 0;
  int64_t ttl = 0;                // seconds left
  int64_t granted_ttl = 0;        // seconds, as granted
  std::vector<std::string> keys;  // attached keys, when asked for
};

// ---- Watch ------------------------------------------------------------------------------------

struct WatchEvent {
  enum class Type : uint8_t { kPut, kDelete };
  Type type = Type::kPut;
  // For a put: the key-value after it. For a delete: the key and the delete's mod_revision.
  EtcdKeyValue kv;
  std::optional<EtcdKeyValue> prev_kv;  // when the watch asked for it and the key existed

  friend bool operator==(const WatchEvent&, const WatchEvent&) = default;
};

}  // namespace sluice::cluster
