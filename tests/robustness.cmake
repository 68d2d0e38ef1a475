# Included by tests/CMakeLists.txt: the robustness checks of `make test` (docs/bad-input.md).
#  - fuzz_seeds, fuzz_replay_<target>: every fuzz target as a plain program replaying its
#    committed regressions and the generated seeds (tests/fuzz/replay.cmake);
#  - clang_tidy (clang configuration only): .clang-tidy over every public header and every
#    example source (scripts/tidy.sh), clean or failed;
#  - valgrind memcheck over the nvgre-pcap interop runs: tests/interop/CMakeLists.txt.
if(NVGRE_FUZZ_REPLAY)
  include(${CMAKE_CURRENT_LIST_DIR}/fuzz/replay.cmake)
endif()

if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND NOT NVGRE_SANITIZE)
  add_test(NAME clang_tidy COMMAND ${PROJECT_SOURCE_DIR}/scripts/tidy.sh ${CMAKE_CURRENT_BINARY_DIR}/tidy)
  # 77: clang-tidy is not installed (scripts/deps.sh test installs it).
  set_tests_properties(clang_tidy PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()
