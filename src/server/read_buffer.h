// File: server/read_buffer.h
//
// ReadBuffer: a connection's input bytes, contiguous so a whole frame can be decoded in place.
// Bytes arrive at the tail (Reserve + Commit after a read) and are consumed from the head; the
// unconsumed region is moved to the front only when the free tail is too small, and the buffer
// grows to fit a frame of up to the largest allowed size, then shrinks back when idle.
//
// A socket read in flight (StartRead .. FinishRead) writes into the free tail the buffer handed
// out, so until it finishes the buffer never moves, reallocates or rewinds its storage: Reserve
// and ShrinkIfIdle do nothing and Consume only advances the head. (A connection paused after a
// failed authentication keeps a read in flight while it processes input.)
//
// Ownership: a member of its Connection. Thread safety: thread-compatible (the connection's I/O
// thread only).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace sluice::server {

class ReadBuffer {
 public:
  static constexpr size_t kInitialSize = 16 << 10;

  ReadBuffer() : data_(new char[kInitialSize]), capacity_(kInitialSize) {}

  // The unconsumed bytes.
  std::string_view data() const { return {data_.get() + head_, tail_ - head_}; }
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }
  void Consume(size_t n) {
    head_ += n;
    if (head_ == tail_ && !read_pending_) head_ = tail_ = 0;
  }

  // Makes room for at least `min_free` bytes after the data and returns the writable tail.
  // `want_total` (>= size()) lets the caller ask for a whole frame's worth of space.
  // While a read is in flight nothing moves: the caller gets what is free now.
  char* Reserve(size_t min_free, size_t* free_bytes) {
    if (!read_pending_ && capacity_ - tail_ < min_free) {
      const size_t used = tail_ - head_;
      if (capacity_ - used >= min_free && head_ != 0) {
        std::memmove(data_.get(), data_.get() + head_, used);
      } else {
        size_t cap = capacity_;
        while (cap - used < min_free) cap *= 2;
        std::unique_ptr<char[]> bigger(new char[cap]);
        if (used != 0) std::memcpy(bigger.get(), data_.get() + head_, used);
        data_ = std::move(bigger);
        capacity_ = cap;
      }
      head_ = 0;
      tail_ = used;
    }
    *free_bytes = capacity_ - tail_;
    return data_.get() + tail_;
  }
  void Commit(size_t n) { tail_ += n; }

  // A socket read into the returned tail begins; FinishRead(bytes read, 0 on error) ends it.
  char* StartRead(size_t min_free, size_t* free_bytes) {
    char* dst = Reserve(min_free, free_bytes);
    read_pending_ = true;
    return dst;
  }
  void FinishRead(size_t n) {
    read_pending_ = false;
    Commit(n);
    if (head_ == tail_) head_ = tail_ = 0;
  }

  // Gives memory back after a large frame once the buffer is empty.
  void ShrinkIfIdle() {
    if (!read_pending_ && empty() && capacity_ > kInitialSize * 4) {
      data_.reset(new char[kInitialSize]);
      capacity_ = kInitialSize;
      head_ = tail_ = 0;
    }
  }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_;
  size_t head_ = 0;
  size_t tail_ = 0;
  bool read_pending_ = false;  // a read writes into [tail_, capacity_): nothing may move
};

}  // namespace sluice::server
