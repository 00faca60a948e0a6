// File: tools/progress.cc
#include "tools/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cmath>

namespace sluice::tools {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<uint64_t>(std::llround(seconds));
  const uint64_t h = total / 3600;
  const uint64_t m = (total / 60) % 60;
  const uint64_t s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

std::string FormatCount(double value) {
  if (!std::isfinite(value) || value < 0) return "?";
  static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T"};
  size_t i = 0;
  while (value >= 999.95 && i + 1 < std::size(kSuffix)) {
    value /= 1000.0;
    ++i;
  }
  if (i == 0) return fmt::format("{:.0f}", value);
  const int decimals = value >= 99.95 ? 0 : value >= 9.995 ? 1 : 2;
  return fmt::format("{:.{}f}{}", value, decimals, kSuffix[i]);
}

std::string FormatProgress(const ProgressSnapshot& s, size_t width) {
  double fraction = 0;
  if (s.seqnos_total > 0) {
    fraction = static_cast<double>(std::min(s.seqnos_done, s.seqnos_total)) /
               static_cast<double>(s.seqnos_total);
  } else if (s.vbuckets_total > 0) {
    fraction = static_cast<double>(s.vbuckets_done) / static_cast<double>(s.vbuckets_total);
  }
  if (s.vbuckets_total > 0 && s.vbuckets_done >= s.vbuckets_total) fraction = 1.0;

  double eta = -1;
  if (fraction >= 1.0) {
    eta = 0;
  } else if (s.seqnos_done > 0 && s.seconds >= 0.2 && s.seqnos_total > 0) {
    const double remaining = static_cast<double>(s.seqnos_total - s.seqnos_done);
    eta = s.seconds * remaining / static_cast<double>(s.seqnos_done);
  }
  const double rate = s.seconds > 0 ? static_cast<double>(s.items) / s.seconds : 0;
  const double mb_per_sec = s.seconds > 0 ? static_cast<double>(s.bytes) / 1e6 / s.seconds : 0;

  const std::string figures =
      fmt::format("{:3.0f}%  {} items  {} items/s  {:.1f} MB/s  vb {}/{}  ETA {}",
                  std::floor(fraction * 100.0), s.items, FormatCount(rate), mb_per_sec,
                  s.vbuckets_done, s.vbuckets_total, FormatDuration(eta));
  // "[" + bar + "]  " in front when there is room for a bar of at least 10 cells.
  constexpr size_t kMinBar = 10;
  constexpr size_t kMaxBar = 30;
  if (width < figures.size() + kMinBar + 4) return figures.substr(0, width);
  const size_t bar = std::min(kMaxBar, width - figures.size() - 4);
  const auto filled = static_cast<size_t>(std::floor(fraction * static_cast<double>(bar)));
  std::string line = "[";
  line.append(filled, '=');
  if (filled < bar) {
    line += '>';
    line.append(bar - filled - 1, ' ');
  }
  line += "]  ";
  line += figures;
  return line;
}

size_t TerminalWidth(int fd, size_t fallback) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return fallback;
}

void ProgressLine::Update(const ProgressSnapshot& snapshot) {
  // One column short of the width: a full-width line makes some terminals wrap.
  out_ << '\r' << FormatProgress(snapshot, width_ > 1 ? width_ - 1 : width_) << "\x1b[K"
       << std::flush;
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!drawn_) return;
  out_ << "\r\x1b[K" << std::flush;
  drawn_ = false;
}

}  // namespace sluice::tools
