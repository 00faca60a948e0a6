#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <string>

namespace sluice::logging {
namespace {

std::shared_ptr<spdlog::logger> MakeLogger() {
  auto logger = spdlog::stderr_logger_mt("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  // Tests and tools stay quiet unless asked: SLUICE_LOG_LEVEL overrides the default (info).
  const char* env = std::getenv("SLUICE_LOG_LEVEL");
  logger->set_level(env ? spdlog::level::from_str(env) : spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace

spdlog::logger& Get() {
  static std::shared_ptr<spdlog::logger> logger = MakeLogger();
  return *logger;
}

bool Init(std::string_view level) {
  const std::string name(level);
  const auto lvl = spdlog::level::from_str(name);
  // from_str maps unknown names to "off"; only accept "off" when asked for it.
  if (lvl == spdlog::level::off && name != "off") return false;
  Get().set_level(lvl);
  return true;
}

}  // namespace sluice::logging
