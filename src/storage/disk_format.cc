#include "storage/disk_format.h"

#include <charconv>
#include <limits>

namespace sluice::storage {
namespace {

// Document flag bits (second byte of a v1 document).
constexpr uint8_t kDocDeleted = 0x01;
constexpr uint8_t kDocDeleteSourceTtl = 0x02;
constexpr uint8_t kDocPrepared = 0x04;
// A prepare's durability level (1..3) in bits 3-4.
constexpr uint8_t kDocLevelShift = 3;
constexpr uint8_t kDocLevelMask = 0x18;
constexpr uint8_t kDocKnownFlags = kDocDeleted | kDocDeleteSourceTtl | kDocPrepared | kDocLevelMask;

// Key-entry flag bits.
constexpr uint8_t kKeyEntryDeleted = 0x01;

void PutFixed16BE(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

void PutFixed64BE(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint16_t LoadFixed16BE(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

uint64_t LoadFixed64BE(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Bounds-checked cursor over an encoded value. Every Read* returns false once the input is
// exhausted or malformed; the caller turns that into Errc::kCorruption.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ReadByte(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool ReadFixed64BE(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = LoadFixed64BE(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      uint8_t byte;
      if (!ReadByte(&byte)) return false;
      // The tenth byte may only carry the top bit of a u64.
      if (shift == 63 && byte > 1) return false;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool ReadVarint32(uint32_t* v) {
    uint64_t wide;
    if (!ReadVarint(&wide) || wide > std::numeric_limits<uint32_t>::max()) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool ReadBytes(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return in_; }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Status Corrupt(std::string_view what) { return Status(Errc::kCorruption, what); }

Status CheckVersion(Reader* r, uint8_t expected, std::string_view what) {
  uint8_t version;
  if (!r->ReadByte(&version)) return Corrupt(std::string(what) + ": empty value");
  if (version != expected) {
    return Corrupt(std::string(what) + ": unknown format version " + std::to_string(version));
  }
  return Status::Ok();
}

}  // namespace

std::string VBucketPrefix(Vbid vbid) {
  std::string out;
  PutFixed16BE(&out, vbid);
  return out;
}

std::optional<std::string> VBucketPrefixEnd(Vbid vbid) {
  if (vbid == std::numeric_limits<Vbid>::max()) return std::nullopt;
  return VBucketPrefix(static_cast<Vbid>(vbid + 1));
}

std::string SeqKey(Vbid vbid, uint64_t seqno) {
  std::string out;
  out.reserve(kSeqKeySize);
  PutFixed16BE(&out, vbid);
  PutFixed64BE(&out, seqno);
  return out;
}

bool DecodeSeqKey(std::string_view key, Vbid* vbid, uint64_t* seqno) {
  if (key.size() != kSeqKeySize) return false;
  *vbid = LoadFixed16BE(key.data());
  *seqno = LoadFixed64BE(key.data() + 2);
  return true;
}

std::string KeyKey(Vbid vbid, std::string_view doc_key) {
  std::string out;
  out.reserve(2 + doc_key.size());
  PutFixed16BE(&out, vbid);
  out.append(doc_key);
  return out;
}

std::string PrepareKeyKey(Vbid vbid, std::string_view doc_key) {
  return KeyKey(static_cast<Vbid>(vbid | kPrepareNamespaceBit), doc_key);
}

std::string VBucketStateKey(Vbid vbid) {
  return std::string(kVBucketStatePrefix) + std::to_string(vbid);
}

std::optional<Vbid> ParseVBucketStateKey(std::string_view key) {
  if (key.substr(0, kVBucketStatePrefix.size()) != kVBucketStatePrefix) return std::nullopt;
  const std::string_view digits = key.substr(kVBucketStatePrefix.size());
  // Canonical decimal only: no sign, no leading zeros (except "0"), no trailing junk.
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  Vbid vbid = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), vbid);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return vbid;
}

// v1 document: version | doc_flags | datatype | cas u64 BE | varint rev_seqno | varint flags |
// varint expiry | varint key_len | key | value (the rest).
std::string EncodeDoc(const DiskDoc& doc) {
  std::string out;
  out.reserve(3 + 8 + 4 * 5 + doc.key.size() + doc.value.size());
  out.push_back(static_cast<char>(kDocFormatV1));
  uint8_t doc_flags = 0;
  if (doc.deleted) {
    doc_flags |= kDocDeleted;
    if (doc.delete_source == DeleteSource::kTtl) doc_flags |= kDocDeleteSourceTtl;
  }
  if (doc.prepared) {
    doc_flags |= kDocPrepared;
    doc_flags |= static_cast<uint8_t>((doc.durability_level << kDocLevelShift) & kDocLevelMask);
  }
  out.push_back(static_cast<char>(doc_flags));
  out.push_back(static_cast<char>(doc.datatype));
  PutFixed64BE(&out, doc.cas);
  PutVarint(&out, doc.rev_seqno);
  PutVarint(&out, doc.flags);
  PutVarint(&out, doc.expiry);
  PutVarint(&out, doc.key.size());
  out.append(doc.key);
  out.append(doc.value);
  return out;
}

Status DecodeDocView(std::string_view value, bool key_only, DiskDocView* doc) {
  Reader r(value);
  RETURN_IF_ERROR(CheckVersion(&r, kDocFormatV1, "document"));
  uint8_t doc_flags, datatype;
  uint64_t key_len;
  if (!r.ReadByte(&doc_flags) || !r.ReadByte(&datatype) || !r.ReadFixed64BE(&doc->cas) ||
      !r.ReadVarint(&doc->rev_seqno) || !r.ReadVarint32(&doc->flags) ||
      !r.ReadVarint32(&doc->expiry) || !r.ReadVarint(&key_len) ||
      !r.ReadBytes(key_len, &doc->key)) {
    return Corrupt("document: truncated");
  }
  if ((doc_flags & ~kDocKnownFlags) != 0) return Corrupt("document: unknown flag bits");
  doc->datatype = datatype;
  doc->deleted = (doc_flags & kDocDeleted) != 0;
  doc->delete_source =
      (doc_flags & kDocDeleteSourceTtl) != 0 ? DeleteSource::kTtl : DeleteSource::kExplicit;
  doc->prepared = (doc_flags & kDocPrepared) != 0;
  doc->durability_level = static_cast<uint8_t>((doc_flags & kDocLevelMask) >> kDocLevelShift);
  if (!doc->prepared && doc->durability_level != 0)
    return Corrupt("document: level without prepare");
  doc->value = key_only ? std::string_view() : r.rest();
  return Status::Ok();
}

Status DecodeDoc(std::string_view value, bool key_only, DiskDoc* doc) {
  DiskDocView view;
  RETURN_IF_ERROR(DecodeDocView(value, key_only, &view));
  doc->cas = view.cas;
  doc->rev_seqno = view.rev_seqno;
  doc->flags = view.flags;
  doc->expiry = view.expiry;
  doc->datatype = view.datatype;
  doc->deleted = view.deleted;
  doc->delete_source = view.delete_source;
  doc->prepared = view.prepared;
  doc->durability_level = view.durability_level;
  doc->key.assign(view.key);
  doc->value.assign(view.value);
  return Status::Ok();
}

StatusOr<bool> DecodeDocDeleted(std::string_view value) {
  Reader r(value);
  RETURN_IF_ERROR(CheckVersion(&r, kDocFormatV1, "document"));
  uint8_t doc_flags;
  if (!r.ReadByte(&doc_flags)) return Corrupt("document: truncated");
  if ((doc_flags & ~kDocKnownFlags) != 0) return Corrupt("document: unknown flag bits");
  return (doc_flags & kDocDeleted) != 0;
}

// v1 key entry: version | seqno u64 BE | flags.
std::string EncodeKeyEntry(const KeyEntry& entry) {
  std::string out;
  out.reserve(10);
  out.push_back(static_cast<char>(kKeyEntryFormatV1));
  PutFixed64BE(&out, entry.seqno);
  out.push_back(static_cast<char>(entry.deleted ? kKeyEntryDeleted : 0));
  return out;
}

StatusOr<KeyEntry> DecodeKeyEntry(std::string_view value) {
  Reader r(value);
  RETURN_IF_ERROR(CheckVersion(&r, kKeyEntryFormatV1, "key entry"));
  KeyEntry entry;
  uint8_t flags;
  if (!r.ReadFixed64BE(&entry.seqno) || !r.ReadByte(&flags)) {
    return Corrupt("key entry: truncated");
  }
  if (!r.empty()) return Corrupt("key entry: trailing bytes");
  if ((flags & ~kKeyEntryDeleted) != 0) return Corrupt("key entry: unknown flag bits");
  entry.deleted = (flags & kKeyEntryDeleted) != 0;
  return entry;
}

std::string HistoryKey(char tag, Vbid vbid, uint64_t seqno) {
  std::string out;
  out.reserve(11);
  out.push_back(tag);
  PutFixed16BE(&out, vbid);
  PutFixed64BE(&out, seqno);
  return out;
}

std::string HistoryKeyEnd(char tag, Vbid vbid) {
  std::string out = HistoryKey(tag, vbid, std::numeric_limits<uint64_t>::max());
  out.push_back('\xff');  // above the largest version key (which has one more byte)
  out.push_back('\xff');
  return out;
}

std::string HistoryVersionKey(Vbid vbid, uint64_t replaced_at, bool prepare) {
  std::string out = HistoryKey(kHistoryVersionTag, vbid, replaced_at);
  out.push_back(prepare ? '\x01' : '\x00');
  return out;
}

bool DecodeHistoryKey(std::string_view key, char* tag, Vbid* vbid, uint64_t* seqno, bool* prepare) {
  if (key.size() < 11) return false;
  *tag = key[0];
  *vbid = LoadFixed16BE(key.data() + 1);
  *seqno = LoadFixed64BE(key.data() + 3);
  if (*tag == kHistoryBoundaryTag) return key.size() == 11;
  if (*tag != kHistoryVersionTag || key.size() != 12) return false;
  if (static_cast<uint8_t>(key[11]) > 1) return false;
  *prepare = key[11] == 1;
  return true;
}

std::string EncodeHistoryBoundary(uint64_t time, uint64_t bytes, uint64_t snap_start,
                                  uint64_t snap_end) {
  std::string out;
  out.push_back(static_cast<char>(kHistoryFormatV1));
  PutVarint(&out, time);
  PutVarint(&out, bytes);
  PutVarint(&out, snap_start);
  PutVarint(&out, snap_end);
  return out;
}

Status DecodeHistoryBoundary(std::string_view value, uint64_t* time, uint64_t* bytes,
                             uint64_t* snap_start, uint64_t* snap_end) {
  Reader r(value);
  RETURN_IF_ERROR(CheckVersion(&r, kHistoryFormatV1, "history boundary"));
  if (!r.ReadVarint(time) || !r.ReadVarint(bytes) || !r.ReadVarint(snap_start) ||
      !r.ReadVarint(snap_end)) {
    return Corrupt("history boundary: truncated");
  }
  if (!r.empty()) return Corrupt("history boundary: trailing bytes");
  return Status::Ok();
}

std::string EncodeHistoryVersion(uint64_t old_seqno, std::string_view doc_value) {
  std::string out;
  out.reserve(11 + doc_value.size());
  out.push_back(static_cast<char>(kHistoryFormatV1));
  PutVarint(&out, old_seqno);
  out.append(doc_value);
  return out;
}

Status DecodeHistoryVersion(std::string_view value, uint64_t* old_seqno,
                            std::string_view* doc_value) {
  Reader r(value);
  RETURN_IF_ERROR(CheckVersion(&r, kHistoryFormatV1, "history version"));
  if (!r.ReadVarint(old_seqno)) return Corrupt("history version: truncated");
  *doc_value = r.rest();
  return Status::Ok();
}

// v1 state: version | state | varint high_seqno, snap_start, snap_end, purge_seqno |
// max_cas u64 BE | varint max_deleted_rev_seqno | varint n | n x (uuid u64 BE, varint seqno).
// v2 state: the same with version 2, then the topology: varint chains | per chain: varint nodes |
// per node: varint (name length + 1, 0 for a null node) | name bytes.
std::string EncodeVBucketState(const VBucketStateRecord& state) {
  std::string out;
  out.reserve(2 + 6 * 10 + 8 + state.failover.size() * 18);
  const bool v2 = !state.topology.empty();
  out.push_back(static_cast<char>(v2 ? kVBucketStateFormatV2 : kVBucketStateFormatV1));
  out.push_back(static_cast<char>(state.state));
  PutVarint(&out, state.high_seqno);
  PutVarint(&out, state.snap_start);
  PutVarint(&out, state.snap_end);
  PutVarint(&out, state.purge_seqno);
  PutFixed64BE(&out, state.max_cas);
  PutVarint(&out, state.max_deleted_rev_seqno);
  PutVarint(&out, state.failover.size());
  for (const FailoverEntry& entry : state.failover) {
    PutFixed64BE(&out, entry.uuid);
    PutVarint(&out, entry.seqno);
  }
  if (v2) {
    PutVarint(&out, state.topology.chains.size());
    for (const TopologyChain& chain : state.topology.chains) {
      PutVarint(&out, chain.size());
      for (const TopologyNode& node : chain) {
        PutVarint(&out, node ? node->size() + 1 : 0);
        if (node) out.append(*node);
      }
    }
  }
  return out;
}

namespace {

// The v2 topology section (see EncodeVBucketState).
Status DecodeTopology(Reader* r, VBucketTopology* topology) {
  uint64_t chains;
  if (!r->ReadVarint(&chains)) return Corrupt("vbucket state: topology truncated");
  if (chains == 0 || chains > VBucketTopology::kMaxChains) {
    return Corrupt("vbucket state: bad topology chain count");
  }
  for (uint64_t c = 0; c < chains; ++c) {
    uint64_t nodes;
    if (!r->ReadVarint(&nodes)) return Corrupt("vbucket state: topology truncated");
    if (nodes == 0 || nodes > VBucketTopology::kMaxChainLength) {
      return Corrupt("vbucket state: bad topology chain length");
    }
    TopologyChain& chain = topology->chains.emplace_back();
    for (uint64_t n = 0; n < nodes; ++n) {
      uint64_t len;
      std::string_view name;
      if (!r->ReadVarint(&len) || (len != 0 && !r->ReadBytes(len - 1, &name))) {
        return Corrupt("vbucket state: topology truncated");
      }
      chain.push_back(len == 0 ? TopologyNode() : TopologyNode(std::string(name)));
    }
  }
  if (!ValidateTopology(*topology).ok()) return Corrupt("vbucket state: invalid topology");
  return Status::Ok();
}

}  // namespace

StatusOr<VBucketStateRecord> DecodeVBucketState(std::string_view value) {
  Reader r(value);
  uint8_t version;
  if (!r.ReadByte(&version)) return Corrupt("vbucket state: empty value");
  if (version != kVBucketStateFormatV1 && version != kVBucketStateFormatV2) {
    return Corrupt("vbucket state: unknown format version " + std::to_string(version));
  }
  VBucketStateRecord state;
  uint8_t wire_state;
  uint64_t n;
  if (!r.ReadByte(&wire_state) || !r.ReadVarint(&state.high_seqno) ||
      !r.ReadVarint(&state.snap_start) || !r.ReadVarint(&state.snap_end) ||
      !r.ReadVarint(&state.purge_seqno) || !r.ReadFixed64BE(&state.max_cas) ||
      !r.ReadVarint(&state.max_deleted_rev_seqno) || !r.ReadVarint(&n)) {
    return Corrupt("vbucket state: truncated");
  }
  if (!IsValidVBucketState(wire_state)) return Corrupt("vbucket state: invalid state");
  state.state = static_cast<VBucketState>(wire_state);
  // Each entry takes at least 9 bytes: bound n before reserving.
  if (n > r.rest().size() / 9) return Corrupt("vbucket state: failover log truncated");
  state.failover.resize(n);
  for (FailoverEntry& entry : state.failover) {
    if (!r.ReadFixed64BE(&entry.uuid) || !r.ReadVarint(&entry.seqno)) {
      return Corrupt("vbucket state: failover log truncated");
    }
  }
  if (version == kVBucketStateFormatV2) RETURN_IF_ERROR(DecodeTopology(&r, &state.topology));
  if (!r.empty()) return Corrupt("vbucket state: trailing bytes");
  return state;
}

}  // namespace sluice::storage
