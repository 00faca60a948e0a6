// File: server/read_buffer.h
//
// ReadBuffer: a connection's input bytes, contiguous so a whole frame can be decoded in place.
// Bytes arrive at the tail (Reserve + Commit after a read) and are consumed from the head; the
// unconsumed region is moved to the front only when the free tail is too small, and the buffer
// grows to fit a frame of up to the largest allowed size, then shrinks back when idle.
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
    if (head_ == tail_) head_ = tail_ = 0;
  }

  // Makes room for at least `min_free` bytes after the data and returns the writable tail.
  // `want_total` (>= size()) lets the caller ask for a whole frame's worth of space.
  char* Reserve(size_t min_free, size_t* free_bytes) {
    if (capacity_ - tail_ < min_free) {
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

  // Gives memory back after a large frame once the buffer is empty.
  void ShrinkIfIdle() {
    if (empty() && capacity_ > kInitialSize * 4) {
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
};

}  // namespace sluice::server
