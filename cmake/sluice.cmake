# Helpers every folder's CMakeLists.txt uses, so each library and test is declared the same way.
#
#   sluice_library(NAME <name> SRCS <files...> DEPS <targets...>)
#     A static library target `sluice_<name>`; PUBLIC deps so users inherit include paths.
#   sluice_test(NAME <name> SRCS <files...> DEPS <targets...> [LABELS <labels...>])
#     A GoogleTest executable registered with CTest (each TEST is discovered separately).

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
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${SLUICE_WARNINGS})
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
endfunction()
