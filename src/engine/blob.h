// File: engine/blob.h
//
// Blob: an immutable, reference-counted byte buffer holding one document value. One allocation
// (header and bytes together). The hash table, the checkpoints and every DCP stream share the same
// Blob for a given version of a document; nothing copies a value per consumer.
//
// Ownership: shared through BlobPtr (an intrusive reference count). A Blob is freed when the last
// BlobPtr goes away, on whatever thread that happens.
// Thread safety: immutable after creation; BlobPtr copies on different threads are safe (atomic
// count), a single BlobPtr object is thread-compatible.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace sluice::engine {

class BlobPtr;

class Blob {
 public:
  // A blob holding a copy of `data`.
  static BlobPtr Make(std::string_view data);
  // A blob of `size` bytes made of `a` followed by `b` (APPEND/PREPEND without a temporary).
  static BlobPtr Concat(std::string_view a, std::string_view b);

  std::string_view view() const { return {data_, size_}; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  // Bytes this blob occupies in memory (header + data), for memory accounting.
  size_t AllocatedSize() const { return sizeof(Blob) + size_; }

  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;

 private:
  friend class BlobPtr;
  explicit Blob(uint32_t size) : size_(size) {}
  static Blob* Allocate(size_t size);
  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() const;

  mutable std::atomic<uint32_t> refs_{1};
  const uint32_t size_;
  char data_[];  // NOLINT: flexible array member (GNU/clang extension), one allocation
};

// Intrusive shared pointer to a Blob; null means "no value" (e.g. evicted).
class BlobPtr {
 public:
  BlobPtr() = default;
  BlobPtr(std::nullptr_t) {}  // NOLINT
  BlobPtr(const BlobPtr& o) : p_(o.p_) {
    if (p_) p_->Ref();
  }
  BlobPtr(BlobPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  BlobPtr& operator=(BlobPtr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~BlobPtr() {
    if (p_) p_->Unref();
  }

  const Blob* get() const { return p_; }
  const Blob* operator->() const { return p_; }
  const Blob& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  // The value bytes, empty if null.
  std::string_view view() const { return p_ ? p_->view() : std::string_view(); }
  size_t size() const { return p_ ? p_->size() : 0; }

 private:
  friend class Blob;
  explicit BlobPtr(Blob* adopt) : p_(adopt) {}
  Blob* p_ = nullptr;
};

}  // namespace sluice::engine
