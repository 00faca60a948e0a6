// Integration: the document commands of sluiced over TCP, each with its error cases — GET family,
// SET/ADD/REPLACE and their quiet forms, CAS, DELETE, INCR/DECR, APPEND/PREPEND, the small
// session commands (NOOP, VERSION, QUIT, unknown opcodes), E2BIG, deep pipelining and concurrent
// clients. Expiry: kv_expiry_test.cc; datatype, tokens, collections: kv_features_test.cc.
#include <atomic>
#include <thread>

#include "tests/integration/kv_test_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

class KvCommandsTest : public KvTest {};

TEST_F(KvCommandsTest, GetFamilyHitsAndMisses) {
  auto set = conn_->Set("k", "value", {.flags = 0xdeadbeef});
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->status, McbpStatus::kSuccess);

  auto get = conn_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kSuccess);
  EXPECT_EQ(get->value, "value");
  EXPECT_EQ(get->flags, 0xdeadbeefu);
  EXPECT_EQ(get->cas, set->cas);
  EXPECT_EQ(get->key, "") << "GET does not echo the key";

  auto getk = conn_->GetK("k");
  ASSERT_TRUE(getk.ok());
  EXPECT_EQ(getk->status, McbpStatus::kSuccess);
  EXPECT_EQ(getk->key, "k");
  EXPECT_EQ(getk->value, "value");

  auto miss = conn_->Get("missing");
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(miss->status, McbpStatus::kKeyEnoent);
  auto missk = conn_->GetK("missing");
  ASSERT_TRUE(missk.ok());
  EXPECT_EQ(missk->status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(missk->key, "missing") << "GETK echoes the key on a miss";

  // Quiet forms: a miss is answered by nothing, a hit as usual.
  const Vbid vk = VbOf("k");
  const Vbid vm = VbOf("missing");
  auto responses =
      Batch(*conn_, {{.opcode = Opcode::kGetq, .vbucket = vm, .key = "missing"},
                     {.opcode = Opcode::kGetkq, .vbucket = vm, .key = "missing"},
                     {.opcode = Opcode::kGetq, .vbucket = vk, .opaque = 1001, .key = "k"},
                     {.opcode = Opcode::kGetkq, .vbucket = vk, .opaque = 1002, .key = "k"}});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].opaque, 1001u);
  EXPECT_EQ(responses[0].status, McbpStatus::kSuccess);
  EXPECT_EQ(responses[0].value, "value");
  EXPECT_EQ(responses[0].key, "");
  EXPECT_EQ(responses[1].opaque, 1002u);
  EXPECT_EQ(responses[1].key, "k");
  EXPECT_EQ(responses[1].value, "value");

  // Keys: empty and over 250 bytes are invalid, 250 is fine.
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kGet, .key = ""}).status, McbpStatus::kEinval);
  const std::string k250(250, 'x');
  const std::string k251(251, 'x');
  auto set250 = conn_->Set(k250, "v");
  ASSERT_TRUE(set250.ok());
  EXPECT_EQ(set250->status, McbpStatus::kSuccess);
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kGet, .key = k251}).status, McbpStatus::kEinval);
}

TEST_F(KvCommandsTest, SetAddReplace) {
  auto add = conn_->Add("k", "a");
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->status, McbpStatus::kSuccess);
  add = conn_->Add("k", "b");
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->status, McbpStatus::kKeyEexists) << "ADD of an existing key";

  auto replace = conn_->Replace("missing", "x");
  ASSERT_TRUE(replace.ok());
  EXPECT_EQ(replace->status, McbpStatus::kKeyEnoent) << "REPLACE of a missing key";
  replace = conn_->Replace("k", "c", {.flags = 7});
  ASSERT_TRUE(replace.ok());
  EXPECT_EQ(replace->status, McbpStatus::kSuccess);

  auto get = conn_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value, "c");
  EXPECT_EQ(get->flags, 7u);

  auto set = conn_->Set("k", "d");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->status, McbpStatus::kSuccess);
  EXPECT_NE(set->cas, replace->cas);
  get = conn_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value, "d");
  EXPECT_EQ(get->flags, 0u);

  // An empty value is a value.
  set = conn_->Set("empty", "");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->status, McbpStatus::kSuccess);
  get = conn_->Get("empty");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kSuccess);
  EXPECT_EQ(get->value, "");

  // ADD may not carry a CAS (kv_engine's validator).
  const std::string extras = MutationExtras();
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kAdd,
                         .vbucket = VbOf("new"),
                         .cas = 1234,
                         .extras = extras,
                         .key = "new",
                         .value = "v"})
                .status,
            McbpStatus::kEinval);
}

