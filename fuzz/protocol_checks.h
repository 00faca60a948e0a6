// File: fuzz/protocol_checks.h
//
// The invariants of src/protocol that more than one fuzz target checks (frame_fuzzer on raw wire
// bytes, request_fuzzer on frames it assembles). Each function runs the code under test on its
// argument and aborts through FUZZ_CHECK (fuzz/fuzz_check.h) when a promise of a header does not
// hold:
//   CheckDecodeResult   DecodeFrame's contract for the frame at the start of `input`: views
//                       inside the frame, sections adding up, kNeedMore/kInvalid sizes; a kOk
//                       frame re-encodes (AppendFrame) to exactly its bytes.
//   CheckClientRequest  ValidateRequest under every ValidationContext; when it says OK, the
//                       decoder the server's handler calls accepts the request (validate.h: "the
//                       handler may read its sections blindly"); the DCP decoder for the opcode,
//                       and what decodes re-encodes to bytes that decode and re-encode
//                       identically.
//   CheckResponse       the response-side decoders (failover log, rollback seqno, mutation token,
//                       OBSERVE_SEQNO reply, GET_ALL_VB_SEQNOS value) and their round trips.
//
// Thread safety: pure functions (libFuzzer runs one input at a time anyway).
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/frame.h"

namespace sluice::fuzz {

// The server's default max_packet_size: the body limit the targets delimit with.
inline constexpr uint32_t kMaxBody = 30u << 20;

void CheckDecodeResult(std::string_view input, const protocol::DecodeResult& result);
// REQUIRES: frame.magic is 0x80 or 0x08.
void CheckClientRequest(const protocol::Frame& frame);
// REQUIRES: frame.is_response().
void CheckResponse(const protocol::Frame& frame);

}  // namespace sluice::fuzz
