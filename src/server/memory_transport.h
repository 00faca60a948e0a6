// File: server/memory_transport.h
//
// MemoryTransport: a Transport (server/transport.h) over two in-memory byte strings, for tests
// that run a Connection — and so the dispatcher and the command handlers — in-process, without
// sockets. The test plays the client: Feed() delivers request bytes, TakeWritten() collects what
// the connection wrote, FeedEof() hangs up. Completions are posted to the executor, so the test
// drives everything by running its io_context.
//
// Ownership: shared_ptr, held by the Connection and the test.
// Thread safety: thread-compatible; the test thread feeds and runs the io_context.
#pragma once

#include <algorithm>
#include <asio.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "server/transport.h"

namespace sluice::server {

class MemoryTransport final : public Transport {
 public:
  explicit MemoryTransport(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // ---- the client's side ----
  // Bytes the client sends: they complete a pending read (on the next run of the io_context).
  void Feed(std::string_view bytes) {
    input_.append(bytes);
    CompleteRead();
  }
  // The client hangs up: reads end with asio::error::eof once the input is consumed.
  void FeedEof() {
    eof_ = true;
    CompleteRead();
  }
  // Everything the connection wrote since the last call.
  std::string TakeWritten() { return std::exchange(written_, {}); }
  bool closed() const { return closed_; }

  // ---- Transport ----
  asio::any_io_executor executor() override { return executor_; }
  const Endpoints& endpoints() const override { return endpoints_; }
  bool tls() const override { return false; }
  void AsyncStart(StartHandler done) override {
    asio::post(executor_, [done = std::move(done)] { done(asio::error_code()); });
  }
  void AsyncReadSome(asio::mutable_buffer into, IoHandler done) override {
    read_ = PendingRead{into, std::move(done)};
    CompleteRead();
  }
  void AsyncWrite(asio::const_buffer data, IoHandler done) override {
    asio::error_code ec = closed_ ? asio::error::operation_aborted : asio::error_code();
    if (!ec) written_.append(static_cast<const char*>(data.data()), data.size());
    asio::post(executor_, [done = std::move(done), ec, n = data.size()] { done(ec, ec ? 0 : n); });
  }
  void Close(bool /*graceful*/) override {
    closed_ = true;
    CompleteRead();
  }

 private:
  struct PendingRead {
    asio::mutable_buffer into;
    IoHandler done;
  };

  // Completes the pending read if there is input, an end of stream or a close to report.
  void CompleteRead() {
    if (!read_) return;
    asio::error_code ec;
    size_t n = 0;
    if (closed_) {
      ec = asio::error::operation_aborted;
    } else if (!input_.empty()) {
      n = std::min(read_->into.size(), input_.size());
      input_.copy(static_cast<char*>(read_->into.data()), n);
      input_.erase(0, n);
    } else if (eof_) {
      ec = asio::error::eof;
    } else {
      return;
    }
    asio::post(executor_, [done = std::move(read_->done), ec, n] { done(ec, n); });
    read_.reset();
  }

  const asio::any_io_executor executor_;
  const Endpoints endpoints_{"127.0.0.1:50000", "127.0.0.1", 11210};
  std::string input_;
  std::string written_;
  std::optional<PendingRead> read_;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace sluice::server
