// File: server/command_table.cc
#include "server/command_table.h"

#include <array>

#include "server/commands.h"

namespace sluice::server {
namespace {

using protocol::Opcode;

// Every command sluice serves, by its non-quiet opcode (the quiet twin is added from the same
// row). An opcode not listed is answered UNKNOWN_COMMAND.
constexpr Command kRows[] = {
    // Session (commands_session.cc).
    {Opcode::kHello, Hello, Needs::kNothing},
    {Opcode::kSaslListMechs, SaslListMechs, Needs::kNothing},
    {Opcode::kSaslAuth, SaslAuth, Needs::kNothing},
    {Opcode::kSaslStep, SaslStep, Needs::kNothing},
    {Opcode::kSelectBucket, SelectBucket, Needs::kAuth},
    {Opcode::kListBuckets, ListBuckets, Needs::kAuth},
    {Opcode::kGetErrorMap, GetErrorMap, Needs::kNothing},
    {Opcode::kVersion, Version, Needs::kNothing},
    {Opcode::kNoop, Noop, Needs::kNothing},
    {Opcode::kVerbosity, Noop, Needs::kAuth},
    {Opcode::kQuit, Quit, Needs::kNothing},

    // Documents (commands_kv.cc).
    {Opcode::kGet, Get, Needs::kBucket},
    {Opcode::kGetk, Get, Needs::kBucket, {.returns_key = true}},
    {Opcode::kSet, Store, Needs::kBucket, {.mutation = Mutation::kSet}},
    {Opcode::kAdd, Store, Needs::kBucket, {.mutation = Mutation::kAdd}},
    {Opcode::kReplace, Store, Needs::kBucket, {.mutation = Mutation::kReplace}},
    {Opcode::kDelete, Delete, Needs::kBucket},
    {Opcode::kIncrement, Arithmetic, Needs::kBucket, {.mutation = Mutation::kIncrement}},
    {Opcode::kDecrement, Arithmetic, Needs::kBucket, {.mutation = Mutation::kDecrement}},
    {Opcode::kAppend, AppendPrepend, Needs::kBucket, {.mutation = Mutation::kAppend}},
    {Opcode::kPrepend, AppendPrepend, Needs::kBucket, {.mutation = Mutation::kPrepend}},
    {Opcode::kTouch, Touch, Needs::kBucket},
    {Opcode::kGat, Touch, Needs::kBucket, {.returns_value = true}},
    {Opcode::kGetMeta, GetMeta, Needs::kBucket},
    // A replica's documents (commands_replica.cc).
    {Opcode::kGetReplica, GetReplica, Needs::kBucket},

    // Subdocument (commands_subdoc.cc): the request is checked before the bucket is required.
    {Opcode::kSubdocGet, Subdoc, Needs::kAuth},
    {Opcode::kSubdocExists, Subdoc, Needs::kAuth},
    {Opcode::kSubdocDictAdd, Subdoc, Needs::kAuth},
    {Opcode::kSubdocDictUpsert, Subdoc, Needs::kAuth},
    {Opcode::kSubdocDelete, Subdoc, Needs::kAuth},
    {Opcode::kSubdocReplace, Subdoc, Needs::kAuth},
    {Opcode::kSubdocArrayPushLast, Subdoc, Needs::kAuth},
    {Opcode::kSubdocArrayPushFirst, Subdoc, Needs::kAuth},
    {Opcode::kSubdocArrayInsert, Subdoc, Needs::kAuth},
    {Opcode::kSubdocArrayAddUnique, Subdoc, Needs::kAuth},
    {Opcode::kSubdocCounter, Subdoc, Needs::kAuth},
    {Opcode::kSubdocMultiLookup, Subdoc, Needs::kAuth},
    {Opcode::kSubdocMultiMutation, Subdoc, Needs::kAuth},
    {Opcode::kSubdocGetCount, Subdoc, Needs::kAuth},
    {Opcode::kSubdocReplaceBodyWithXattr, Subdoc, Needs::kAuth},

    // Administration (commands_admin.cc).
    {Opcode::kStat, Stat, Needs::kAuth},
    {Opcode::kGetCmdTimer, GetCmdTimer, Needs::kAuth},
    {Opcode::kSetVbucket, SetVBucket, Needs::kBucket},
    {Opcode::kGetVbucket, GetVBucket, Needs::kBucket},
    {Opcode::kDelVbucket, DelVBucket, Needs::kBucket},
    {Opcode::kGetAllVbSeqnos, GetAllVbSeqnos, Needs::kBucket},
    {Opcode::kObserveSeqno, ObserveSeqno, Needs::kBucket},
    {Opcode::kGetFailoverLog, GetFailoverLog, Needs::kBucket},
    {Opcode::kGetClusterConfig, GetClusterConfig, Needs::kBucket},

    // DCP, the producer side (commands_dcp.cc).
    {Opcode::kDcpOpen, DcpOpen, Needs::kBucket},
    {Opcode::kDcpControl, DcpControl, Needs::kBucket},
    {Opcode::kDcpStreamReq, DcpStreamReq, Needs::kBucket},
    {Opcode::kDcpCloseStream, DcpCloseStream, Needs::kBucket},
    {Opcode::kDcpGetFailoverLog, DcpGetFailoverLog, Needs::kBucket},
    {Opcode::kDcpBufferAcknowledgement, DcpBufferAck, Needs::kBucket},
    {Opcode::kDcpNoop, DcpNoop, Needs::kBucket},

    // DCP, the consumer side (commands_dcp_consumer.cc); CLOSE_STREAM and NOOP above serve both.
    {Opcode::kDcpAddStream, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpStreamEnd, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpSnapshotMarker, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpMutation, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpDeletion, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpExpiration, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpSetVbucketState, ConsumerRequest, Needs::kBucket},
    {Opcode::kDcpSeqnoAdvanced, ConsumerRequest, Needs::kBucket},

    // DCP, the producer side again: a consumer's SEQNO_ACKNOWLEDGED (commands_dcp.cc).
    {Opcode::kDcpSeqnoAcknowledged, DcpSeqnoAcknowledged, Needs::kBucket},
};

using Table = std::array<Command, 256>;

Table BuildTable() {
  Table table;
  for (size_t i = 0; i < table.size(); ++i) table[i].opcode = static_cast<Opcode>(i);
  for (const Command& row : kRows) {
    table[static_cast<uint8_t>(row.opcode)] = row;
    if (const auto twin = protocol::QuietOpcode(row.opcode)) {
      Command quiet = row;
      quiet.opcode = *twin;
      quiet.facts.quiet = true;
      table[static_cast<uint8_t>(*twin)] = quiet;
    }
  }
  return table;
}

}  // namespace

const Command& CommandOf(Opcode op) {
  static const Table table = BuildTable();
  return table[static_cast<uint8_t>(op)];
}

}  // namespace sluice::server
