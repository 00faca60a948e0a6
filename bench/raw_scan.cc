// File: bench/raw_scan.cc
//
// sluice_raw_scan: the project's own scan in bench/drain_vs_scan.sh. Opens a sluiced bucket's
// RocksDB store read-only (storage::OpenRocksDBKVStore with read_only: no LOCK taken, nothing
// written) and scans every vbucket that has a state record with the same SeqnoScan a DCP backfill
// uses (ScanViews: the document decoded in place, no copy; one thread, as the server's single
// auxio thread; values included; tombstones included), counting items and bytes. It is the
// fastest the server's backfill could read the data dir through its store, without encoding DCP
// messages, network or a consumer. (sluice_plain_scan, plain_scan.cc, is the floor under it: the
// same files iterated with RocksDB alone.)
//
//   sluice_raw_scan DATA_DIR/BUCKET [--json]
//
// Figures: items; bytes (key + value); dcp_bytes (what the same items weigh as DCP messages:
// 24-byte header + extras + key + value, to compare with `sluice drain`'s bytes); seconds (the
// scans only, not opening the store); items_per_sec; mb_per_sec (dcp_bytes, 10^6 bytes per MB);
// vbuckets; open_seconds.
//
// Exit status: 0, or 1 with a message on stderr when the store cannot be opened or a scan fails.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "storage/kvstore.h"

namespace {

using Clock = std::chrono::steady_clock;
using sluice::storage::DiskDocView;
using sluice::storage::ScanControl;

constexpr uint64_t kHeader = 24;
constexpr uint64_t kMutationExtras = 31;
constexpr uint64_t kDeletionV2Extras = 21;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int Fail(const std::string& message) {
  fmt::print(stderr, "sluice_raw_scan: {}\n", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (argv[i][0] == '-' || !dir.empty()) {
      return Fail(fmt::format("usage: {} DATA_DIR/BUCKET [--json]", argv[0]));
    } else {
      dir = argv[i];
    }
  }
  if (dir.empty()) return Fail(fmt::format("usage: {} DATA_DIR/BUCKET [--json]", argv[0]));

  const Clock::time_point open_start = Clock::now();
  sluice::storage::RocksDBOptions options;
  options.read_only = true;
  auto store = sluice::storage::OpenRocksDBKVStore(dir, options);
  if (!store.ok()) return Fail(fmt::format("cannot open {}: {}", dir, store.status().ToString()));
  auto states = (*store)->LoadVBucketStates();
  if (!states.ok()) return Fail(fmt::format("vbucket states: {}", states.status().ToString()));
  const double open_seconds = Seconds(Clock::now() - open_start);

  uint64_t items = 0;
  uint64_t bytes = 0;
  uint64_t dcp_bytes = 0;
  uint64_t vbuckets = 0;
  const Clock::time_point start = Clock::now();
  for (const auto& [vbid, state] : *states) {
    ++vbuckets;
    auto scan = (*store)->OpenSeqnoScan(vbid, 1, UINT64_MAX, {});
    if (!scan.ok()) return Fail(fmt::format("vb {}: {}", vbid, scan.status().ToString()));
    bool done = false;
    while (!done) {
      const sluice::Status status = (*scan)->ScanViews(
          [&](const DiskDocView& doc) {
            ++items;
            const uint64_t payload = doc.key.size() + doc.value.size();
            bytes += payload;
            dcp_bytes += kHeader + (doc.deleted ? kDeletionV2Extras : kMutationExtras) + payload;
            return ScanControl::kContinue;
          },
          &done);
      if (!status.ok()) return Fail(fmt::format("vb {}: {}", vbid, status.ToString()));
    }
  }
  const double seconds = Seconds(Clock::now() - start);
  const double items_per_sec = seconds > 0 ? static_cast<double>(items) / seconds : 0;
  const double mb_per_sec = seconds > 0 ? static_cast<double>(dcp_bytes) / 1e6 / seconds : 0;
  if (json) {
    fmt::print(
        "{{\"items\":{},\"bytes\":{},\"dcp_bytes\":{},\"seconds\":{:.6f},\"items_per_sec\":{:.1f},"
        "\"mb_per_sec\":{:.2f},\"vbuckets\":{},\"open_seconds\":{:.6f}}}\n",
        items, bytes, dcp_bytes, seconds, items_per_sec, mb_per_sec, vbuckets, open_seconds);
  } else {
    fmt::print(
        "items {}  bytes {}  dcp_bytes {}  seconds {:.3f}  items/s {:.0f}  MB/s {:.1f}  "
        "vbuckets {}  (open {:.3f} s)\n",
        items, bytes, dcp_bytes, seconds, items_per_sec, mb_per_sec, vbuckets, open_seconds);
  }
  const sluice::Status closed = (*store)->Close();
  if (!closed.ok()) return Fail(fmt::format("close: {}", closed.ToString()));
  return 0;
}
