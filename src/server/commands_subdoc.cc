// File: server/commands_subdoc.cc
//
// Dispatch, the shared fetch, and the lookups. Mutations: subdoc_mutation.cc.
#include <string>

#include "protocol/subdoc.h"
#include "server/command_util.h"
#include "server/commands.h"
#include "server/subdoc_command.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::SubdocRequest;

namespace {

bool HasResponseValue(Opcode op) {
  const auto traits = protocol::SubdocTraitsOf(op);
  return traits && traits->response != protocol::SubdocResponse::kNone;
}

void RespondCheck(Connection& conn, const Frame& req, const protocol::SubdocCheck& check) {
  switch (check.status) {
    case McbpStatus::kEinval:
      conn.RespondError(req, Status(Errc::kInvalid, check.context));
      return;
    case McbpStatus::kNotSupported:
      conn.RespondError(req, Status(Errc::kNotSupported, check.context));
      return;
    default:
      conn.Respond(req, check.status);
      return;
  }
}

CommandResult Lookup(Connection& conn, const Frame& req, const SubdocRequest& request,
                     engine::Bucket& bucket) {
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  const bool access_deleted = (request.doc_flags & protocol::kSubdocDocFlagAccessDeleted) != 0;
  SubdocFetch fetch = FetchForSubdoc(conn, req, bucket, *key, access_deleted);
  if (!fetch.done) return fetch.result;
  if (!fetch.doc) {
    conn.RespondError(req, Status(Errc::kNotFound));
    return CommandResult::kDone;
  }
  const engine::GetResult& doc = *fetch.doc;
  if (req.cas != 0 && req.cas != doc.cas) {
    conn.RespondError(req, Status(Errc::kExists));
    return CommandResult::kDone;
  }
  SubdocExecution exec(request, InputFrom(bucket, req.vbucket(), doc));
  exec.Run();
  McbpStatus status = exec.status();
  if (!request.multi) {
    if (status != McbpStatus::kSuccess) {
      conn.Respond(req, status);
      return CommandResult::kDone;
    }
    const bool json = HasResponseValue(request.specs[0].opcode);
    conn.Respond(req, doc.deleted ? McbpStatus::kSubdocSuccessDeleted : McbpStatus::kSuccess, {},
                 {}, SubdocResponseBody(request, exec),
                 json ? VisibleDatatype(conn, protocol::kDatatypeJson) : 0, doc.cas);
    return CommandResult::kDone;
  }
  if (doc.deleted) {
    status = status == McbpStatus::kSuccess ? McbpStatus::kSubdocSuccessDeleted
                                            : McbpStatus::kSubdocMultiPathFailureDeleted;
  }
  conn.Respond(req, status, {}, {}, SubdocResponseBody(request, exec), 0, doc.cas);
  return CommandResult::kDone;
}

}  // namespace

SubdocFetch FetchForSubdoc(Connection& conn, const Frame& req, engine::Bucket& bucket,
                           std::string_view key, bool include_deleted) {
  SubdocFetch fetch;
  auto r = bucket.Get(req.vbucket(), key, conn.waiter(), include_deleted);
  if (r.ok()) {
    fetch.done = true;
    fetch.doc = std::move(*r);
    return fetch;
  }
  if (r.status().code() == Errc::kNotFound) {
    fetch.done = true;
    return fetch;
  }
  if (r.status().code() == Errc::kWouldBlock) {
    fetch.result = CommandResult::kWouldBlock;
    return fetch;
  }
  conn.RespondError(req, r.status());
  return fetch;
}

SubdocInput InputFrom(engine::Bucket& bucket, Vbid vbid, const engine::GetResult& doc) {
  SubdocInput in;
  in.value = std::string(doc.value.view());
  in.datatype = doc.datatype;
  in.meta.cas = doc.cas;
  in.meta.seqno = doc.seqno;
  in.meta.rev_seqno = doc.rev_seqno;
  in.meta.expiry = doc.deleted ? 0 : doc.expiry;  // a tombstone's expiry field is its delete time
  in.meta.flags = doc.flags;
  in.meta.datatype = doc.datatype;
  in.meta.deleted = doc.deleted;
  if (auto vb = bucket.GetVBucket(vbid)) in.meta.vbucket_uuid = vb->uuid();
  if (auto hlc = bucket.GetHlcNow(vbid); hlc.ok()) in.hlc = *hlc;
  return in;
}

std::string SubdocResponseBody(const SubdocRequest& request, const SubdocExecution& exec) {
  const auto& results = exec.results();
  if (!request.multi) return HasResponseValue(request.specs[0].opcode) ? results[0].value : "";
  std::string body;
  for (size_t i = 0; i < results.size(); ++i) {
    const bool has_value = HasResponseValue(request.specs[i].opcode);
    if (!request.mutator) {
      protocol::AppendSubdocLookupResult(&body, results[i].status,
                                         has_value ? std::string_view(results[i].value) : "");
    } else if (exec.status() != McbpStatus::kSuccess) {
      if (results[i].status != McbpStatus::kSuccess) {  // the first failure only
        protocol::AppendSubdocMutationResult(&body, static_cast<uint8_t>(i), results[i].status, {});
        break;
      }
    } else if (has_value && !results[i].value.empty()) {
      protocol::AppendSubdocMutationResult(&body, static_cast<uint8_t>(i), McbpStatus::kSuccess,
                                           results[i].value);
    }
  }
  return body;
}

CommandResult Subdoc(Connection& conn, const Frame& req, const CommandFacts&) {
  SubdocRequest request;
  const protocol::SubdocCheck check =
      protocol::ParseSubdocRequest(req, conn.HasFeature(protocol::Feature::kXattr), &request);
  if (!check.ok()) {
    RespondCheck(conn, req, check);
    return CommandResult::kDone;
  }
  engine::Bucket* bucket = RequireBucket(conn, req);
  if (bucket == nullptr) return CommandResult::kDone;
  if (request.mutator) return SubdocMutation(conn, req, request, *bucket);
  return Lookup(conn, req, request, *bucket);
}

}  // namespace sluice::server
