// ReadBuffer: bytes in at the tail, out at the head, and storage that never moves while a socket
// read is in flight (the regression the live-server fuzzer found: a paused connection freed the
// buffer a pending read was writing into).
#include "server/read_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace sluice::server {
namespace {

void Write(char* dst, size_t free_bytes, std::string_view bytes) {
  ASSERT_LE(bytes.size(), free_bytes);
  std::memcpy(dst, bytes.data(), bytes.size());
}

TEST(ReadBufferTest, BytesInAtTheTailOutAtTheHead) {
  ReadBuffer b;
  size_t free_bytes = 0;
  char* dst = b.StartRead(4096, &free_bytes);
  Write(dst, free_bytes, "hello world");
  b.FinishRead(11);
  EXPECT_EQ(b.data(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.data(), "world");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(ReadBufferTest, GrowsForALargeFrameAndShrinksWhenIdle) {
  ReadBuffer b;
  size_t free_bytes = 0;
  b.Reserve(1 << 20, &free_bytes);
  EXPECT_GE(free_bytes, size_t{1} << 20);
  b.ShrinkIfIdle();
  EXPECT_EQ(b.capacity(), ReadBuffer::kInitialSize);
}

TEST(ReadBufferTest, NothingMovesWhileAReadIsInFlight) {
  ReadBuffer b;
  size_t free_bytes = 0;
  // A large frame made the buffer grow; part of it is consumed.
  char* dst = b.StartRead(1 << 20, &free_bytes);
  Write(dst, free_bytes, std::string(100, 'a'));
  b.FinishRead(100);
  const size_t big = b.capacity();
  ASSERT_GT(big, ReadBuffer::kInitialSize * 4);
  // The next read is in flight while the connection processes (and consumes) what it has.
  char* pending = b.StartRead(4096, &free_bytes);
  b.Consume(100);    // empty, but the head does not rewind under the read
  b.ShrinkIfIdle();  // no free under the read
  size_t more = 0;
  char* again = b.Reserve(big, &more);  // no growth under the read
  EXPECT_EQ(again, pending);
  EXPECT_EQ(b.capacity(), big);
  // The read completes into the storage it was given, and the bytes are where expected.
  Write(pending, free_bytes, "next");
  b.FinishRead(4);
  EXPECT_EQ(b.data(), "next");
  b.Consume(4);
  b.ShrinkIfIdle();
  EXPECT_EQ(b.capacity(), ReadBuffer::kInitialSize);
}

}  // namespace
}  // namespace sluice::server
