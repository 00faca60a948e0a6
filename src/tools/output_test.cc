// File: tools/output_test.cc
#include "tools/output.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tools/failure.h"

namespace sluice::tools {
namespace {

using protocol::McbpStatus;

TEST(FormatTableTest, AlignsColumnsByDisplayWidth) {
  EXPECT_EQ(FormatTable({{"a", "1"}, {"long_name", "22"}, {"p50 µs", "3"}}),
            "a          1\n"
            "long_name  22\n"
            "p50 µs     3\n");
  EXPECT_EQ(FormatTable({}), "");
  EXPECT_EQ(FormatTable({{"x", "yy", "z"}, {"xxx", "y", "z"}}),
            "x    yy  z\n"
            "xxx  y   z\n");
}

TEST(OutputTest, TextAndFailureInTextMode) {
  std::ostringstream out;
  std::ostringstream err;
  Output output(out, err, /*json=*/false);
  output.Text("hello\n");
  EXPECT_EQ(output.Fail({ExitCode::kNotFound, "get k: key not found"}), 1);
  EXPECT_EQ(out.str(), "hello\n");
  EXPECT_EQ(err.str(), "sluice: get k: key not found\n");
}

TEST(OutputTest, JsonModeWritesOneObjectPerAnswerOrError) {
  std::ostringstream out;
  std::ostringstream err;
  Output output(out, err, /*json=*/true);
  output.Text("ignored in JSON mode");
  output.Json({{"value", std::string("bin\xff", 4)}});  // not UTF-8: replaced, no exception
  EXPECT_EQ(out.str(), "{\"value\":\"bin\xEF\xBF\xBD\"}\n");
  out.str("");
  EXPECT_EQ(output.Fail({ExitCode::kAuth, "authentication failed"}), 4);
  EXPECT_EQ(out.str(), "{\"code\":\"auth\",\"error\":\"authentication failed\",\"exit_code\":4}\n");
  EXPECT_EQ(err.str(), "sluice: authentication failed\n");
}

TEST(FailureTest, KvStatusesMapToExitCodes) {
  client::KvResult r;
  r.status = McbpStatus::kKeyEnoent;
  EXPECT_EQ(FailureFromKv(r, "get", "k").code, ExitCode::kNotFound);
  r.status = McbpStatus::kNotMyVbucket;
  r.vbucket = 7;
  const Failure nmvb = FailureFromKv(r, "get", "k");
  EXPECT_EQ(nmvb.code, ExitCode::kNotMyVbucket);
  EXPECT_NE(nmvb.message.find("vbucket 7"), std::string::npos) << nmvb.message;
  r.status = McbpStatus::kEaccess;
  EXPECT_EQ(FailureFromKv(r, "get", "k").code, ExitCode::kAuth);
  r.status = McbpStatus::kKeyEexists;
  r.value = "context";
  const Failure exists = FailureFromKv(r, "set", "k");
  EXPECT_EQ(exists.code, ExitCode::kServerError);
  EXPECT_NE(exists.message.find("KeyEexists"), std::string::npos) << exists.message;
  EXPECT_NE(exists.message.find("context"), std::string::npos) << exists.message;
}

TEST(FailureTest, StatusesWithoutAConnectionAreConnectionErrors) {
  EXPECT_EQ(FailureFromStatus(Status(Errc::kIoError, "refused"), nullptr).code,
            ExitCode::kConnection);
  EXPECT_EQ(FailureFromStatus(Status(Errc::kTempFail, "timed out"), nullptr).code,
            ExitCode::kConnection);
  EXPECT_EQ(FailureFromStatus(Status(Errc::kAuthError, "bad password"), nullptr).code,
            ExitCode::kAuth);
}

TEST(FailureTest, ExitCodeNames) {
  EXPECT_EQ(ExitCodeName(ExitCode::kOk), "ok");
  EXPECT_EQ(ExitCodeName(ExitCode::kNotMyVbucket), "not_my_vbucket");
  EXPECT_EQ(ExitCodeName(ExitCode::kServerError), "server_error");
}

}  // namespace
}  // namespace sluice::tools
