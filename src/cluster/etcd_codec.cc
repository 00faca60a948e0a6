#include "cluster/etcd_codec.h"

#include <array>
#include <charconv>

namespace sluice::cluster::codec {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for an alphabet character, -1 otherwise.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve(4 * ((bytes.size() + 2) / 3));
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status(Errc::kInvalid, "base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t pad = !last || text[i + 3] != '=' ? 0 : text[i + 2] == '=' ? 2 : 1;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      const int8_t v = j >= 4 - pad ? 0 : kDecode[static_cast<unsigned char>(text[i + j])];
      if (v < 0) return Status(Errc::kInvalid, "invalid base64 character");
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    // Canonical encodings have zero bits where the padding cut the last byte short.
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) {
      return Status(Errc::kInvalid, "non-canonical base64");
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

void SetKeyRange(Json& request, std::string_view key, bool prefix) {
  // The empty key with a prefix means every key: etcd wants key "\0" and range_end "\0" then.
  request["key"] = Base64Encode(key.empty() && prefix ? std::string_view("\0", 1) : key);
  if (prefix) request["range_end"] = Base64Encode(PrefixEnd(key));
}

StatusOr<int64_t> Int64Field(const Json& object, std::string_view name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) return value;
  }
  return Status(Errc::kIoError, "etcd: field '" + std::string(name) + "' is not an int64");
}

bool BoolField(const Json& object, std::string_view name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

StatusOr<std::string> BytesField(const Json& object, std::string_view name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status(Errc::kIoError, "etcd: field '" + std::string(name) + "' is not base64 text");
  }
  auto decoded = Base64Decode(it->get_ref<const std::string&>());
  if (!decoded.ok()) {
    return Status(Errc::kIoError, "etcd: field '" + std::string(name) +
                                      "': " + std::string(decoded.status().message()));
  }
  return decoded;
}

StatusOr<int64_t> HeaderRevision(const Json& response) {
  const auto it = response.find("header");
  if (it == response.end() || !it->is_object()) return int64_t{0};
  return Int64Field(*it, "revision");
}

StatusOr<EtcdKeyValue> DecodeKeyValue(const Json& object) {
  if (!object.is_object()) return Status(Errc::kIoError, "etcd: a key-value is not an object");
  EtcdKeyValue kv;
  ASSIGN_OR_RETURN(kv.key, BytesField(object, "key"));
  ASSIGN_OR_RETURN(kv.value, BytesField(object, "value"));
  ASSIGN_OR_RETURN(kv.create_revision, Int64Field(object, "create_revision"));
  ASSIGN_OR_RETURN(kv.mod_revision, Int64Field(object, "mod_revision"));
  ASSIGN_OR_RETURN(kv.version, Int64Field(object, "version"));
  ASSIGN_OR_RETURN(kv.lease, Int64Field(object, "lease"));
  return kv;
}

Errc ErrcFromGrpcCode(int64_t code) {
  switch (code) {
    case 0:
      return Errc::kOk;
    case 1:
      return Errc::kCancelled;  // CANCELLED
    case 3:
      return Errc::kInvalid;  // INVALID_ARGUMENT
    case 4:
      return Errc::kTempFail;  // DEADLINE_EXCEEDED
    case 5:
      return Errc::kNotFound;  // NOT_FOUND
    case 6:
      return Errc::kExists;  // ALREADY_EXISTS
    case 7:
      return Errc::kNoAccess;  // PERMISSION_DENIED
    case 8:
      return Errc::kBusy;  // RESOURCE_EXHAUSTED
    case 9:
      return Errc::kInvalid;  // FAILED_PRECONDITION
    case 10:
      return Errc::kTempFail;  // ABORTED
    case 11:
      return Errc::kRange;  // OUT_OF_RANGE
    case 12:
      return Errc::kNotSupported;  // UNIMPLEMENTED
    case 14:
      return Errc::kTempFail;  // UNAVAILABLE
    case 15:
      return Errc::kCorruption;  // DATA_LOSS
    case 16:
      return Errc::kNoAccess;  // UNAUTHENTICATED
    default:
      return Errc::kInternal;  // UNKNOWN, INTERNAL, anything new
  }
}

Status ErrorInBody(const Json& body) {
  if (!body.is_object()) return Status::Ok();
  const auto it = body.find("error");
  if (it == body.end() || it->is_null()) return Status::Ok();
  // Unary: {"error": "text", "code": n}. Stream: {"error": {"grpc_code": n, "message": "text"}}.
  const Json& holder = it->is_object() ? *it : body;
  auto code = Int64Field(holder, it->is_object() ? "grpc_code" : "code");
  std::string text;
  if (const auto m = holder.find("message"); m != holder.end() && m->is_string()) {
    text = m->get<std::string>();
  } else if (it->is_string()) {
    text = it->get<std::string>();
  }
  const Errc errc = code.ok() ? ErrcFromGrpcCode(*code) : Errc::kInternal;
  return Status(errc == Errc::kOk ? Errc::kInternal : errc, "etcd: " + text);
}

StatusOr<Json> ParseBody(std::string_view text) {
  Json body = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Status(Errc::kIoError,
                  "etcd answered malformed JSON: '" + std::string(text.substr(0, 120)) + "'");
  }
  return body;
}

}  // namespace sluice::cluster::codec