TEST_F(KvCommandsTest, QuietMutationsAnswerOnlyErrors) {
  ASSERT_EQ(Must(conn_->Set("exists", "v")).status, McbpStatus::kSuccess);
  const std::string extras = MutationExtras();
  const std::string arith = ArithExtras(1, 10);
  const std::string touch = Be32(0);
  auto at = [&](Opcode op, std::string_view key, uint32_t opaque) {
    return RequestFields{.opcode = op, .vbucket = VbOf(key), .opaque = opaque, .key = key};
  };
  std::vector<RequestFields> batch;
  auto add = [&](RequestFields f, std::string_view ex, std::string_view value) {
    f.extras = ex;
    f.value = value;
    batch.push_back(f);
  };
  add(at(Opcode::kSetq, "q1", 1), extras, "v1");          // ok: silent
  add(at(Opcode::kAddq, "exists", 2), extras, "v");       // EEXISTS
  add(at(Opcode::kAddq, "q2", 3), extras, "v2");          // ok: silent
  add(at(Opcode::kReplaceq, "missing", 4), extras, "v");  // ENOENT
  add(at(Opcode::kReplaceq, "q1", 5), extras, "v1b");     // ok: silent
  add(at(Opcode::kDeleteq, "missing", 6), "", "");        // ENOENT
  add(at(Opcode::kDeleteq, "q2", 7), "", "");             // ok: silent
  add(at(Opcode::kIncrementq, "ctr", 8), arith, "");      // created: silent
  add(at(Opcode::kDecrementq, "ctr", 9), arith, "");      // ok: silent
  add(at(Opcode::kIncrementq, "exists", 10), arith, "");  // DELTA_BADVAL
  add(at(Opcode::kAppendq, "missing", 11), "", "x");      // NOT_STORED
  add(at(Opcode::kAppendq, "q1", 12), "", "+");           // ok: silent
  add(at(Opcode::kPrependq, "q1", 13), "", "-");          // ok: silent
  add(at(Opcode::kPrependq, "missing", 14), "", "x");     // NOT_STORED
  add(at(Opcode::kGatq, "missing", 15), touch, "");       // miss: silent
  auto responses = Batch(*conn_, batch);
  std::vector<std::pair<uint32_t, McbpStatus>> got;
  for (const auto& r : responses) got.emplace_back(r.opaque, r.status);
  const std::vector<std::pair<uint32_t, McbpStatus>> expected = {
      {2, McbpStatus::kKeyEexists},   {4, McbpStatus::kKeyEnoent},  {6, McbpStatus::kKeyEnoent},
      {10, McbpStatus::kDeltaBadval}, {11, McbpStatus::kNotStored}, {14, McbpStatus::kNotStored}};
  EXPECT_EQ(got, expected);

  EXPECT_EQ(Must(conn_->Get("q1")).value, "-v1b+");
  EXPECT_EQ(Must(conn_->Get("q2")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Get("ctr")).value, "9") << "created at 10, decremented by 1";
}

TEST_F(KvCommandsTest, CasSemantics) {
  auto first = conn_->Set("k", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, McbpStatus::kSuccess);
  ASSERT_NE(first->cas, 0u);

  auto second = conn_->Set("k", "2", {.cas = first->cas});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status, McbpStatus::kSuccess) << "matching CAS";
  EXPECT_NE(second->cas, first->cas);

  auto stale = conn_->Set("k", "3", {.cas = first->cas});
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, McbpStatus::kKeyEexists) << "CAS mismatch";
  auto stale_replace = conn_->Replace("k", "3", {.cas = first->cas});
  ASSERT_TRUE(stale_replace.ok());
  EXPECT_EQ(stale_replace->status, McbpStatus::kKeyEexists);
  auto stale_append = conn_->Append("k", "3", {.cas = first->cas});
  ASSERT_TRUE(stale_append.ok());
  EXPECT_EQ(stale_append->status, McbpStatus::kKeyEexists);
  EXPECT_EQ(Must(conn_->Get("k")).value, "2");

  auto missing = conn_->Set("missing", "v", {.cas = first->cas});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, McbpStatus::kKeyEnoent) << "CAS on a missing key";
  auto missing_replace = conn_->Replace("missing", "v", {.cas = first->cas});
  ASSERT_TRUE(missing_replace.ok());
  EXPECT_EQ(missing_replace->status, McbpStatus::kKeyEnoent);

  // The CAS of a GET is the CAS of the last mutation, and every mutation gets a new one.
  auto get = conn_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->cas, second->cas);
  auto append = conn_->Append("k", "x", {.cas = get->cas});
  ASSERT_TRUE(append.ok());
  EXPECT_EQ(append->status, McbpStatus::kSuccess);
  EXPECT_NE(append->cas, get->cas);
  // INCR and TOUCH are mutations too: each gets a new CAS.
  auto counter = Must(conn_->Set("n", "5"));
  auto incr = Must(conn_->Increment("n", 1));
  EXPECT_EQ(incr.status, McbpStatus::kSuccess);
  EXPECT_NE(incr.cas, counter.cas);
  auto touch = Must(conn_->Touch("n", 0));
  EXPECT_EQ(touch.status, McbpStatus::kSuccess);
  EXPECT_NE(touch.cas, incr.cas);
}

