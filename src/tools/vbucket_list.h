// File: tools/vbucket_list.h
//
// The vbucket-list syntax of `sluice tail --vbuckets` and `sluice drain --vbuckets`:
// comma-separated vbucket ids and inclusive ranges, e.g. "0-3,7" = {0, 1, 2, 3, 7}. The result is
// sorted and free of duplicates ("3,1-3" = {1, 2, 3}). Whether the ids exist on the server is
// checked later, by the server (NOT_MY_VBUCKET).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace sluice::tools {

// kInvalid with a message naming the bad part for an empty list, an empty or non-numeric element,
// a reversed range ("5-3") or an id above 65535.
StatusOr<std::vector<Vbid>> ParseVBucketList(std::string_view text);

// The canonical short form of a sorted, duplicate-free list: "0-3,7" (for messages and reports).
std::string FormatVBucketList(const std::vector<Vbid>& vbuckets);

}  // namespace sluice::tools
