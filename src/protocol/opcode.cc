// File: protocol/opcode.cc
#include "protocol/opcode.h"

#include <array>

namespace sluice::protocol {
namespace {

enum Attr : uint16_t {
  kSupported = 1 << 0,
  kQuiet = 1 << 1,
  kDcp = 1 << 2,
  kDurability = 1 << 3,
  kPreserveTtl = 1 << 4,
  kCollection = 1 << 5,
};

struct OpcodeDef {
  Opcode op;
  std::string_view name;
  uint16_t attrs;
  Opcode counterpart;  // quiet <-> non-quiet partner; == op when there is none
};

constexpr uint16_t SUP = kSupported;
constexpr uint16_t KV = kSupported | kCollection;
constexpr uint16_t KVQ = kSupported | kCollection | kQuiet;
constexpr uint16_t DCP = kSupported | kDcp;

// Names and attributes as kv_engine declares them.
constexpr OpcodeDef kDefs[] = {
    {Opcode::kGet, "GET", KV, Opcode::kGetq},
    {Opcode::kSet, "SET", KV | kDurability | kPreserveTtl, Opcode::kSetq},
    {Opcode::kAdd, "ADD", KV | kDurability, Opcode::kAddq},
    {Opcode::kReplace, "REPLACE", KV | kDurability | kPreserveTtl, Opcode::kReplaceq},
    {Opcode::kDelete, "DELETE", KV | kDurability, Opcode::kDeleteq},
    {Opcode::kIncrement, "INCREMENT", KV | kDurability | kPreserveTtl, Opcode::kIncrementq},
    {Opcode::kDecrement, "DECREMENT", KV | kDurability | kPreserveTtl, Opcode::kDecrementq},
    {Opcode::kQuit, "QUIT", SUP, Opcode::kQuitq},
    {Opcode::kFlush, "FLUSH", 0, Opcode::kFlushq},
    {Opcode::kGetq, "GETQ", KVQ, Opcode::kGet},
    {Opcode::kNoop, "NOOP", SUP, Opcode::kNoop},
    {Opcode::kVersion, "VERSION", SUP, Opcode::kVersion},
    {Opcode::kGetk, "GETK", KV, Opcode::kGetkq},
    {Opcode::kGetkq, "GETKQ", KVQ, Opcode::kGetk},
    {Opcode::kAppend, "APPEND", KV | kDurability | kPreserveTtl, Opcode::kAppendq},
    {Opcode::kPrepend, "PREPEND", KV | kDurability | kPreserveTtl, Opcode::kPrependq},
    {Opcode::kStat, "STAT", SUP, Opcode::kStat},
    {Opcode::kSetq, "SETQ", KVQ | kPreserveTtl, Opcode::kSet},
    {Opcode::kAddq, "ADDQ", KVQ, Opcode::kAdd},
    {Opcode::kReplaceq, "REPLACEQ", KVQ | kPreserveTtl, Opcode::kReplace},
    {Opcode::kDeleteq, "DELETEQ", KVQ, Opcode::kDelete},
    {Opcode::kIncrementq, "INCREMENTQ", KVQ | kPreserveTtl, Opcode::kIncrement},
    {Opcode::kDecrementq, "DECREMENTQ", KVQ | kPreserveTtl, Opcode::kDecrement},
    {Opcode::kQuitq, "QUITQ", SUP | kQuiet, Opcode::kQuit},
    {Opcode::kFlushq, "FLUSHQ", kQuiet, Opcode::kFlush},
    {Opcode::kAppendq, "APPENDQ", KVQ | kPreserveTtl, Opcode::kAppend},
    {Opcode::kPrependq, "PREPENDQ", KVQ | kPreserveTtl, Opcode::kPrepend},
    {Opcode::kVerbosity, "VERBOSITY", SUP, Opcode::kVerbosity},
    {Opcode::kTouch, "TOUCH", KV | kDurability, Opcode::kTouch},
    {Opcode::kGat, "GAT", KV | kDurability, Opcode::kGatq},
    {Opcode::kGatq, "GATQ", KVQ, Opcode::kGat},
    {Opcode::kHello, "HELLO", SUP, Opcode::kHello},
    {Opcode::kSaslListMechs, "SASL_LIST_MECHS", SUP, Opcode::kSaslListMechs},
    {Opcode::kSaslAuth, "SASL_AUTH", SUP, Opcode::kSaslAuth},
    {Opcode::kSaslStep, "SASL_STEP", SUP, Opcode::kSaslStep},
    {Opcode::kIoctlGet, "IOCTL_GET", SUP, Opcode::kIoctlGet},
    {Opcode::kIoctlSet, "IOCTL_SET", SUP, Opcode::kIoctlSet},
    {Opcode::kConfigValidate, "CONFIG_VALIDATE", SUP, Opcode::kConfigValidate},
    {Opcode::kConfigReload, "CONFIG_RELOAD", SUP, Opcode::kConfigReload},
    {Opcode::kAuditPut, "AUDIT_PUT", SUP, Opcode::kAuditPut},
    {Opcode::kAuditConfigReload, "AUDIT_CONFIG_RELOAD", SUP, Opcode::kAuditConfigReload},
    {Opcode::kShutdown, "SHUTDOWN", SUP, Opcode::kShutdown},
    {Opcode::kSetBucketThrottleProperties, "SET_BUCKET_THROTTLE_PROPERTIES", SUP,
     Opcode::kSetBucketThrottleProperties},
    {Opcode::kSetBucketDataLimitExceeded, "SET_BUCKET_DATA_LIMIT_EXCEEDED", SUP,
     Opcode::kSetBucketDataLimitExceeded},
    {Opcode::kSetNodeThrottleProperties, "SET_NODE_THROTTLE_PROPERTIES", 0,
     Opcode::kSetNodeThrottleProperties},
    {Opcode::kSetActiveEncryptionKeys, "SET_ACTIVE_ENCRYPTION_KEYS", SUP,
     Opcode::kSetActiveEncryptionKeys},
    {Opcode::kPruneEncryptionKeys, "PRUNE_ENCRYPTION_KEYS", SUP, Opcode::kPruneEncryptionKeys},
    {Opcode::kRegisterAuthToken, "REGISTER AUTH TOKEN", SUP, Opcode::kRegisterAuthToken},
    {Opcode::kRget, "RGET", 0, Opcode::kRget},
    {Opcode::kRset, "RSET", 0, Opcode::kRset},
    {Opcode::kRsetq, "RSETQ", kQuiet, Opcode::kRsetq},
    {Opcode::kRappend, "RAPPEND", 0, Opcode::kRappend},
    {Opcode::kRappendq, "RAPPENDQ", kQuiet, Opcode::kRappendq},
    {Opcode::kRprepend, "RPREPEND", 0, Opcode::kRprepend},
    {Opcode::kRprependq, "RPREPENDQ", kQuiet, Opcode::kRprependq},
    {Opcode::kRdelete, "RDELETE", 0, Opcode::kRdelete},
    {Opcode::kRdeleteq, "RDELETEQ", kQuiet, Opcode::kRdeleteq},
    {Opcode::kRincr, "RINCR", 0, Opcode::kRincr},
    {Opcode::kRincrq, "RINCRQ", kQuiet, Opcode::kRincrq},
    {Opcode::kRdecr, "RDECR", 0, Opcode::kRdecr},
    {Opcode::kRdecrq, "RDECRQ", kQuiet, Opcode::kRdecrq},
    {Opcode::kSetVbucket, "SET_VBUCKET", SUP, Opcode::kSetVbucket},
    {Opcode::kGetVbucket, "GET_VBUCKET", SUP, Opcode::kGetVbucket},
    {Opcode::kDelVbucket, "DEL_VBUCKET", SUP, Opcode::kDelVbucket},
    {Opcode::kTapConnect, "TAP_CONNECT", 0, Opcode::kTapConnect},
    {Opcode::kTapMutation, "TAP_MUTATION", 0, Opcode::kTapMutation},
    {Opcode::kTapDelete, "TAP_DELETE", 0, Opcode::kTapDelete},
    {Opcode::kTapFlush, "TAP_FLUSH", 0, Opcode::kTapFlush},
    {Opcode::kTapOpaque, "TAP_OPAQUE", 0, Opcode::kTapOpaque},
    {Opcode::kTapVbucketSet, "TAP_VBUCKET_SET", 0, Opcode::kTapVbucketSet},
    {Opcode::kTapCheckpointStart, "TAP_CHECKPOINT_START", 0, Opcode::kTapCheckpointStart},
    {Opcode::kTapCheckpointEnd, "TAP_CHECKPOINT_END", 0, Opcode::kTapCheckpointEnd},
    {Opcode::kGetAllVbSeqnos, "GET_ALL_VB_SEQNOS", SUP, Opcode::kGetAllVbSeqnos},
    {Opcode::kGetEx, "GET_EX", KV, Opcode::kGetEx},
    {Opcode::kGetExReplica, "GET_EX_REPLICA", KV, Opcode::kGetExReplica},
    {Opcode::kMutateWithMeta, "MUTATE_WITH_META", KV, Opcode::kMutateWithMeta},
    {Opcode::kDcpOpen, "DCP_OPEN", DCP, Opcode::kDcpOpen},
    {Opcode::kDcpAddStream, "DCP_ADD_STREAM", DCP, Opcode::kDcpAddStream},
    {Opcode::kDcpCloseStream, "DCP_CLOSE_STREAM", DCP, Opcode::kDcpCloseStream},
    {Opcode::kDcpStreamReq, "DCP_STREAM_REQ", DCP, Opcode::kDcpStreamReq},
    {Opcode::kDcpGetFailoverLog, "DCP_GET_FAILOVER_LOG", DCP, Opcode::kDcpGetFailoverLog},
    {Opcode::kDcpStreamEnd, "DCP_STREAM_END", DCP, Opcode::kDcpStreamEnd},
    {Opcode::kDcpSnapshotMarker, "DCP_SNAPSHOT_MARKER", DCP, Opcode::kDcpSnapshotMarker},
    {Opcode::kDcpMutation, "DCP_MUTATION", DCP, Opcode::kDcpMutation},
    {Opcode::kDcpDeletion, "DCP_DELETION", DCP, Opcode::kDcpDeletion},
    {Opcode::kDcpExpiration, "DCP_EXPIRATION", DCP, Opcode::kDcpExpiration},
    {Opcode::kDcpFlush, "DCP_FLUSH", kDcp, Opcode::kDcpFlush},
    {Opcode::kDcpSetVbucketState, "DCP_SET_VBUCKET_STATE", DCP, Opcode::kDcpSetVbucketState},
    {Opcode::kDcpNoop, "DCP_NOOP", DCP, Opcode::kDcpNoop},
    {Opcode::kDcpBufferAcknowledgement, "DCP_BUFFER_ACKNOWLEDGEMENT", DCP,
     Opcode::kDcpBufferAcknowledgement},
    {Opcode::kDcpControl, "DCP_CONTROL", DCP, Opcode::kDcpControl},
    {Opcode::kDcpSystemEvent, "DCP_SYSTEM_EVENT", DCP, Opcode::kDcpSystemEvent},
    {Opcode::kDcpPrepare, "DCP_PREPARE", DCP, Opcode::kDcpPrepare},
    {Opcode::kDcpSeqnoAcknowledged, "DCP_SEQNO_ACKNOWLEDGED", DCP, Opcode::kDcpSeqnoAcknowledged},
    {Opcode::kDcpCommit, "DCP_COMMIT", DCP, Opcode::kDcpCommit},
    {Opcode::kDcpAbort, "DCP_ABORT", DCP, Opcode::kDcpAbort},
    {Opcode::kDcpSeqnoAdvanced, "DCP_SEQNO_ADVANCED", DCP, Opcode::kDcpSeqnoAdvanced},
    {Opcode::kDcpOsoSnapshot, "DCP_OSO_SNAPSHOT", DCP, Opcode::kDcpOsoSnapshot},
    {Opcode::kDcpCacheTransfer, "DCP_CACHE_TRANSFER", DCP, Opcode::kDcpCacheTransfer},
    {Opcode::kDcpCacheTransferEnd, "DCP_CACHE_TRANSFER_END", DCP, Opcode::kDcpCacheTransferEnd},
    {Opcode::kGetFusionStorageSnapshot, "GET_FUSION_STORAGE_SNAPSHOT", SUP,
     Opcode::kGetFusionStorageSnapshot},
    {Opcode::kReleaseFusionStorageSnapshot, "RELEASE_FUSION_STORAGE_SNAPSHOT", SUP,
     Opcode::kReleaseFusionStorageSnapshot},
    {Opcode::kMountFusionVbucket, "MOUNT_FUSION_VBUCKET", SUP, Opcode::kMountFusionVbucket},
    {Opcode::kUnmountFusionVbucket, "UNMOUNT_FUSION_VBUCKET", SUP, Opcode::kUnmountFusionVbucket},
    {Opcode::kSyncFusionLogstore, "SYNC_FUSION_LOGSTORE", SUP, Opcode::kSyncFusionLogstore},
    {Opcode::kStartFusionUploader, "START_FUSION_UPLOADER", SUP, Opcode::kStartFusionUploader},
    {Opcode::kStopFusionUploader, "STOP_FUSION_UPLOADER", SUP, Opcode::kStopFusionUploader},
    {Opcode::kDeleteFusionNamespace, "DELETE_FUSION_NAMESPACE", SUP,
     Opcode::kDeleteFusionNamespace},
    {Opcode::kGetFusionNamespaces, "GET_FUSION_NAMESPACES", SUP, Opcode::kGetFusionNamespaces},
    {Opcode::kCreateFusionNamespace, "CREATE_FUSION_NAMESPACE", SUP,
     Opcode::kCreateFusionNamespace},
    {Opcode::kStopPersistence, "STOP_PERSISTENCE", SUP, Opcode::kStopPersistence},
    {Opcode::kStartPersistence, "START_PERSISTENCE", SUP, Opcode::kStartPersistence},
    {Opcode::kSetParam, "SET_PARAM", SUP, Opcode::kSetParam},
    {Opcode::kGetReplica, "GET_REPLICA", KV, Opcode::kGetReplica},
    {Opcode::kSetChronicleAuthToken, "SET_CHRONICLE_AUTH_TOKEN", SUP,
     Opcode::kSetChronicleAuthToken},
    {Opcode::kCreateBucket, "CREATE_BUCKET", SUP, Opcode::kCreateBucket},
    {Opcode::kDeleteBucket, "DELETE_BUCKET", SUP, Opcode::kDeleteBucket},
    {Opcode::kListBuckets, "LIST_BUCKETS", SUP, Opcode::kListBuckets},
    {Opcode::kSelectBucket, "SELECT_BUCKET", SUP, Opcode::kSelectBucket},
    {Opcode::kPauseBucket, "PAUSE_BUCKET", SUP, Opcode::kPauseBucket},
    {Opcode::kResumeBucket, "RESUME_BUCKET", SUP, Opcode::kResumeBucket},
    {Opcode::kValidateBucketConfig, "VALIDATE_BUCKET_CONFIG", SUP, Opcode::kValidateBucketConfig},
    {Opcode::kObserveSeqno, "OBSERVE_SEQNO", SUP, Opcode::kObserveSeqno},
    {Opcode::kObserve, "OBSERVE", SUP, Opcode::kObserve},
    {Opcode::kEvictKey, "EVICT_KEY", KV, Opcode::kEvictKey},
    {Opcode::kGetLocked, "GET_LOCKED", KV, Opcode::kGetLocked},
    {Opcode::kUnlockKey, "UNLOCK_KEY", KV, Opcode::kUnlockKey},
    {Opcode::kGetFailoverLog, "GET_FAILOVER_LOG", SUP, Opcode::kGetFailoverLog},
    {Opcode::kLastClosedCheckpoint, "LAST_CLOSED_CHECKPOINT", 0, Opcode::kLastClosedCheckpoint},
    {Opcode::kDeregisterTapClient, "DEREGISTER_TAP_CLIENT", 0, Opcode::kDeregisterTapClient},
    {Opcode::kResetReplicationChain, "RESET_REPLICATION_CHAIN", 0, Opcode::kResetReplicationChain},
    {Opcode::kGetMeta, "GET_META", KV, Opcode::kGetqMeta},
    {Opcode::kGetqMeta, "GETQ_META", KVQ, Opcode::kGetMeta},
    {Opcode::kSetWithMeta, "SET_WITH_META", KV, Opcode::kSetqWithMeta},
    {Opcode::kSetqWithMeta, "SETQ_WITH_META", KVQ, Opcode::kSetWithMeta},
    {Opcode::kAddWithMeta, "ADD_WITH_META", KV, Opcode::kAddqWithMeta},
    {Opcode::kAddqWithMeta, "ADDQ_WITH_META", KVQ, Opcode::kAddWithMeta},
    {Opcode::kSnapshotVbStates, "SNAPSHOT_VB_STATES", 0, Opcode::kSnapshotVbStates},
    {Opcode::kVbucketBatchCount, "VBUCKET_BATCH_COUNT", 0, Opcode::kVbucketBatchCount},
    {Opcode::kDelWithMeta, "DEL_WITH_META", KV, Opcode::kDelqWithMeta},
    {Opcode::kDelqWithMeta, "DELQ_WITH_META", KVQ, Opcode::kDelWithMeta},
    {Opcode::kCreateCheckpoint, "CREATE_CHECKPOINT", 0, Opcode::kCreateCheckpoint},
    {Opcode::kNotifyVbucketUpdate, "NOTIFY_VBUCKET_UPDATE", 0, Opcode::kNotifyVbucketUpdate},
    {Opcode::kEnableTraffic, "ENABLE_TRAFFIC", SUP, Opcode::kEnableTraffic},
    {Opcode::kDisableTraffic, "DISABLE_TRAFFIC", SUP, Opcode::kDisableTraffic},
    {Opcode::kIfconfig, "IFCONFIG", SUP, Opcode::kIfconfig},
    {Opcode::kChangeVbFilter, "CHANGE_VB_FILTER", 0, Opcode::kChangeVbFilter},
    {Opcode::kCheckpointPersistence, "CHECKPOINT_PERSISTENCE", 0, Opcode::kCheckpointPersistence},
    {Opcode::kReturnMeta, "RETURN_META", KV, Opcode::kReturnMeta},
    {Opcode::kCompactDb, "COMPACT_DB", SUP, Opcode::kCompactDb},
    {Opcode::kSetClusterConfig, "SET_CLUSTER_CONFIG", SUP, Opcode::kSetClusterConfig},
    {Opcode::kGetClusterConfig, "GET_CLUSTER_CONFIG", SUP, Opcode::kGetClusterConfig},
    {Opcode::kGetRandomKey, "GET_RANDOM_KEY", SUP, Opcode::kGetRandomKey},
    {Opcode::kSeqnoPersistence, "SEQNO_PERSISTENCE", SUP, Opcode::kSeqnoPersistence},
    {Opcode::kGetKeys, "GET_KEYS", KV, Opcode::kGetKeys},
    {Opcode::kCollectionsSetManifest, "COLLECTIONS_SET_MANIFEST", SUP,
     Opcode::kCollectionsSetManifest},
    {Opcode::kCollectionsGetManifest, "COLLECTIONS_GET_MANIFEST", SUP,
     Opcode::kCollectionsGetManifest},
    {Opcode::kCollectionsGetId, "COLLECTIONS_GET_ID", SUP, Opcode::kCollectionsGetId},
    {Opcode::kCollectionsGetScopeId, "COLLECTIONS_GET_SCOPE_ID", SUP,
     Opcode::kCollectionsGetScopeId},
    {Opcode::kSetDriftCounterState, "SET_DRIFT_COUNTER_STATE", 0, Opcode::kSetDriftCounterState},
    {Opcode::kGetAdjustedTime, "GET_ADJUSTED_TIME", 0, Opcode::kGetAdjustedTime},
    {Opcode::kSubdocGet, "SUBDOC_GET", KV, Opcode::kSubdocGet},
    {Opcode::kSubdocExists, "SUBDOC_EXISTS", KV, Opcode::kSubdocExists},
    {Opcode::kSubdocDictAdd, "SUBDOC_DICT_ADD", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocDictAdd},
    {Opcode::kSubdocDictUpsert, "SUBDOC_DICT_UPSERT", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocDictUpsert},
    {Opcode::kSubdocDelete, "SUBDOC_DELETE", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocDelete},
    {Opcode::kSubdocReplace, "SUBDOC_REPLACE", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocReplace},
    {Opcode::kSubdocArrayPushLast, "SUBDOC_ARRAY_PUSH_LAST", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocArrayPushLast},
    {Opcode::kSubdocArrayPushFirst, "SUBDOC_ARRAY_PUSH_FIRST", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocArrayPushFirst},
    {Opcode::kSubdocArrayInsert, "SUBDOC_ARRAY_INSERT", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocArrayInsert},
    {Opcode::kSubdocArrayAddUnique, "SUBDOC_ARRAY_ADD_UNIQUE", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocArrayAddUnique},
    {Opcode::kSubdocCounter, "SUBDOC_COUNTER", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocCounter},
    {Opcode::kSubdocMultiLookup, "SUBDOC_MULTI_LOOKUP", KV, Opcode::kSubdocMultiLookup},
    {Opcode::kSubdocMultiMutation, "SUBDOC_MULTI_MUTATION", KV | kDurability | kPreserveTtl,
     Opcode::kSubdocMultiMutation},
    {Opcode::kSubdocGetCount, "SUBDOC_GET_COUNT", KV, Opcode::kSubdocGetCount},
    {Opcode::kSubdocReplaceBodyWithXattr, "SUBDOC_REPLACE_BODY_WITH_XATTR",
     KV | kDurability | kPreserveTtl, Opcode::kSubdocReplaceBodyWithXattr},
    {Opcode::kRangeScanCreate, "RANGE_SCAN_CREATE", SUP, Opcode::kRangeScanCreate},
    {Opcode::kRangeScanContinue, "RANGE_SCAN_CONTINUE", SUP, Opcode::kRangeScanContinue},
    {Opcode::kRangeScanCancel, "RANGE_SCAN_CANCEL", SUP, Opcode::kRangeScanCancel},
    {Opcode::kPrepareSnapshot, "PREPARE_SNAPSHOT", SUP, Opcode::kPrepareSnapshot},
    {Opcode::kReleaseSnapshot, "RELEASE_SNAPSHOT", SUP, Opcode::kReleaseSnapshot},
    {Opcode::kDownloadSnapshot, "DOWNLOAD_SNAPSHOT", SUP, Opcode::kDownloadSnapshot},
    {Opcode::kGetFileFragment, "GET_FILE_FRAGMENT", SUP, Opcode::kGetFileFragment},
    {Opcode::kScrub, "SCRUB", 0, Opcode::kScrub},
    {Opcode::kIsaslRefresh, "ISASL_REFRESH", SUP, Opcode::kIsaslRefresh},
    {Opcode::kSslCertsRefresh, "SSL_CERTS_REFRESH", 0, Opcode::kSslCertsRefresh},
    {Opcode::kGetCmdTimer, "GET_CMD_TIMER", SUP, Opcode::kGetCmdTimer},
    {Opcode::kSetCtrlToken, "SET_CTRL_TOKEN", SUP, Opcode::kSetCtrlToken},
    {Opcode::kGetCtrlToken, "GET_CTRL_TOKEN", SUP, Opcode::kGetCtrlToken},
    {Opcode::kUpdateExternalUserPermissions, "UPDATE_USER_PERMISSIONS", SUP,
     Opcode::kUpdateExternalUserPermissions},
    {Opcode::kRbacRefresh, "RBAC_REFRESH", SUP, Opcode::kRbacRefresh},
    {Opcode::kAuthProvider, "AUTH_PROVIDER", SUP, Opcode::kAuthProvider},
    {Opcode::kDropPrivilege, "DROP_PRIVILEGES", SUP, Opcode::kDropPrivilege},
    {Opcode::kAdjustTimeofday, "ADJUST_TIMEOFDAY", SUP, Opcode::kAdjustTimeofday},
    {Opcode::kEwouldblockCtl, "EWB_CTL", SUP, Opcode::kEwouldblockCtl},
    {Opcode::kGetErrorMap, "GET_ERROR_MAP", SUP, Opcode::kGetErrorMap},
};

struct OpcodeSlot {
  std::string_view name;  // empty: unassigned
  uint16_t attrs = 0;
  Opcode counterpart = Opcode::kInvalid;
};

constexpr std::array<OpcodeSlot, 256> BuildOpcodeTable() {
  std::array<OpcodeSlot, 256> table{};
  for (const auto& def : kDefs) {
    table[static_cast<uint8_t>(def.op)] = OpcodeSlot{def.name, def.attrs, def.counterpart};
  }
  return table;
}

constexpr std::array<OpcodeSlot, 256> kOpcodeTable = BuildOpcodeTable();

const OpcodeSlot& LookupOpcode(Opcode op) { return kOpcodeTable[static_cast<uint8_t>(op)]; }
bool HasAttr(Opcode op, uint16_t attr) { return (LookupOpcode(op).attrs & attr) != 0; }

}  // namespace

bool IsKnownOpcode(Opcode op) { return !LookupOpcode(op).name.empty(); }
bool IsSupportedOpcode(Opcode op) { return HasAttr(op, kSupported); }

std::string_view OpcodeName(Opcode op) {
  const OpcodeSlot& slot = LookupOpcode(op);
  return slot.name.empty() ? std::string_view("UNKNOWN") : slot.name;
}

std::optional<Opcode> OpcodeFromName(std::string_view name) {
  for (const auto& def : kDefs) {
    if (def.name == name) return def.op;
  }
  return std::nullopt;
}

std::string_view ServerOpcodeName(ServerOpcode op) {
  switch (op) {
    case ServerOpcode::kClustermapChangeNotification:
      return "ClustermapChangeNotification";
    case ServerOpcode::kAuthenticate:
      return "Authenticate";
    case ServerOpcode::kActiveExternalUsers:
      return "ActiveExternalUsers";
    case ServerOpcode::kGetAuthorization:
      return "GetAuthorization";
  }
  return "UNKNOWN";
}

bool IsQuiet(Opcode op) { return HasAttr(op, kQuiet); }

Opcode NonQuietOpcode(Opcode op) { return IsQuiet(op) ? LookupOpcode(op).counterpart : op; }

std::optional<Opcode> QuietOpcode(Opcode op) {
  if (IsQuiet(op) || !IsKnownOpcode(op)) return std::nullopt;
  const Opcode partner = LookupOpcode(op).counterpart;
  if (partner == op) return std::nullopt;
  return partner;
}

bool IsDcpOpcode(Opcode op) { return HasAttr(op, kDcp); }
bool SupportsDurability(Opcode op) { return HasAttr(op, kDurability); }
bool SupportsPreserveTtl(Opcode op) { return HasAttr(op, kPreserveTtl); }
bool IsCollectionKeyOpcode(Opcode op) { return HasAttr(op, kCollection); }

}  // namespace sluice::protocol