TEST_F(KvCommandsTest, DeleteWithAndWithoutCas) {
  auto set = conn_->Set("k", "v");
  ASSERT_TRUE(set.ok());
  auto wrong = conn_->Delete("k", {.cas = set->cas + 1});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, McbpStatus::kKeyEexists);
  EXPECT_EQ(Must(conn_->Get("k")).status, McbpStatus::kSuccess);

  auto del = conn_->Delete("k", {.cas = set->cas});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, McbpStatus::kSuccess);
  EXPECT_NE(del->cas, 0u);
  EXPECT_EQ(Must(conn_->Get("k")).status, McbpStatus::kKeyEnoent);

  auto again = conn_->Delete("k");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, McbpStatus::kKeyEnoent) << "deleting a deleted key";
  auto never = conn_->Delete("never-existed");
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(never->status, McbpStatus::kKeyEnoent);
  auto cas_on_missing = conn_->Delete("never-existed", {.cas = 42});
  ASSERT_TRUE(cas_on_missing.ok());
  EXPECT_EQ(cas_on_missing->status, McbpStatus::kKeyEnoent);

  // After a delete the key can be added again; REPLACE sees it as missing.
  EXPECT_EQ(Must(conn_->Replace("k", "x")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Add("k", "w")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("k")).value, "w");
  auto plain = conn_->Delete("k");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status, McbpStatus::kSuccess);
}

TEST_F(KvCommandsTest, IncrementAndDecrement) {
  // A missing counter is created with the initial value (delta not applied).
  auto r = conn_->Increment("c", 3, {.initial = 5});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_EQ(r->counter, 5u);
  r = conn_->Increment("c", 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counter, 8u);
  EXPECT_EQ(Must(conn_->Get("c")).value, "8") << "stored as ASCII decimal";
  r = conn_->Decrement("c", 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counter, 6u);

  // Decrement stops at zero.
  r = conn_->Decrement("c", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_EQ(r->counter, 0u);
  EXPECT_EQ(Must(conn_->Get("c")).value, "0");

  // Increment wraps around 2^64.
  ASSERT_EQ(Must(conn_->Set("big", "18446744073709551615")).status, McbpStatus::kSuccess);
  r = conn_->Increment("big", 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_EQ(r->counter, 1u);

  // No-create: expiry 0xffffffff on a missing counter.
  r = conn_->Increment("absent", 1, {.initial = 7, .expiry = protocol::kArithmeticNoCreate});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kKeyEnoent);
  r = conn_->Decrement("absent", 1, {.initial = 7, .expiry = protocol::kArithmeticNoCreate});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Get("absent")).status, McbpStatus::kKeyEnoent);
  // DECR creates with the initial value too.
  r = conn_->Decrement("d", 1, {.initial = 7});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counter, 7u);

  // Not a number.
  ASSERT_EQ(Must(conn_->Set("text", "abc")).status, McbpStatus::kSuccess);
  r = conn_->Increment("text", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kDeltaBadval);
  r = conn_->Decrement("text", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kDeltaBadval);
  EXPECT_EQ(Must(conn_->Get("text")).value, "abc");

  // Bad extras length for INCR.
  EXPECT_EQ(
      Run(*conn_,
          {.opcode = Opcode::kIncrement, .vbucket = VbOf("c"), .extras = "12345678", .key = "c"})
          .status,
      McbpStatus::kEinval);
}

TEST_F(KvCommandsTest, AppendAndPrepend) {
  auto r = conn_->Append("missing", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kNotStored);
  r = conn_->Prepend("missing", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kNotStored);
  EXPECT_EQ(Must(conn_->Get("missing")).status, McbpStatus::kKeyEnoent);

  ASSERT_EQ(Must(conn_->Set("k", "b", {.flags = 0x1234})).status, McbpStatus::kSuccess);
  r = conn_->Append("k", "c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  r = conn_->Prepend("k", "a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  auto get = conn_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value, "abc");
  EXPECT_EQ(get->flags, 0x1234u) << "flags are kept";
  EXPECT_EQ(get->cas, r->cas);

  // APPEND may not carry extras.
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kAppend,
                         .vbucket = VbOf("k"),
                         .extras = MutationExtras(),
                         .key = "k",
                         .value = "x"})
                .status,
            McbpStatus::kEinval);
}

