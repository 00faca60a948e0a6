// Expected answers follow kv_engine's subjson (its tests/t_ops.cc cases where they exist).
#include "subdoc/operation.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "subdoc/json_scan.h"

namespace sluice::subdoc {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

// Runs a mutation that must succeed and returns the new document (checked to be valid JSON).
std::string Mutate(Opcode op, std::string_view doc, std::string_view path,
                   std::string_view value = {}, bool mkdir_p = false) {
  OpResult r = Execute(op, doc, path, value, mkdir_p);
  EXPECT_EQ(r.status, McbpStatus::kSuccess) << path << " on " << doc;
  Element e;
  EXPECT_EQ(Scanner(r.doc).Root(&e), McbpStatus::kSuccess) << r.doc;
  return r.doc;
}

McbpStatus Status(Opcode op, std::string_view doc, std::string_view path,
                  std::string_view value = {}, bool mkdir_p = false) {
  return Execute(op, doc, path, value, mkdir_p).status;
}

std::string Get(std::string_view doc, std::string_view path) {
  OpResult r = Execute(Opcode::kSubdocGet, doc, path, {}, false);
  EXPECT_EQ(r.status, McbpStatus::kSuccess) << path;
  return r.value;
}

TEST(SubdocOperationTest, LookupsReturnTheStoredBytes) {
  const std::string doc = R"({"a": {"b" : [1, 2.50,  "x"]}, "e\u0301": 1, "q\"": 2})";
  EXPECT_EQ(Get(doc, "a"), R"({"b" : [1, 2.50,  "x"]})");
  EXPECT_EQ(Get(doc, "a.b[1]"), "2.50");
  EXPECT_EQ(Get(doc, "a.b[-1]"), R"("x")");
  EXPECT_EQ(Get(doc, "e\xcc\x81"), "1");  // \u escapes in keys match their UTF-8
  EXPECT_EQ(Get(doc, R"(q\")"), "2");     // other escapes are compared as written
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a.c"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a.b[3]"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a[0]"), McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a.b.c"), McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a.b[0].x"), McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocExists, doc, "a.b"), McbpStatus::kSuccess);
  EXPECT_EQ(Execute(Opcode::kSubdocGetCount, doc, "a.b", {}, false).value, "3");
  EXPECT_EQ(Execute(Opcode::kSubdocGetCount, doc, "", {}, false).value, "3");
  EXPECT_EQ(Status(Opcode::kSubdocGetCount, doc, "a.b[0]"), McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocGet, "{not json", "a"), McbpStatus::kSubdocDocNotJson);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a..b"), McbpStatus::kSubdocPathEinval);
  EXPECT_EQ(Status(Opcode::kSubdocGet, doc, "a\"b"), McbpStatus::kSubdocPathEinval);
}

TEST(SubdocOperationTest, DictionaryOperations) {
  EXPECT_EQ(Mutate(Opcode::kSubdocDictAdd, R"({"a":1})", "b", "2"), R"({"a":1,"b":2})");
  EXPECT_EQ(Mutate(Opcode::kSubdocDictAdd, "{ }", "b", "[1, 2]"), R"({ "b":[1, 2]})");
  EXPECT_EQ(Status(Opcode::kSubdocDictAdd, R"({"a":1})", "a", "2"), McbpStatus::kSubdocPathEexists);
  EXPECT_EQ(Mutate(Opcode::kSubdocDictUpsert, R"({"a": 1, "b":2})", "a", "\"x\""),
            R"({"a": "x", "b":2})");
  EXPECT_EQ(Mutate(Opcode::kSubdocReplace, R"({"a":[1,2]})", "a[1]", "3"), R"({"a":[1,3]})");
  EXPECT_EQ(Status(Opcode::kSubdocReplace, R"({"a":1})", "b", "2"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocDictUpsert, R"({"a":[]})", "a[0]", "2"),
            McbpStatus::kSubdocPathEinval);
  // Missing intermediates: ENOENT unless mkdir_p, which creates dictionaries only.
  EXPECT_EQ(Status(Opcode::kSubdocDictAdd, "{}", "foo.bar.baz", "[1,2,3]"),
            McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Mutate(Opcode::kSubdocDictAdd, R"({"x":0})", "foo.bar.baz", "[1,2,3]", true),
            R"({"x":0,"foo":{"bar":{"baz":[1,2,3]}}})");
  EXPECT_EQ(Status(Opcode::kSubdocDictUpsert, R"({"a":[]})", "a[0].b", "1", true),
            McbpStatus::kSubdocPathEnoent);
  // Values are checked first.
  EXPECT_EQ(Status(Opcode::kSubdocDictUpsert, "[]", "key", "blah"),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Status(Opcode::kSubdocDictAdd, "{}", "a", "1,2,3,4", true),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Status(Opcode::kSubdocDictAdd, "{}", "a", R"({ "foo" })"),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Status(Opcode::kSubdocDictUpsert, "[null]", "key", "1"),
            McbpStatus::kSubdocPathMismatch);
}

