// File: dcp/stream_key.h
//
// StreamKey: a stream's identity on its connection - its vbucket and, after the control
// enable_stream_id, the stream id the consumer gave it (0: none). Several streams may share a
// vbucket only by id. Every message of a stream with an id carries the id (a frame info).
//
// A value; its own header because the stream (active_stream.h) and the encoder of its item
// messages (item_encoder.h, used by the stream's backfill) both need it.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

#include "common/types.h"

namespace sluice::dcp {

struct StreamKey {
  Vbid vb = 0;
  uint16_t sid = 0;
  friend auto operator<=>(const StreamKey&, const StreamKey&) = default;

  // The stream-id frame info its messages carry (none without an id).
  std::optional<uint16_t> stream_id() const {
    return sid == 0 ? std::nullopt : std::optional<uint16_t>(sid);
  }
};

}  // namespace sluice::dcp