TEST_F(KvCommandsTest, NoopVersionUnknownAndRetiredOpcodes) {
  EXPECT_TRUE(conn_->Noop().ok());
  auto version = conn_->Version();
  ASSERT_TRUE(version.ok());
  auto stats = FetchStats(*conn_);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(*version, (*stats)["version"]);

  for (uint8_t op : {0xe9, 0xee, 0x7f, 0xfa}) {
    auto r = Run(*conn_, {.opcode = static_cast<Opcode>(op)});
    EXPECT_EQ(r.status, McbpStatus::kUnknownCommand) << "opcode " << int{op};
  }
  // FLUSH is retired (kv_engine: Flush_Unsupported).
  auto flush = Run(*conn_, {.opcode = Opcode::kFlush});
  EXPECT_EQ(flush.status, McbpStatus::kNotSupported);
  // The connection is still fine.
  EXPECT_TRUE(conn_->Noop().ok());
}

TEST_F(KvCommandsTest, QuitRepliesThenCloses) {
  auto r = conn_->Execute({.opcode = Opcode::kQuit});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_FALSE(conn_->ReadFrame().ok()) << "the server closed the connection";

  // QUITQ: no reply, just the close — even with requests behind it.
  auto quiet = Connect();
  ASSERT_NE(quiet, nullptr);
  std::string bytes;
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kQuitq, .opaque = 1});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kNoop, .opaque = 2});
  ASSERT_TRUE(quiet->SendRaw(bytes).ok());
  EXPECT_FALSE(quiet->ReadFrame().ok()) << "nothing after QUITQ";

  // Pipelined work before QUIT is answered first.
  auto piped = Connect();
  ASSERT_NE(piped, nullptr);
  bytes.clear();
  const std::string extras = MutationExtras();
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kSet,
                                   .vbucket = VbOf("q"),
                                   .opaque = 1,
                                   .extras = extras,
                                   .key = "q",
                                   .value = "v"});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kQuit, .opaque = 2});
  ASSERT_TRUE(piped->SendRaw(bytes).ok());
  auto f1 = piped->ReadFrame();
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ(f1->opaque, 1u);
  EXPECT_EQ(f1->status(), McbpStatus::kSuccess);
  auto f2 = piped->ReadFrame();
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(f2->opaque, 2u);
  EXPECT_FALSE(piped->ReadFrame().ok());

  auto fresh = Connect();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(Must(fresh->Get("q")).value, "v");
}

TEST_F(KvCommandsTest, OversizedValuesAreE2big) {
  const std::string limit(kMaxItemSize, 'a');
  auto ok = conn_->Set("big", limit);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, McbpStatus::kSuccess) << "exactly the limit is fine";
  const std::string over(kMaxItemSize + 1, 'b');
  auto r = conn_->Set("big2", over);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kE2big);
  EXPECT_EQ(Must(conn_->Get("big2")).status, McbpStatus::kKeyEnoent);
  r = conn_->Append("big", "c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kE2big) << "append past the limit";
  auto get = conn_->Get("big");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value.size(), kMaxItemSize);
  EXPECT_TRUE(conn_->Noop().ok());
}