TEST(SubdocOperationTest, Remove) {
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, "[1,2]", "[0]"), "[2]");
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, "[1,2]", "[1]"), "[1]");
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, "[1]", "[-1]"), "[]");
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, R"({"a":1, "b":2, "c":3})", "b"),
            R"({"a":1,  "c":3})");  // subjson keeps the whitespace
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, R"({"a":1, "b":2})", "b"), R"({"a":1})");
  EXPECT_EQ(Mutate(Opcode::kSubdocDelete, R"({"a":1, "b":2})", "a"), R"({ "b":2})");
  EXPECT_EQ(Status(Opcode::kSubdocDelete, R"({"a":1})", "b"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocDelete, "[]", ""), McbpStatus::kSubdocValueCantinsert);
}

TEST(SubdocOperationTest, ArrayPushes) {
  std::string doc = R"({"array":[]})";
  doc = Mutate(Opcode::kSubdocArrayPushLast, doc, "array", "1");
  EXPECT_EQ(doc, R"({"array":[1]})");
  doc = Mutate(Opcode::kSubdocArrayPushFirst, doc, "array", "0");
  doc = Mutate(Opcode::kSubdocArrayPushLast, doc, "array", "2,3");
  EXPECT_EQ(doc, R"({"array":[0,1,2,3]})");
  EXPECT_EQ(Status(Opcode::kSubdocArrayPushFirst, "{}", "array", "123"),
            McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayPushFirst, "{}", "array", "123", true),
            R"({"array":[123]})");
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayPushLast, "{}", "a.b", "1", true), R"({"a":{"b":[1]}})");
  EXPECT_EQ(Status(Opcode::kSubdocArrayPushLast, R"({"a":{}})", "a", "1"),
            McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocArrayPushLast, "[null]", "foo.bar", "null", true),
            McbpStatus::kSubdocPathMismatch);
  // The root.
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayPushLast, "[]", "", "null"), "[null]");
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayPushLast, "[1 ] ", "", "2"), "[1,2]");
  EXPECT_EQ(Status(Opcode::kSubdocArrayPushLast, "{}", "", "null"),
            McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayPushFirst, "[1]", "", "0"), "[0,1]");
}

TEST(SubdocOperationTest, ArrayInsertAndUnique) {
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayInsert, "[1,2,4,5]", "[2]", "3"), "[1,2,3,4,5]");
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayInsert, "[1,2]", "[2]", "3"), "[1,2,3]");
  EXPECT_EQ(Mutate(Opcode::kSubdocArrayInsert, "[]", "[0]", "3"), "[3]");
  EXPECT_EQ(Status(Opcode::kSubdocArrayInsert, "[1]", "[3]", "3"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocArrayInsert, "[1]", "[-1]", "3"), McbpStatus::kSubdocPathEinval);
  EXPECT_EQ(Status(Opcode::kSubdocArrayInsert, R"({"a":1})", "a", "3"),
            McbpStatus::kSubdocPathEinval);

  std::string doc = Mutate(Opcode::kSubdocArrayAddUnique, "{}", "u", R"("value")", true);
  EXPECT_EQ(Status(Opcode::kSubdocArrayAddUnique, doc, "u", R"("value")"),
            McbpStatus::kSubdocPathEexists);
  doc = Mutate(Opcode::kSubdocArrayAddUnique, doc, "u", "1");
  doc = Mutate(Opcode::kSubdocArrayAddUnique, doc, "u", R"("1")");
  EXPECT_EQ(doc, R"({"u":["value",1,"1"]})");
  EXPECT_EQ(Status(Opcode::kSubdocArrayAddUnique, doc, "u", "[]"),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Status(Opcode::kSubdocArrayAddUnique, doc, "u", "1,2,3"),
            McbpStatus::kSubdocValueCantinsert);
  doc = Mutate(Opcode::kSubdocArrayPushLast, doc, "u", "[]");
  EXPECT_EQ(Status(Opcode::kSubdocArrayAddUnique, doc, "u", "2"), McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocArrayAddUnique, "[0]", "", "0"), McbpStatus::kSubdocPathEexists);
}

