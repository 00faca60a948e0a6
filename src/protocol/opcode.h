// File: protocol/opcode.h
//
// Opcodes of the memcached binary protocol as kv_engine defines them, their canonical names (the
// spelling kv_engine uses in cbstats timings and logs: "GET", "DCP_MUTATION", ...) and their static
// attributes: quiet variants, DCP membership, whether a request may carry a durability or
// preserve-TTL frame info, and whether its key carries a collection id when collections are
// enabled.
//
// Opcode is the client opcode space (magic 0x80/0x81/0x08/0x18); ServerOpcode is the separate space
// of server-initiated requests (magic 0x82/0x83). Note for readers of older docs: SEQNO_PERSISTENCE
// is 0xb7 (0xb3 is COMPACT_DB).
//
// Thread safety: pure functions over immutable tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::protocol {

enum class Opcode : uint8_t {
  kGet = 0x00,
  kSet = 0x01,
  kAdd = 0x02,
  kReplace = 0x03,
  kDelete = 0x04,
  kIncrement = 0x05,
  kDecrement = 0x06,
  kQuit = 0x07,
  kFlush = 0x08,  // kv_engine: Flush_Unsupported
  kGetq = 0x09,
  kNoop = 0x0a,
  kVersion = 0x0b,
  kGetk = 0x0c,
  kGetkq = 0x0d,
  kAppend = 0x0e,
  kPrepend = 0x0f,
  kStat = 0x10,
  kSetq = 0x11,
  kAddq = 0x12,
  kReplaceq = 0x13,
  kDeleteq = 0x14,
  kIncrementq = 0x15,
  kDecrementq = 0x16,
  kQuitq = 0x17,
  kFlushq = 0x18,  // kv_engine: Flushq_Unsupported
  kAppendq = 0x19,
  kPrependq = 0x1a,
  kVerbosity = 0x1b,
  kTouch = 0x1c,
  kGat = 0x1d,
  kGatq = 0x1e,
  kHello = 0x1f,

  kSaslListMechs = 0x20,
  kSaslAuth = 0x21,
  kSaslStep = 0x22,
  kIoctlGet = 0x23,
  kIoctlSet = 0x24,
  kConfigValidate = 0x25,
  kConfigReload = 0x26,
  kAuditPut = 0x27,
  kAuditConfigReload = 0x28,
  kShutdown = 0x29,
  kSetBucketThrottleProperties = 0x2a,
  kSetBucketDataLimitExceeded = 0x2b,
  kSetNodeThrottleProperties = 0x2c,  // unsupported in kv_engine
  kSetActiveEncryptionKeys = 0x2d,
  kPruneEncryptionKeys = 0x2e,
  kRegisterAuthToken = 0x2f,

  // Range operations: reserved, never implemented.
  kRget = 0x30,
  kRset = 0x31,
  kRsetq = 0x32,
  kRappend = 0x33,
  kRappendq = 0x34,
  kRprepend = 0x35,
  kRprependq = 0x36,
  kRdelete = 0x37,
  kRdeleteq = 0x38,
  kRincr = 0x39,
  kRincrq = 0x3a,
  kRdecr = 0x3b,
  kRdecrq = 0x3c,

  kSetVbucket = 0x3d,
  kGetVbucket = 0x3e,
  kDelVbucket = 0x3f,

  // TAP: removed, reserved.
  kTapConnect = 0x40,
  kTapMutation = 0x41,
  kTapDelete = 0x42,
  kTapFlush = 0x43,
  kTapOpaque = 0x44,
  kTapVbucketSet = 0x45,
  kTapCheckpointStart = 0x46,
  kTapCheckpointEnd = 0x47,

  kGetAllVbSeqnos = 0x48,
  kGetEx = 0x49,
  kGetExReplica = 0x4a,
  kMutateWithMeta = 0x4b,

