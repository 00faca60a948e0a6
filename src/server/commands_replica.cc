// File: server/commands_replica.cc
//
// GET_REPLICA (0x83): a document from a replica vbucket, answered like GET (flags in the extras,
// the body, its datatype, the CAS; no key). As in kv_engine, only a replica vbucket serves it:
// an active, pending, dead or missing one answers NOT_MY_VBUCKET (with the cluster config), and
// an expired document is not found (its expiration arrives from the active over DCP).
#include "protocol/byte_order.h"
#include "server/command_util.h"
#include "server/commands.h"
#include "xattr/blob.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;

CommandResult GetReplica(Connection& conn, const Frame& req, const CommandFacts&) {
  engine::Bucket& bucket = *conn.bucket();
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.Get(req.vbucket(), *key, conn.waiter(), /*include_deleted=*/false,
                      engine::ReadFrom::kReplica);
  if (!r.ok()) {
    const Errc code = r.status().code();
    if (code == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    if (code == Errc::kNotFound) {
      conn.Respond(req, McbpStatus::kKeyEnoent);
    } else {
      conn.RespondError(req, r.status());
    }
    return CommandResult::kDone;
  }
  std::string flags;
  protocol::AppendBe32(&flags, r->flags);
  // Only the body goes out (as GET): the datatype is the body's.
  conn.Respond(req, McbpStatus::kSuccess, flags, {}, xattr::Body(r->datatype, r->value.view()),
               VisibleDatatype(conn, r->datatype & ~protocol::kDatatypeXattr), r->cas);
  return CommandResult::kDone;
}

}  // namespace sluice::server
