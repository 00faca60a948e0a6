// File: client/connection_auth.cc
//
// Connection's handshake conversations: HELLO, SASL (PLAIN and SCRAM via src/sasl) and
// SELECT_BUCKET.
#include <fmt/format.h>

#include "client/connection.h"
#include "sasl/mechanism.h"
#include "sasl/scram_client.h"

namespace sluice::client {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

StatusOr<std::vector<Feature>> Connection::Hello(std::string_view agent,
                                                 const std::vector<Feature>& features) {
  std::string value;
  protocol::AppendFeatures(&value, features);
  RequestFields request;
  request.opcode = Opcode::kHello;
  request.key = agent;
  request.value = value;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  std::vector<Feature> agreed = protocol::DecodeFeatures(response.value);
  features_ = 0;
  for (Feature f : agreed) {
    const auto code = static_cast<uint16_t>(f);
    if (code < 64) features_ |= uint64_t{1} << code;
  }
  return agreed;
}

bool Connection::HasFeature(Feature feature) const {
  const auto code = static_cast<uint16_t>(feature);
  return code < 64 && (features_ & (uint64_t{1} << code)) != 0;
}

StatusOr<std::vector<std::string>> Connection::ListMechs() {
  RequestFields request;
  request.opcode = Opcode::kSaslListMechs;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  std::vector<std::string> mechs;
  std::string_view rest = response.value;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    const std::string_view mech = rest.substr(0, space);
    if (!mech.empty()) mechs.emplace_back(mech);
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return mechs;
}

namespace {

Status AuthFailure(const Response& response, std::string_view step) {
  if (response.status == McbpStatus::kAuthError) {
    return Status(Errc::kAuthError, fmt::format("{}: authentication failed", step));
  }
  return Status(protocol::ErrcFromMcbpStatus(response.status),
                fmt::format("{}: unexpected status {} ({:#x})", step,
                            protocol::McbpStatusName(response.status),
                            static_cast<uint16_t>(response.status)));
}

}  // namespace

Status Connection::Authenticate(std::string_view user, std::string_view password,
                                std::string_view mechanism) {
  const std::optional<sasl::Mechanism> mech = sasl::ParseMechanism(mechanism);
  if (!mech) return Status(Errc::kInvalid, fmt::format("unknown SASL mechanism {}", mechanism));

  RequestFields auth;
  auth.opcode = Opcode::kSaslAuth;
  auth.key = mechanism;

  if (*mech == sasl::Mechanism::kPlain) {
    ASSIGN_OR_RETURN(std::string message, sasl::PlainClientMessage(user, password));
    auth.value = message;
    ASSIGN_OR_RETURN(Response response, Execute(auth));
    return response.ok() ? Status::Ok() : AuthFailure(response, "SASL_AUTH");
  }

  sasl::ScramClient scram(*mech, std::string(user), std::string(password));
  ASSIGN_OR_RETURN(std::string client_first, scram.Start());
  auth.value = client_first;
  ASSIGN_OR_RETURN(Response first, Execute(auth));
  if (first.status != McbpStatus::kAuthContinue) return AuthFailure(first, "SASL_AUTH");

  ASSIGN_OR_RETURN(std::string client_final, scram.Step(first.value));
  RequestFields step;
  step.opcode = Opcode::kSaslStep;
  step.key = mechanism;
  step.value = client_final;
  ASSIGN_OR_RETURN(Response last, Execute(step));
  if (!last.ok()) return AuthFailure(last, "SASL_STEP");
  return scram.Verify(last.value);
}

Status Connection::SelectBucket(std::string_view bucket) {
  RequestFields request;
  request.opcode = Opcode::kSelectBucket;
  request.key = bucket;
  return ExecuteExpectSuccess(request).status();
}

}  // namespace sluice::client