TEST_F(KvCommandsTest, TenThousandPipelinedRequestsAnsweredInOrder) {
  constexpr int kRequests = 10000;
  auto value_of = [](int i) { return "value-" + std::to_string(i) + std::string(24, 'p'); };
  std::vector<std::string> keys(kRequests), values(kRequests), missing(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    keys[i] = "pipe-" + std::to_string(i);
    values[i] = value_of(i);
    missing[i] = "absent-" + std::to_string(i);
  }
  const std::string set_extras = MutationExtras();
  const std::string incr_extras = ArithExtras(1, 0);

  struct Expect {
    uint32_t opaque;
    McbpStatus status;
    std::string value;
  };
  std::vector<Expect> expected;
  uint64_t counter = 0;
  bool counter_exists = false;
  for (int i = 0; i < kRequests; ++i) {
    RequestFields f;
    switch (i % 6) {
      case 0:  // SET key(i)
        f = {.opcode = Opcode::kSet,
             .vbucket = VbOf(keys[i]),
             .extras = set_extras,
             .key = keys[i],
             .value = values[i]};
        break;
      case 1:  // GET key(i-1): set just before
        f = {.opcode = Opcode::kGet, .vbucket = VbOf(keys[i - 1]), .key = keys[i - 1]};
        break;
      case 2:  // GETQ of a missing key: silent
        f = {.opcode = Opcode::kGetq, .vbucket = VbOf(missing[i]), .key = missing[i]};
        break;
      case 3:  // INCR a shared counter
        f = {.opcode = Opcode::kIncrement,
             .vbucket = VbOf("pipe-counter"),
             .extras = incr_extras,
             .key = "pipe-counter"};
        break;
      case 4:  // ADD key(i-4): exists
        f = {.opcode = Opcode::kAdd,
             .vbucket = VbOf(keys[i - 4]),
             .extras = set_extras,
             .key = keys[i - 4],
             .value = "x"};
        break;
      case 5:  // DELETE key(i-5)
        f = {.opcode = Opcode::kDelete, .vbucket = VbOf(keys[i - 5]), .key = keys[i - 5]};
        break;
    }
    const uint32_t opaque = conn_->Enqueue(f);
    switch (i % 6) {
      case 0:
        expected.push_back({opaque, McbpStatus::kSuccess, ""});
        break;
      case 1:
        expected.push_back({opaque, McbpStatus::kSuccess, values[i - 1]});
        break;
      case 3: {
        std::string v;
        protocol::AppendBe64(&v, counter_exists ? ++counter : counter);
        counter_exists = true;
        expected.push_back({opaque, McbpStatus::kSuccess, v});
        break;
      }
      case 4:
        expected.push_back({opaque, McbpStatus::kKeyEexists, ""});
        break;
      case 5:
        expected.push_back({opaque, McbpStatus::kSuccess, ""});
        break;
    }
  }
  const uint32_t noop = conn_->Enqueue({.opcode = Opcode::kNoop});
  ASSERT_TRUE(conn_->Flush().ok()) << "all requests in one write";
  size_t i = 0;
  size_t mismatches = 0;
  Status s = conn_->ReadResponsesUntil(noop, [&](const protocol::Frame& f) {
    if (f.opaque == noop) return;
    if (i >= expected.size()) {
      ++mismatches;
      return;
    }
    const Expect& e = expected[i++];
    const bool value_ok = e.value.empty() || f.value == e.value;
    if (f.opaque != e.opaque || f.status() != e.status || !value_ok) {
      if (mismatches++ < 5) {
        ADD_FAILURE() << "response " << i - 1 << ": opaque " << f.opaque << " (want " << e.opaque
                      << ") status " << protocol::McbpStatusName(f.status()) << " (want "
                      << protocol::McbpStatusName(e.status) << ")";
      }
    }
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(i, expected.size());
  EXPECT_EQ(mismatches, 0u);
  // The counter saw every INCR.
  EXPECT_EQ(Must(conn_->Get("pipe-counter")).value, std::to_string(counter));
}

TEST_F(KvCommandsTest, ConcurrentClientsIncrementAndCasAtomically) {
  // Connections land on different I/O threads; updates of one key must not be lost.
  constexpr int kClients = 8;
  constexpr int kOps = 250;
  ASSERT_EQ(Must(conn_->Set("cas-list", "")).status, McbpStatus::kSuccess);
  std::vector<std::unique_ptr<client::Connection>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(Connect());
    ASSERT_NE(clients.back(), nullptr);
  }
  std::atomic<int> errors{0};
  std::atomic<int> cas_conflicts{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      client::Connection& conn = *clients[c];
      for (int i = 0; i < kOps; ++i) {
        auto r = conn.Increment("shared-counter", 1, {.initial = 1});
        if (!r.ok() || r->status != McbpStatus::kSuccess) errors.fetch_add(1);
        // A CAS loop appending one token per iteration.
        while (true) {
          auto get = conn.Get("cas-list");
          if (!get.ok() || get->status != McbpStatus::kSuccess) {
            errors.fetch_add(1);
            break;
          }
          auto set = conn.Set("cas-list", get->value + "x", {.cas = get->cas});
          if (!set.ok()) {
            errors.fetch_add(1);
            break;
          }
          if (set->status == McbpStatus::kSuccess) break;
          if (set->status != McbpStatus::kKeyEexists) {
            errors.fetch_add(1);
            break;
          }
          cas_conflicts.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Must(conn_->Get("shared-counter")).value, std::to_string(kClients * kOps));
  EXPECT_EQ(Must(conn_->Get("cas-list")).value.size(), static_cast<size_t>(kClients * kOps))
      << cas_conflicts.load() << " CAS conflicts were retried";
}

}  // namespace
}  // namespace sluice::testing
