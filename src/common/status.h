// File: common/status.h
//
// Status and StatusOr<T>: how expected errors travel inside sluice. No exceptions cross a module
// boundary; every fallible call returns one of these, marked [[nodiscard]].
//
// The codes are the product's domain codes (close to kv_engine's cb::engine_errc), not generic
// ones: each maps to exactly one memcached binary status in protocol/ (the single translation at
// the wire boundary), and storage/ translates rocksdb::Status into them at its boundary.
//
// Thread safety: values; a Status is thread-compatible (copy it to share).
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

enum class Errc : uint8_t {
  kOk = 0,
  // Document-level outcomes.
  kNotFound,     // the key does not exist (KEY_ENOENT)
  kExists,       // the key exists, or a CAS mismatch (KEY_EEXISTS)
  kNotStored,    // append/prepend target missing etc. (NOT_STORED)
  kTooBig,       // value larger than the item size limit (E2BIG)
  kDeltaBadval,  // incr/decr on a non-numeric value
  kLocked,       // document is locked
  // Request-level outcomes.
  kInvalid,             // malformed or nonsensical request (EINVAL)
  kXattrInvalid,        // a value's xattr section is malformed (XATTR_EINVAL)
  kRange,               // a seqno range that cannot be served (ERANGE)
  kRollback,            // DCP: the consumer must roll back
  kNotMyVbucket,        // vbucket missing or not active
  kNoAccess,            // not authenticated / not authorised (EACCESS)
  kNoBucket,            // no bucket selected
  kUnknownCollection,   // collection id other than the default one
  kUnknownScope,        // scope id other than the default one
  kDcpStreamIdInvalid,  // DCP: a stream id missing, zero, or present without enable_stream_id
  kNotSupported,        // understood but not implemented
  kUnknownCommand,      // opcode not known
  kAuthError,           // authentication failed
  kAuthContinue,        // SASL: one more step
  kStreamNotFound,      // DCP: no stream on that vbucket
  kDurabilityInvalidLevel,
  kDurabilityImpossible,
  kSyncWriteInProgress,
  kSyncWriteAmbiguous,
  // Resource and progress outcomes.
  kWouldBlock,  // the engine will notify the waiter; re-run the command then
  kTempFail,    // transient: retry later (ETMPFAIL)
  kNoMemory,    // over quota (ENOMEM)
  kBusy,        // server busy
  kCancelled,   // operation cancelled (shutdown, connection gone)
  kDisconnect,  // the connection must be closed
  // Internal faults.
  kIoError,     // storage I/O failure
  kCorruption,  // on-disk data could not be decoded
  kInternal,    // a bug or an unexpected state
};

// The enumerator's name without the leading 'k' ("NotFound").
std::string_view ErrcName(Errc code);

class [[nodiscard]] Status {
 public:
  Status() = default;                 // OK
  Status(Errc code) : code_(code) {}  // NOLINT: implicit so `return Errc::kNotFound;` reads well
  Status(Errc code, std::string_view message)
      : code_(code), message_(message.empty() ? nullptr : std::make_unique<std::string>(message)) {}
  Status(const Status& other)
      : code_(other.code_),
        message_(other.message_ ? std::make_unique<std::string>(*other.message_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) {
      code_ = other.code_;
      message_ = other.message_ ? std::make_unique<std::string>(*other.message_) : nullptr;
    }
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  // kInvalid with `message`: the usual answer to input that breaks a rule.
  static Status Invalid(std::string_view message) { return Status(Errc::kInvalid, message); }

  bool ok() const { return code_ == Errc::kOk; }
  Errc code() const { return code_; }
  std::string_view message() const { return message_ ? std::string_view(*message_) : ""; }
  // "NotFound: no such key" or "OK".
  std::string ToString() const;

  // Explicitly discards the status where a failure is acceptable; say why at the call site.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_; }
  friend bool operator==(const Status& a, Errc b) { return a.code_ == b; }

 private:
  Errc code_ = Errc::kOk;
  std::unique_ptr<std::string> message_;  // null when there is no message (the hot path)
};

// A value or the Status explaining why there is none.
template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "StatusOr built from an OK status without a value");
    if (status_.ok()) status_ = Status(Errc::kInternal, "StatusOr from OK status");
  }
  StatusOr(Errc code) : StatusOr(Status(code)) {}  // NOLINT
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace sluice

#define SLUICE_STATUS_CONCAT_INNER(a, b) a##b
#define SLUICE_STATUS_CONCAT(a, b) SLUICE_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                                \
  do {                                                       \
    ::sluice::Status sluice_status_tmp_ = (expr);            \
    if (!sluice_status_tmp_.ok()) return sluice_status_tmp_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from Foo()'s value or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SLUICE_STATUS_CONCAT(sluice_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)    \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()
