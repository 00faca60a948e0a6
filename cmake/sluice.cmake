# Helpers every folder's CMakeLists.txt uses, so each library and test is declared the same way.
#
#   sluice_library(NAME <name> SRCS <files...> DEPS <targets...>)
#     A static library target `sluice_<name>`; PUBLIC deps so users inherit include paths.
#   sluice_test(NAME <name> SRCS <files...> DEPS <targets...> [LABELS <labels...>])
#     A GoogleTest executable registered with CTest (each TEST is discovered separately), linked
#     with the TSan suppressions; test helpers come from src/testing (sluice_testing). Its tests
#     are labelled LABELS (default `unit`) and the binary's name: `ctest -L integration`,
#     `ctest -L '^dcp_test$'`.

# Test code (each test binary's own files and the src/testing libraries) compiles with
# SLUICE_TEST_CXX_FLAGS, after the build type's flags, so the default -O0 wins: the optimiser was
# most of the test files' compile time (the DCP integration tests: 52 s of CPU at -O2, 15 s at -O0)
# and test code waits on servers, it does not compute. The code under test keeps the build's flags.
set(SLUICE_TEST_CXX_FLAGS "-O0" CACHE STRING "Extra compile flags of test code (empty: the build's)")

function(sluice_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(sluice_${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(sluice_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sluice_${ARG_NAME} PUBLIC ${ARG_DEPS})
  target_compile_options(sluice_${ARG_NAME} PRIVATE ${SLUICE_WARNINGS})
endfunction()

function(sluice_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT SLUICE_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  # Every test binary carries the TSan suppressions (src/testing; empty outside TSan builds).
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} sluice_tsan_suppressions
    GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${SLUICE_WARNINGS} ${SLUICE_TEST_CXX_FLAGS})
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  # Where tests find the source tree (docs, fixtures) and the binaries they run.
  target_compile_definitions(${ARG_NAME} PRIVATE
    SLUICE_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SLUICE_BINARY_DIR="${CMAKE_BINARY_DIR}")
  # One variable only: gtest_discover_tests passes a list property on as separate arguments.
  # SLUICE_BIN (the CLI) lives beside it.
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${labels}" TIMEOUT 300
    ENVIRONMENT "SLUICED_BIN=${CMAKE_BINARY_DIR}/sluiced")
  # Every test also carries its binary's name as a label, so `ctest -L '^(dcp_test|...)$'` picks
  # test binaries (scripts/run-tests.sh and `make test-tsan` select the TSan set that way).
  # gtest_discover_tests flattens list-valued PROPERTIES, so this CTest include file, read after the
  # discovered tests (in ${NAME}_TESTS), sets both labels.
  set(label_file "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_labels.cmake")
  file(WRITE "${label_file}"
    "foreach(t IN LISTS ${ARG_NAME}_TESTS)\n"
    "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${labels};${ARG_NAME}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${label_file}")
endfunction()

# ThreadSanitizer builds keep the std:: template instantiations out of the executables' dynamic
# symbol tables, so uninstrumented RocksDB and libstdc++ do not run our instrumented copies of them
# (scripts/tsan-no-interpose.ver says why; scripts/tsan.supp is the other half).
if(SLUICE_SANITIZE MATCHES "thread")
  add_link_options(LINKER:--version-script=${PROJECT_SOURCE_DIR}/scripts/tsan-no-interpose.ver)
endif()

# SLUICE_FUZZ: every library is compiled with libFuzzer's coverage instrumentation, so the fuzz
# targets in fuzz/ (linked with -fsanitize=fuzzer) are guided through our code. Clang only; the
# Makefile's build-fuzz directory also sets SLUICE_SANITIZE=address,undefined.
if(SLUICE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SLUICE_FUZZ needs clang (libFuzzer)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
