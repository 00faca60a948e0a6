// File: server/subdoc_mutation.cc
//
// The subdoc mutations (Subdoc in server/commands.h has the rules): fetch, run the specs, store
// with a CAS check, retry on a race.
#include <string>

#include "common/logging.h"
#include "protocol/frame_info.h"
#include "protocol/subdoc.h"
#include "server/command_util.h"
#include "server/durable_write.h"
#include "server/subdoc_command.h"
#include "subdoc/operation.h"
#include "xattr/blob.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::SubdocRequest;

namespace {

// kv_engine's cb::limits::SubdocMaxAutoRetries.
constexpr int kMaxAutoRetries = 100;

bool Has(const SubdocRequest& r, uint8_t doc_flag) { return (r.doc_flags & doc_flag) != 0; }

// What one attempt decided.
enum class Outcome { kAnswered, kWouldBlock, kRetry };

// The request-wide facts of one attempt, from the fetched document.
struct Attempt {
  std::optional<engine::GetResult> doc;  // nullopt: the document is created
  bool in_deleted = false;               // kv_engine's in_document_state == Deleted
  uint64_t in_cas = 0;                   // what the store must match
};

// The empty document a creating mutation starts from (kv_engine: the first path spec decides).
SubdocInput NewDocument(const SubdocRequest& request) {
  SubdocInput in;
  if (!Has(request, protocol::kSubdocDocFlagCreateAsDeleted)) {
    for (const protocol::SubdocSpec& spec : request.specs) {
      const auto traits = protocol::SubdocTraitsOf(spec.opcode);
      if (traits && traits->scope == protocol::SubdocScope::kPath) {
        in.value = std::string(subdoc::EmptyRootFor(spec.opcode, spec.path));
        break;
      }
    }
  }
  in.datatype = in.value.empty() ? protocol::kDatatypeRaw : protocol::kDatatypeJson;
  in.meta.deleted = Has(request, protocol::kSubdocDocFlagCreateAsDeleted);
  return in;
}

// Decides what the attempt starts from, or answers (false).
bool Prepare(Connection& conn, const Frame& req, const SubdocRequest& request,
             std::optional<engine::GetResult> doc, Attempt* a) {
  const bool add = Has(request, protocol::kSubdocDocFlagAdd);
  const bool mkdoc = Has(request, protocol::kSubdocDocFlagMkdoc);
  if (doc && doc->deleted && !Has(request, protocol::kSubdocDocFlagAccessDeleted)) {
    // Read only for CreateAsDeleted: Add must not replace a tombstone (kv_engine's Add doc
    // flag); Mkdoc creates over it.
    if (add) {
      conn.RespondError(req, Status(Errc::kExists));
      return false;
    }
    doc.reset();
  }
  if (!doc) {
    if (!add && !mkdoc) {
      conn.RespondError(req, Status(Errc::kNotFound));
      return false;
    }
    a->in_deleted = Has(request, protocol::kSubdocDocFlagCreateAsDeleted);
    return true;
  }
  if (add || (req.cas != 0 && req.cas != doc->cas)) {
    conn.RespondError(req, Status(Errc::kExists));
    return false;
  }
  if (Has(request, protocol::kSubdocDocFlagReviveDocument) && !doc->deleted) {
    conn.Respond(req, McbpStatus::kSubdocCanOnlyReviveDeletedDocuments);
    return false;
  }
  a->in_deleted = doc->deleted;
  a->in_cas = req.cas != 0 ? req.cas : doc->cas;
  a->doc = std::move(doc);
  return true;
}

// The store of a successful execution; kExists means another write came first.
StatusOr<engine::MutationResult> Store(Connection& conn, const Frame& req,
                                       const SubdocRequest& request, engine::Bucket& bucket,
                                       std::string_view key, const Attempt& a,
                                       const SubdocExecution& exec,
                                       const engine::SyncWriteSpec* sync) {
  if (exec.delete_document() && !exec.has_xattrs()) {
    return bucket.Delete(req.vbucket(), key, a.in_cas, conn.waiter(), sync);
  }
  const bool revive = Has(request, protocol::kSubdocDocFlagReviveDocument);
  engine::StoreRequest sr;
  sr.key = key;
  sr.value = exec.value();
  sr.datatype = exec.datatype();
  // Reviving cannot be a CAS replace of the tombstone (kv_engine): an add over it.
  sr.op = !a.doc || revive ? engine::StoreOp::kAdd : engine::StoreOp::kReplace;
  sr.cas = sr.op == engine::StoreOp::kAdd ? 0 : a.in_cas;
  sr.cas_may_match_tombstone = a.in_deleted;
  sr.deleted = exec.delete_document() || (a.in_deleted && !revive);
  sr.flags = request.user_flags.value_or(a.doc ? a.doc->flags : 0);
  auto infos = protocol::ParseRequestFrameInfos(req.framing_extras);
  const bool preserve_ttl = infos.ok() && infos->preserve_ttl;
  sr.expiry = preserve_ttl && a.doc && !a.doc->deleted
                  ? a.doc->expiry
                  : engine::ExpiryFromWire(request.expiry, conn.ctx().clock().WallSeconds());
  sr.pre_link = exec.PreLink();
  sr.sync = sync;
  return bucket.Store(req.vbucket(), sr);
}

// Checks the executed document against the rules the store does not know.
McbpStatus CheckResult(const Attempt& a, const SubdocRequest& request,
                       const SubdocExecution& exec) {
  if (a.in_deleted && !Has(request, protocol::kSubdocDocFlagReviveDocument) &&
      exec.body_size() > 0) {
    return McbpStatus::kSubdocDeletedDocumentCantHaveValue;
  }
  if (exec.has_xattrs()) {
    const auto split = xattr::SplitValue(exec.value());
    if (split && xattr::SystemSize(split->section) > xattr::kMaxSystemXattrBytes) {
      return McbpStatus::kE2big;
    }
  }
  return McbpStatus::kSuccess;
}

Outcome RunAttempt(Connection& conn, const Frame& req, const SubdocRequest& request,
                   engine::Bucket& bucket, std::string_view key, DurabilityScope& durability,
                   CommandResult* result) {
  const bool read_deleted = Has(request, protocol::kSubdocDocFlagAccessDeleted) ||
                            Has(request, protocol::kSubdocDocFlagCreateAsDeleted);
  SubdocFetch fetch = FetchForSubdoc(conn, req, bucket, key, read_deleted);
  if (!fetch.done) {
    *result = fetch.result;
    return fetch.result == CommandResult::kWouldBlock ? Outcome::kWouldBlock : Outcome::kAnswered;
  }
  Attempt a;
  if (!Prepare(conn, req, request, std::move(fetch.doc), &a)) return Outcome::kAnswered;
  SubdocExecution exec(request,
                       a.doc ? InputFrom(bucket, req.vbucket(), *a.doc) : NewDocument(request));
  exec.Run();
  McbpStatus status = exec.status();
  if (status == McbpStatus::kSuccess) status = CheckResult(a, request, exec);
  if (status != McbpStatus::kSuccess) {
    conn.Respond(req, status, {}, {}, request.multi ? SubdocResponseBody(request, exec) : "");
    return Outcome::kAnswered;
  }
  auto stored = Store(conn, req, request, bucket, key, a, exec, durability.sync());
  if (!stored.ok()) {
    const Errc code = stored.status().code();
    if (code == Errc::kWouldBlock) return Outcome::kWouldBlock;
    if (code == Errc::kExists && req.cas == 0) return Outcome::kRetry;
    // The tombstone this attempt read was persisted and dropped from memory before the store:
    // fetch it again (from disk) and run again.
    if (code == Errc::kNotFound && a.in_deleted && req.cas == 0) return Outcome::kRetry;
    conn.RespondError(req, stored.status());
    return Outcome::kAnswered;
  }
  MutationReply reply{*stored, SubdocResponseBody(request, exec)};
  const bool deleted = a.in_deleted && !Has(request, protocol::kSubdocDocFlagReviveDocument);
  reply.status = deleted ? McbpStatus::kSubdocSuccessDeleted : McbpStatus::kSuccess;
  if (!request.multi && !reply.value.empty()) {
    reply.datatype = VisibleDatatype(conn, protocol::kDatatypeJson);  // COUNTER's number
  }
  *result = durability.Finish(bucket, std::move(reply));
  return Outcome::kAnswered;
}

}  // namespace

CommandResult SubdocMutation(Connection& conn, const Frame& req, const SubdocRequest& request,
                             engine::Bucket& bucket) {
  DurabilityScope durability(conn, req, /*quiet=*/false);
  if (!durability.Begin(bucket)) return CommandResult::kDone;
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  for (int attempt = 0; attempt < kMaxAutoRetries; ++attempt) {
    CommandResult result = CommandResult::kDone;
    switch (RunAttempt(conn, req, request, bucket, *key, durability, &result)) {
      case Outcome::kAnswered:
        return result;
      case Outcome::kWouldBlock:
        return CommandResult::kWouldBlock;
      case Outcome::kRetry:
        break;  // another write came first and the client gave no CAS: start over
    }
  }
  LOG_WARN("conn {}: subdoc mutation gave up after {} CAS races", conn.id(), kMaxAutoRetries);
  conn.Respond(req, McbpStatus::kEtmpfail);
  return CommandResult::kDone;
}

}  // namespace sluice::server