  kDcpOpen = 0x50,
  kDcpAddStream = 0x51,
  kDcpCloseStream = 0x52,
  kDcpStreamReq = 0x53,
  kDcpGetFailoverLog = 0x54,
  kDcpStreamEnd = 0x55,
  kDcpSnapshotMarker = 0x56,
  kDcpMutation = 0x57,
  kDcpDeletion = 0x58,
  kDcpExpiration = 0x59,
  kDcpFlush = 0x5a,  // obsolete
  kDcpSetVbucketState = 0x5b,
  kDcpNoop = 0x5c,
  kDcpBufferAcknowledgement = 0x5d,
  kDcpControl = 0x5e,
  kDcpSystemEvent = 0x5f,
  kDcpPrepare = 0x60,
  kDcpSeqnoAcknowledged = 0x61,
  kDcpCommit = 0x62,
  kDcpAbort = 0x63,
  kDcpSeqnoAdvanced = 0x64,
  kDcpOsoSnapshot = 0x65,
  kDcpCacheTransfer = 0x66,
  kDcpCacheTransferEnd = 0x67,

  kGetFusionStorageSnapshot = 0x70,
  kReleaseFusionStorageSnapshot = 0x71,
  kMountFusionVbucket = 0x72,
  kUnmountFusionVbucket = 0x73,
  kSyncFusionLogstore = 0x74,
  kStartFusionUploader = 0x75,
  kStopFusionUploader = 0x76,
  kDeleteFusionNamespace = 0x77,
  kGetFusionNamespaces = 0x78,
  kCreateFusionNamespace = 0x79,

  kStopPersistence = 0x80,
  kStartPersistence = 0x81,
  kSetParam = 0x82,
  kGetReplica = 0x83,
  kSetChronicleAuthToken = 0x84,
  kCreateBucket = 0x85,
  kDeleteBucket = 0x86,
  kListBuckets = 0x87,
  kSelectBucket = 0x89,
  kPauseBucket = 0x8a,
  kResumeBucket = 0x8b,
  kValidateBucketConfig = 0x8c,

  kObserveSeqno = 0x91,
  kObserve = 0x92,
  kEvictKey = 0x93,
  kGetLocked = 0x94,
  kUnlockKey = 0x95,
  kGetFailoverLog = 0x96,
  kLastClosedCheckpoint = 0x97,   // unsupported
  kDeregisterTapClient = 0x9e,    // unsupported
  kResetReplicationChain = 0x9f,  // unsupported

  kGetMeta = 0xa0,
  kGetqMeta = 0xa1,
  kSetWithMeta = 0xa2,
  kSetqWithMeta = 0xa3,
  kAddWithMeta = 0xa4,
  kAddqWithMeta = 0xa5,
  kSnapshotVbStates = 0xa6,   // unsupported
  kVbucketBatchCount = 0xa7,  // unsupported
  kDelWithMeta = 0xa8,
  kDelqWithMeta = 0xa9,
  kCreateCheckpoint = 0xaa,     // unsupported
  kNotifyVbucketUpdate = 0xac,  // unsupported
  kEnableTraffic = 0xad,
  kDisableTraffic = 0xae,
  kIfconfig = 0xaf,
  kChangeVbFilter = 0xb0,         // unsupported
  kCheckpointPersistence = 0xb1,  // unsupported
  kReturnMeta = 0xb2,
  kCompactDb = 0xb3,
  kSetClusterConfig = 0xb4,
  kGetClusterConfig = 0xb5,
  kGetRandomKey = 0xb6,
  kSeqnoPersistence = 0xb7,
  kGetKeys = 0xb8,
  kCollectionsSetManifest = 0xb9,
  kCollectionsGetManifest = 0xba,
  kCollectionsGetId = 0xbb,
  kCollectionsGetScopeId = 0xbc,

  kSetDriftCounterState = 0xc1,  // unsupported
  kGetAdjustedTime = 0xc2,       // unsupported

