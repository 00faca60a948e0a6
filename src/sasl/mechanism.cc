#include "sasl/mechanism.h"

namespace sluice::sasl {

std::string_view SupportedMechanisms() { return "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN"; }

std::string_view MechanismName(Mechanism mechanism) {
  switch (mechanism) {
    case Mechanism::kScramSha512:
      return "SCRAM-SHA512";
    case Mechanism::kScramSha256:
      return "SCRAM-SHA256";
    case Mechanism::kScramSha1:
      return "SCRAM-SHA1";
    case Mechanism::kPlain:
      return "PLAIN";
  }
  return "?";
}

std::optional<Mechanism> ParseMechanism(std::string_view name) {
  for (Mechanism m : {Mechanism::kScramSha512, Mechanism::kScramSha256, Mechanism::kScramSha1,
                      Mechanism::kPlain}) {
    if (name == MechanismName(m)) return m;
  }
  return std::nullopt;
}

std::optional<HashAlgorithm> ScramHash(Mechanism mechanism) {
  switch (mechanism) {
    case Mechanism::kScramSha512:
      return HashAlgorithm::kSha512;
    case Mechanism::kScramSha256:
      return HashAlgorithm::kSha256;
    case Mechanism::kScramSha1:
      return HashAlgorithm::kSha1;
    case Mechanism::kPlain:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sluice::sasl
