// File: fuzz/frame_fuzzer.cc
//
// libFuzzer target: the input is a byte stream as a peer sends it. Frames are delimited the way a
// connection does it (protocol::DecodeFrame, consume the frame, go on while kOk or kInvalid), and
// every frame goes through fuzz/protocol_checks.h: DecodeFrame's contract and header round trip;
// for client requests ValidateRequest, the handlers' decoders and the DCP codecs; for responses
// the response-side decoders.
// Seeds: fuzz/corpus/frame/ (a frame of every opcode and a few pipelines, from make_corpus).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/protocol_checks.h"
#include "protocol/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const protocol::DecodeResult r = protocol::DecodeFrame(input, fuzz::kMaxBody);
    fuzz::CheckDecodeResult(input, r);
    if (r.status == protocol::DecodeStatus::kOk) {
      const protocol::Frame& f = r.frame;
      if (f.magic == protocol::Magic::kClientRequest ||
          f.magic == protocol::Magic::kAltClientRequest) {
        fuzz::CheckClientRequest(f);
      } else if (f.is_response()) {
        fuzz::CheckResponse(f);
      }
    } else if (r.status != protocol::DecodeStatus::kInvalid) {
      break;  // kNeedMore / kMalformed: a server waits for more or closes
    }
    input.remove_prefix(r.size);
  }
  return 0;
}