  kSubdocGet = 0xc5,
  kSubdocExists = 0xc6,
  kSubdocDictAdd = 0xc7,
  kSubdocDictUpsert = 0xc8,
  kSubdocDelete = 0xc9,
  kSubdocReplace = 0xca,
  kSubdocArrayPushLast = 0xcb,
  kSubdocArrayPushFirst = 0xcc,
  kSubdocArrayInsert = 0xcd,
  kSubdocArrayAddUnique = 0xce,
  kSubdocCounter = 0xcf,
  kSubdocMultiLookup = 0xd0,
  kSubdocMultiMutation = 0xd1,
  kSubdocGetCount = 0xd2,
  kSubdocReplaceBodyWithXattr = 0xd3,

  kRangeScanCreate = 0xda,
  kRangeScanContinue = 0xdb,
  kRangeScanCancel = 0xdc,

  kPrepareSnapshot = 0xe0,
  kReleaseSnapshot = 0xe1,
  kDownloadSnapshot = 0xe2,
  kGetFileFragment = 0xe3,

  kScrub = 0xf0,  // unsupported
  kIsaslRefresh = 0xf1,
  kSslCertsRefresh = 0xf2,  // unsupported
  kGetCmdTimer = 0xf3,
  kSetCtrlToken = 0xf4,
  kGetCtrlToken = 0xf5,
  kUpdateExternalUserPermissions = 0xf6,
  kRbacRefresh = 0xf7,
  kAuthProvider = 0xf8,
  kDropPrivilege = 0xfb,
  kAdjustTimeofday = 0xfc,
  kEwouldblockCtl = 0xfd,
  kGetErrorMap = 0xfe,
  kInvalid = 0xff,  // reserved: never a valid command
};

// Server-initiated requests (magic 0x82, answered by the client with 0x83); only after HELLO
// Duplex.
enum class ServerOpcode : uint8_t {
  kClustermapChangeNotification = 0x01,
  kAuthenticate = 0x02,
  kActiveExternalUsers = 0x03,
  kGetAuthorization = 0x04,
};

// True for every opcode kv_engine assigns (including the ones it marks unsupported).
bool IsKnownOpcode(Opcode op);
// Known and not retired (FLUSH, TAP, range ops and the other *_Unsupported ones are retired).
bool IsSupportedOpcode(Opcode op);

// "GET", "DCP_MUTATION", ... ; "UNKNOWN" for an unassigned value.
std::string_view OpcodeName(Opcode op);
// Inverse of OpcodeName for known opcodes.
std::optional<Opcode> OpcodeFromName(std::string_view name);
std::string_view ServerOpcodeName(ServerOpcode op);  // "UNKNOWN" for an unassigned value

// A quiet variant suppresses (some of) its responses: GETQ/GETKQ send nothing on a miss, the
// quiet mutations answer only on error, QUITQ never answers.
bool IsQuiet(Opcode op);
// The non-quiet counterpart of a quiet opcode (GETQ -> GET, GETKQ -> GETK, SETQ -> SET, ...);
// `op` itself when it is not quiet. Used to share one handler and one timing histogram.
Opcode NonQuietOpcode(Opcode op);
// The quiet variant of `op`, if it has one (GET -> GETQ, ...).
std::optional<Opcode> QuietOpcode(Opcode op);

// Part of the DCP subsystem (0x50-0x67).
bool IsDcpOpcode(Opcode op);
// May carry a durability-requirement frame info (SET, ADD, REPLACE, DELETE, INCR, DECR, APPEND,
// PREPEND, TOUCH, GAT and subdoc mutations).
bool SupportsDurability(Opcode op);
// May carry the preserve-TTL frame info.
bool SupportsPreserveTtl(Opcode op);
// The key is a document key, LEB128-prefixed with a collection id when collections are enabled.
bool IsCollectionKeyOpcode(Opcode op);

}  // namespace sluice::protocol
