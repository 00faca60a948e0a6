// File: fuzz/fuzz_check.h
//
// FUZZ_CHECK(cond, what): an invariant of the code under test. When it does not hold the target
// prints what was expected and aborts, which libFuzzer reports as a crash and saves the input
// (crash-<sha1>) for a regression seed. Unlike assert() it stays on in every build type.
//
// Thread safety: stateless.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                                     \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", __FILE__, __LINE__, #cond, what); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