TEST(SubdocOperationTest, Counter) {
  OpResult r = Execute(Opcode::kSubdocCounter, "{}", "n", "1", false);
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.doc, R"({"n":1})");
  EXPECT_EQ(r.value, "1");
  r = Execute(Opcode::kSubdocCounter, R"({"n": 5 })", "n", "-105", false);
  EXPECT_EQ(r.doc, R"({"n": -100 })");
  EXPECT_EQ(r.value, "-100");
  r = Execute(Opcode::kSubdocCounter, "{}", "a.b", "7", true);
  EXPECT_EQ(r.doc, R"({"a":{"b":7}})");
  EXPECT_EQ(r.value, "7");
  EXPECT_EQ(Status(Opcode::kSubdocCounter, "{}", "a.b", "7"), McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Status(Opcode::kSubdocCounter, "[]", "[0]", "7"), McbpStatus::kSubdocPathEnoent);
  for (std::string_view bad : {"bad", "3.14", "-", "43f", "0", "-0", "01"}) {
    EXPECT_EQ(Status(Opcode::kSubdocCounter, "{}", "n", bad), McbpStatus::kSubdocDeltaEinval)
        << bad;
  }
  EXPECT_EQ(Status(Opcode::kSubdocCounter, R"({"n":1.5})", "n", "1"),
            McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocCounter, R"({"n":"1"})", "n", "1"),
            McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Status(Opcode::kSubdocCounter, R"({"n":99999999999999999999})", "n", "1"),
            McbpStatus::kSubdocNumErange);
  const std::string max = std::to_string(INT64_MAX);
  EXPECT_EQ(Status(Opcode::kSubdocCounter, R"({"n":)" + max + "}", "n", "1"),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Execute(Opcode::kSubdocCounter, R"({"n":)" + max + "}", "n", "-1", false).value,
            std::to_string(INT64_MAX - 1));
}

TEST(SubdocOperationTest, Limits) {
  // Documents nested deeper than subjson's parser allows.
  std::string deep = R"({"array":)" + std::string(66, '[') + std::string(66, ']') + "}";
  EXPECT_EQ(Status(Opcode::kSubdocGet, deep, "dummy.path"), McbpStatus::kSubdocDocE2deep);
  std::string path = "dummy";
  for (int i = 0; i < 66; ++i) path += ".dummy";
  EXPECT_EQ(Status(Opcode::kSubdocGet, "{}", path), McbpStatus::kSubdocPathE2big);
  // A value that would nest past the limit where it is inserted.
  std::string value(32, '[');
  value += std::string(32, ']');
  EXPECT_EQ(Status(Opcode::kSubdocDictUpsert, "{}", "a", value), McbpStatus::kSubdocValueEtoodeep);
}

TEST(SubdocOperationTest, EmptyRootFor) {
  EXPECT_EQ(EmptyRootFor(Opcode::kSubdocDictUpsert, "a.b"), "{}");
  EXPECT_EQ(EmptyRootFor(Opcode::kSubdocArrayPushLast, ""), "[]");
  EXPECT_EQ(EmptyRootFor(Opcode::kSubdocCounter, "[0]"), "[]");
  EXPECT_EQ(EmptyRootFor(Opcode::kSet, ""), "");
}

}  // namespace
}  // namespace sluice::subdoc
