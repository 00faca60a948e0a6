#include "common/json_check.h"

#include <nlohmann/json.hpp>

namespace sluice {

bool IsValidJson(std::string_view text) {
  // Cheap rejection first: most non-JSON values fail on their first significant byte.
  size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
    ++i;
  }
  if (i == text.size()) return false;
  const char c = text[i];
  const bool plausible = c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') ||
                         c == 't' || c == 'f' || c == 'n';
  if (!plausible) return false;
  return nlohmann::json::accept(text);
}

}  // namespace sluice
