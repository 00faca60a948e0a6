// File: sasl/mechanism.h
//
// The SASL mechanisms sluice speaks and their wire names. The names are kv_engine's (no hyphen
// between "SHA" and the digest size): "SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1", "PLAIN".
// SASL_LIST_MECHS replies with SupportedMechanisms(), strongest first.
//
// Thread safety: constants and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sasl/crypto.h"

namespace sluice::sasl {

enum class Mechanism : uint8_t { kScramSha512, kScramSha256, kScramSha1, kPlain };

// "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN": the SASL_LIST_MECHS reply value.
std::string_view SupportedMechanisms();

// The wire name of `mechanism`.
std::string_view MechanismName(Mechanism mechanism);

// The mechanism a client named (exact, case-sensitive match as kv_engine does), or nullopt.
std::optional<Mechanism> ParseMechanism(std::string_view name);

// The hash a SCRAM mechanism is defined over; nullopt for PLAIN.
std::optional<HashAlgorithm> ScramHash(Mechanism mechanism);

}  // namespace sluice::sasl
