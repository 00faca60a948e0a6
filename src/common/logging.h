// File: common/logging.h
//
// Logging: spdlog with one process-wide logger that writes to stderr (stdout is reserved for the
// server's single "listening" line and for CLI output). Use the LOG_* macros; they take fmt-style
// format strings: LOG_WARN("vb:{} flush failed: {}", vbid, status.ToString()).
//
// Thread safety: thread-safe (spdlog's *_mt sinks).
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace sluice::logging {

// Configures the process logger: level is one of trace, debug, info, warn, error, critical, off.
// Safe to call more than once; the last call wins. Returns false for an unknown level.
bool Init(std::string_view level);

// The logger every LOG_* macro writes to (created on first use, stderr).
spdlog::logger& Get();

}  // namespace sluice::logging

#define LOG_TRACE(...) ::sluice::logging::Get().trace(__VA_ARGS__)
#define LOG_DEBUG(...) ::sluice::logging::Get().debug(__VA_ARGS__)
#define LOG_INFO(...) ::sluice::logging::Get().info(__VA_ARGS__)
#define LOG_WARN(...) ::sluice::logging::Get().warn(__VA_ARGS__)
#define LOG_ERROR(...) ::sluice::logging::Get().error(__VA_ARGS__)
#define LOG_CRITICAL(...) ::sluice::logging::Get().critical(__VA_ARGS__)
