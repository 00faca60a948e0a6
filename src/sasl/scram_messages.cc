#include "sasl/scram_messages.h"

#include <charconv>
#include <optional>
#include <vector>

#include "sasl/crypto.h"

namespace sluice::sasl {
namespace {

// One "k=value" element of an attribute list. `offset` is where its key starts in the message.
struct Attribute {
  char key;
  std::string_view value;
  size_t offset;
};

bool IsAttributeKey(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits "k=v,k=v,..." at commas. Values are opaque (anything but ',', possibly empty).
StatusOr<std::vector<Attribute>> SplitAttributes(std::string_view list) {
  if (list.empty()) return Status::Invalid("empty attribute list");
  std::vector<Attribute> out;
  size_t pos = 0;
  while (true) {
    size_t comma = list.find(',', pos);
    std::string_view item =
        list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.size() < 2 || !IsAttributeKey(item[0]) || item[1] != '=') {
      return Status::Invalid("malformed attribute (expected a letter followed by '=')");
    }
    out.push_back(Attribute{item[0], item.substr(2), pos});
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string Quoted(char key) { return std::string("'") + key + "='"; }

// Expects attribute `index` of `attrs` to have `key`.
Status Expect(const std::vector<Attribute>& attrs, size_t index, char key) {
  if (index >= attrs.size()) return Status::Invalid("missing attribute " + Quoted(key));
  if (attrs[index].key != key) {
    return Status::Invalid("expected attribute " + Quoted(key) + " but found " +
                           Quoted(attrs[index].key));
  }
  return Status::Ok();
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status CheckSize(std::string_view message) {
  if (message.empty()) return Status::Invalid("empty message");
  if (message.size() > kMaxScramMessageSize) return Status::Invalid("message too long");
  return Status::Ok();
}

}  // namespace

std::string EncodeSaslName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

StatusOr<std::string> DecodeSaslName(std::string_view saslname) {
  if (saslname.empty()) return Status::Invalid("empty user name");
  std::string out;
  out.reserve(saslname.size());
  for (size_t i = 0; i < saslname.size(); ++i) {
    if (saslname[i] != '=') {
      out += saslname[i];
      continue;
    }
    std::string_view escape = saslname.substr(i, 3);
    if (escape == "=2C") {
      out += ',';
    } else if (escape == "=3D") {
      out += '=';
    } else {
      return Status::Invalid("bad '=' escape in user name (only =2C and =3D are allowed)");
    }
    i += 2;
  }
  return out;
}

StatusOr<ClientFirstMessage> ParseClientFirst(std::string_view message) {
  RETURN_IF_ERROR(CheckSize(message));
  if (message[0] == 'p') return Status::Invalid("channel binding (p=) requested but not supported");
  if ((message[0] != 'n' && message[0] != 'y') || message.size() < 2 || message[1] != ',') {
    return Status::Invalid("bad gs2 header (expected \"n,\" or \"y,\")");
  }
  size_t authz_end = message.find(',', 2);
  if (authz_end == std::string_view::npos) return Status::Invalid("gs2 header not terminated");
  ClientFirstMessage out;
  std::string_view authz = message.substr(2, authz_end - 2);
  if (!authz.empty()) {
    if (authz.substr(0, 2) != "a=") return Status::Invalid("bad authzid in gs2 header");
    ASSIGN_OR_RETURN(out.authzid, DecodeSaslName(authz.substr(2)));
  }
  out.gs2_header = std::string(message.substr(0, authz_end + 1));
  out.bare = std::string(message.substr(authz_end + 1));

  ASSIGN_OR_RETURN(auto attrs, SplitAttributes(out.bare));
  if (attrs[0].key == 'm') return Status::Invalid("mandatory extension (m=) not supported");
  RETURN_IF_ERROR(Expect(attrs, 0, 'n'));
  RETURN_IF_ERROR(Expect(attrs, 1, 'r'));
  if (attrs.size() > 2) return Status::Invalid("unsupported extension " + Quoted(attrs[2].key));
  ASSIGN_OR_RETURN(out.user, DecodeSaslName(attrs[0].value));
  if (attrs[1].value.empty()) return Status::Invalid("empty client nonce");
  out.nonce = std::string(attrs[1].value);
  return out;
}

StatusOr<ServerFirstMessage> ParseServerFirst(std::string_view message) {
  RETURN_IF_ERROR(CheckSize(message));
  ASSIGN_OR_RETURN(auto attrs, SplitAttributes(message));
  if (attrs[0].key == 'm') return Status::Invalid("mandatory extension (m=) not supported");
  RETURN_IF_ERROR(Expect(attrs, 0, 'r'));
  RETURN_IF_ERROR(Expect(attrs, 1, 's'));
  RETURN_IF_ERROR(Expect(attrs, 2, 'i'));
  // Attributes after i= are extensions, which a client without them ignores.
  ServerFirstMessage out;
  if (attrs[0].value.empty()) return Status::Invalid("empty nonce");
  out.nonce = std::string(attrs[0].value);
  auto salt = Base64Decode(attrs[1].value);
  if (!salt.ok()) return Status::Invalid("salt is not valid base64");
  if (salt->empty()) return Status::Invalid("empty salt");
  out.salt = std::move(salt).value();
  std::optional<uint64_t> iterations = ParseDecimal(attrs[2].value);
  if (!iterations || *iterations == 0) return Status::Invalid("bad iteration count");
  out.iterations = *iterations;
  return out;
}

std::string BuildServerFirst(std::string_view nonce, std::string_view salt, uint32_t iterations) {
  std::string out = "r=";
  out += nonce;
  out += ",s=";
  out += Base64Encode(salt);
  out += ",i=";
  out += std::to_string(iterations);
  return out;
}

StatusOr<ClientFinalMessage> ParseClientFinal(std::string_view message) {
  RETURN_IF_ERROR(CheckSize(message));
  ASSIGN_OR_RETURN(auto attrs, SplitAttributes(message));
  RETURN_IF_ERROR(Expect(attrs, 0, 'c'));
  RETURN_IF_ERROR(Expect(attrs, 1, 'r'));
  if (attrs.size() > 3) return Status::Invalid("unsupported extension " + Quoted(attrs[2].key));
  RETURN_IF_ERROR(Expect(attrs, 2, 'p'));
  ClientFinalMessage out;
  auto binding = Base64Decode(attrs[0].value);
  if (!binding.ok()) return Status::Invalid("channel binding (c=) is not valid base64");
  out.channel_binding = std::move(binding).value();
  out.nonce = std::string(attrs[1].value);
  auto proof = Base64Decode(attrs[2].value);
  if (!proof.ok()) return Status::Invalid("proof (p=) is not valid base64");
  out.proof = std::move(proof).value();
  // p= is the last attribute; what precedes its separating comma is signed by the proof.
  out.without_proof = std::string(message.substr(0, attrs[2].offset - 1));
  return out;
}

StatusOr<std::string> ParseServerFinal(std::string_view message) {
  RETURN_IF_ERROR(CheckSize(message));
  ASSIGN_OR_RETURN(auto attrs, SplitAttributes(message));
  if (attrs[0].key == 'e') {
    return Status(Errc::kAuthError, "server reported error: " + std::string(attrs[0].value));
  }
  RETURN_IF_ERROR(Expect(attrs, 0, 'v'));
  auto signature = Base64Decode(attrs[0].value);
  if (!signature.ok()) return Status::Invalid("server signature (v=) is not valid base64");
  return std::move(signature).value();
}

std::string ScramAuthMessage(std::string_view client_first_bare, std::string_view server_first,
                             std::string_view client_final_without_proof) {
  std::string out;
  out.reserve(client_first_bare.size() + server_first.size() + client_final_without_proof.size() +
              2);
  out += client_first_bare;
  out += ',';
  out += server_first;
  out += ',';
  out += client_final_without_proof;
  return out;
}

}  // namespace sluice::sasl
