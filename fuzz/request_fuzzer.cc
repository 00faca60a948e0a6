// File: fuzz/request_fuzzer.cc
//
// libFuzzer target for the request parsing of every command. Where frame_fuzzer mutates wire
// bytes (and so mostly meets frames whose lengths do not add up), this target assembles a
// well-delimited request from structured input, so the fuzzer spends its time inside the
// per-opcode rules and the payload decoders:
//
//   input (fuzz/fuzz_input.h):  U8 opcode, U8 flags, U8 datatype, U16 vbucket,
//                               Str framing extras, Str extras, Str key, Rest value
//   flags: bit 0 alt magic (0x08) even without framing extras, bit 1 a non-zero CAS
//
// The request is encoded (AppendFrame), must decode back to the same sections, and goes through
// fuzz/protocol_checks.h (validation under every context, the handlers' decoders, DCP codecs).
// Then each section goes through the decoders that read it, with their round trips:
//   framing extras  ParseRequestFrameInfos, ForEachFrameInfo (re-encoding every entry gives the
//                   input back: the frame-info encoding is canonical)
//   extras          mutation / arithmetic / cluster-config-version / GET_ALL_VB_SEQNOS extras,
//                   lone u16/u32/u64, mutation token
//   key             DecodeLeb128 (canonical: re-encodes to the consumed prefix),
//                   SplitCollectionKey (AppendCollectionKey gives the key back)
//   value           HELLO features, and the reply payloads in fuzz/protocol_checks.h
// Seeds: fuzz/corpus/request/ (every opcode's valid request, from make_corpus).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_input.h"
#include "fuzz/protocol_checks.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/payload.h"

namespace sluice::fuzz {
namespace {

using namespace protocol;

void FramingExtras(std::string_view fe) {
  ParseRequestFrameInfos(fe).status().IgnoreError();  // must not crash; checked below
  std::string again;
  const Status walk = ForEachFrameInfo(fe, [&](const FrameInfoEntry& entry) {
    AppendFrameInfo(&again, entry.id, entry.payload);
    return true;
  });
  if (walk.ok()) FUZZ_CHECK(again == fe, "frame infos re-encode to the same bytes");
}

void Extras(std::string_view extras, Vbid vb) {
  if (auto m = DecodeMutationExtras(extras); m.ok()) {
    std::string again;
    AppendMutationExtras(&again, *m);
    FUZZ_CHECK(again == extras, "mutation extras round-trip");
  }
  if (auto a = DecodeArithmeticExtras(extras); a.ok()) {
    std::string again;
    AppendArithmeticExtras(&again, *a);
    FUZZ_CHECK(again == extras, "arithmetic extras round-trip");
  }
  if (auto v = DecodeClusterConfigVersion(extras); v.ok()) {
    std::string again;
    AppendClusterConfigVersion(&again, *v);
    FUZZ_CHECK(again == extras, "cluster config version round-trips");
  }
  if (auto f = DecodeAllVbSeqnosExtras(extras); f.ok()) {
    std::string again;
    if (f->has_value()) AppendAllVbSeqnosExtras(&again, **f);
    FUZZ_CHECK(again == extras, "GET_ALL_VB_SEQNOS extras round-trip");
  }
  if (auto t = DecodeMutationTokenExtras(extras, vb); t.ok()) {
    FUZZ_CHECK(t->vbucket == vb, "mutation token keeps the vbucket");
  }
  DecodeU16(extras).status().IgnoreError();  // must not crash
  DecodeU32(extras).status().IgnoreError();  // must not crash
  DecodeU64(extras).status().IgnoreError();  // must not crash
}

void Key(std::string_view key) {
  if (auto leb = DecodeLeb128(key)) {
    FUZZ_CHECK(leb->length >= 1 && leb->length <= kMaxLeb128U32Size && leb->length <= key.size(),
               "LEB128 length within bounds");
    char buf[kMaxLeb128U32Size];
    const size_t n = EncodeLeb128(leb->value, buf);
    FUZZ_CHECK(std::string_view(buf, n) == key.substr(0, leb->length),
               "accepted LEB128 is canonical");
  }
  if (auto split = SplitCollectionKey(key); split.ok()) {
    FUZZ_CHECK(!split->key.empty(), "a split key has a logical key");
    std::string again;
    AppendCollectionKey(&again, split->collection_id, split->key);
    FUZZ_CHECK(again == key, "collection key round-trips");
  }
}

void Value(std::string_view value) {
  const std::vector<Feature> features = DecodeFeatures(value);
  FUZZ_CHECK(features.size() == value.size() / 2, "one feature per two bytes");
  std::string again;
  AppendFeatures(&again, features);
  FUZZ_CHECK(again == value.substr(0, value.size() & ~size_t{1}), "features round-trip");
}

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  using namespace sluice::protocol;
  fuzz::FuzzInput in(data, size);
  const uint8_t opcode = in.U8();
  const uint8_t flags = in.U8();
  const uint8_t datatype = in.U8();
  const uint16_t vbucket = in.U16();
  std::string_view fe = in.Str();
  std::string_view extras = in.Str();
  std::string_view key = in.Str();
  std::string_view value = in.Rest();

  const bool alt = (flags & 1) != 0 || !fe.empty();
  // What the header can express: one byte for the framing-extras, extras and (alt) key lengths.
  fe = fe.substr(0, 0xff);
  extras = extras.substr(0, 0xff);
  if (alt) key = key.substr(0, 0xff);
  const uint64_t cas = (flags & 2) != 0 ? 0x1122334455667788ULL : 0;

  std::string wire;
  AppendFrame(&wire, alt ? Magic::kAltClientRequest : Magic::kClientRequest, opcode, vbucket,
              datatype, /*opaque=*/0xdeadbeef, cas, fe, extras, key, value);
  const DecodeResult r = DecodeFrame(wire, fuzz::kMaxBody);
  fuzz::CheckDecodeResult(wire, r);
  FUZZ_CHECK(r.status == DecodeStatus::kOk, "an encoded request decodes");
  const Frame& f = r.frame;
  FUZZ_CHECK(f.opcode == opcode && f.vbucket() == vbucket && f.datatype == datatype &&
                 f.cas == cas && f.framing_extras == fe && f.extras == extras && f.key == key &&
                 f.value == value,
             "a request decodes to what was encoded");
  fuzz::CheckClientRequest(f);

  fuzz::FramingExtras(fe);
  fuzz::Extras(extras, vbucket);
  fuzz::Key(key);
  fuzz::Value(value);
  return 0;
}
