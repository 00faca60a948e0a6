// File: tools/progress.h
//
// The live progress line of `sluice drain` on a terminal:
//
//   [=========>          ]  45%  2251000 items  812.3k items/s  96.1 MB/s  vb 400/1024  ETA 0:03
//
// The fraction done is measured in seqnos, not items: a vbucket's stream covers the seqnos from
// its start to its high seqno (taken when the drain started), and a backfill sends only the
// latest version of each key, so items undercount the work while seqnos do not. The ETA
// extrapolates the average seqno rate so far. FormatProgress is pure (tested); ProgressLine
// redraws it in place on a stream with "\r" and the erase-to-end-of-line escape.
//
// Ownership: ProgressLine borrows its stream. Thread safety: thread-compatible (the thread that
// owns the terminal output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace sluice::tools {

struct ProgressSnapshot {
  uint64_t items = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  uint64_t seqnos_done = 0;
  uint64_t seqnos_total = 0;
  uint64_t vbuckets_done = 0;
  uint64_t vbuckets_total = 0;
};

// "0:07", "12:34", "1:02:03"; "--:--" for a negative or non-finite duration.
std::string FormatDuration(double seconds);
// "950", "12.3k", "4.56M": a count or rate with an SI suffix, three significant digits.
std::string FormatCount(double value);
// The progress line, at most `width` columns (the bar shrinks first, then disappears).
std::string FormatProgress(const ProgressSnapshot& snapshot, size_t width);

// Terminal width of `fd` (TIOCGWINSZ), or `fallback` when it is not a terminal.
size_t TerminalWidth(int fd, size_t fallback = 100);

class ProgressLine {
 public:
  ProgressLine(std::ostream& out, size_t width) : out_(out), width_(width) {}
  // Redraws the line.
  void Update(const ProgressSnapshot& snapshot);
  // Erases the line (if one was drawn), leaving the cursor at column 0.
  void Clear();

 private:
  std::ostream& out_;
  const size_t width_;
  bool drawn_ = false;
};

}  // namespace sluice::tools
