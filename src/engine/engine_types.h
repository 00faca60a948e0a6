// File: engine/engine_types.h
//
// The vocabulary of the engine's front-end API: what a command passes in and gets back, and the
// IoCompletion interface through which the engine resumes a command it answered kWouldBlock for
// (a value fetched back from disk, a durable write persisted).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "common/types.h"
#include "engine/blob.h"

namespace sluice::engine {

// Implemented by whoever issues commands (a connection). When the engine answers kWouldBlock it
// keeps only a weak reference (the connection may close meanwhile) and calls
// NotifyIoComplete from a background thread when the command can be run again.
class IoCompletion {
 public:
  virtual ~IoCompletion() = default;
  // Thread-safe; called from any thread, at most once per kWouldBlock answer.
  virtual void NotifyIoComplete(Status status) = 0;
};
// Weak: a pending background fetch or durability wait must not keep a closed connection alive.
using Waiter = std::weak_ptr<IoCompletion>;

using AddStatFn = std::function<void(std::string_view key, std::string_view value)>;

enum class StoreOp : uint8_t { kSet, kAdd, kReplace };

// A SyncWrite's durability level, with the wire's values (protocol::DurabilityLevel; the engine
// does not include protocol/).
enum class SyncWriteLevel : uint8_t {
  kMajority = 1,
  kMajorityAndPersistOnMaster = 2,
  kPersistToMajority = 3,
};

// A durable write (SyncWrite): the mutation becomes a prepare, committed once the vbucket's
// durability monitor says the level is met. `waiter` is told once it is resolved: OK when
// committed, kSyncWriteAmbiguous when it timed out (then aborted) or the vbucket stopped being
// active meanwhile.
struct SyncWriteSpec {
  SyncWriteLevel level = SyncWriteLevel::kMajority;
  std::chrono::milliseconds timeout{30'000};
  Waiter waiter;
};

// Expands xattr macros once a write's CAS and seqno are known (server/subdoc_context.h): given
// the value about to be stored, returns the value to store instead (the same size). Called under
// the vbucket's locks; must be quick and must not call back into the engine.
using PreLinkFn = std::function<BlobPtr(const BlobPtr& value, uint64_t cas, uint64_t seqno)>;

struct StoreRequest {
  StoreOp op = StoreOp::kSet;
  std::string_view key;
  std::string_view value;  // with datatype XATTR: the xattr section, then the body
  uint32_t flags = 0;
  uint32_t expiry = 0;  // absolute unix seconds (see ExpiryFromWire), 0 = never
  uint8_t datatype = 0;
  uint64_t cas = 0;  // 0 = no CAS check
  // The new version is a tombstone whose value holds its xattrs (subdoc writes to deleted
  // documents, CreateAsDeleted, a whole-document delete that keeps system xattrs).
  bool deleted = false;
  // With `cas`: the document may be a tombstone of that CAS (an AccessDeleted subdoc write);
  // kReplace then replaces the tombstone.
  bool cas_may_match_tombstone = false;
  PreLinkFn pre_link;                   // null: the value is stored as given
  const SyncWriteSpec* sync = nullptr;  // non-null: a SyncWrite (a prepare)
};

// A document change as a DCP producer sent it, which a replica applies with the producer's
// metadata, never its own (VBucket::ApplyReplicated).
struct ReplicatedItem {
  std::string_view key;
  std::string_view value;  // with datatype XATTR: the xattrs, then the body; a tombstone: xattrs
  uint64_t seqno = 0;
  uint64_t cas = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;  // absolute unix seconds, 0 = never; a tombstone: its delete time
  uint8_t datatype = 0;
  bool deleted = false;
  DeleteSource delete_source = DeleteSource::kExplicit;  // deletions: explicit or TTL
};

// Where a replica's stream request resumes: start at its high seqno, inside the snapshot
// [snap_start, snap_end] (both equal to high_seqno when it ends a snapshot it received whole),
// presenting the newest failover entry's uuid.
struct ReplicaPosition {
  uint64_t high_seqno = 0;
  uint64_t snap_start = 0;
  uint64_t snap_end = 0;
  uint64_t uuid = 0;
  bool whole() const { return snap_end == high_seqno; }
};

struct MutationResult {
  uint64_t cas = 0;
  uint64_t seqno = 0;
  uint64_t vbucket_uuid = 0;
};

struct GetResult {
  BlobPtr value;
  uint64_t cas = 0;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;
  uint8_t datatype = 0;
  bool deleted = false;
};

struct ArithmeticRequest {
  std::string_view key;
  bool increment = true;
  uint64_t delta = 0;
  uint64_t initial = 0;
  uint32_t expiry = 0;  // absolute
  bool create = true;   // false: a missing key is NotFound (wire expiry 0xffffffff)
  uint64_t cas = 0;
  const SyncWriteSpec* sync = nullptr;  // non-null: a SyncWrite (a prepare)
};

struct ArithmeticResult {
  uint64_t value = 0;
  MutationResult mutation;
};

// The hybrid logical clock of a vbucket as subdoc's $vbucket reports it: the current time in
// seconds, from the wall clock ("real") or, when the HLC runs ahead of it, from the HLC
// ("logical").
struct HlcNow {
  uint64_t seconds = 0;
  bool real = true;
};

// Memcached expiry semantics: 0 = never; up to 30 days = seconds from now; larger = absolute
// unix time. Returns absolute unix seconds (0 = never). A past absolute time stays in the past
// (the item expires immediately).
uint32_t ExpiryFromWire(uint32_t wire, uint32_t now_unix_seconds);

}  // namespace sluice::engine
