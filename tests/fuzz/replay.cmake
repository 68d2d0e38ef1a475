# Included by tests/CMakeLists.txt: the fuzz targets as plain programs (tests/fuzz/replay_main.cpp
# instead of libFuzzer's main) in the test configurations with NVGRE_FUZZ_REPLAY (gcc; under
# ASan + UBSan `make fuzz` replays the same inputs with the sanitizers, so not asan, plain
# clang++, -fno-exceptions or ThreadSanitizer), each a ctest
# that replays its committed regressions (tests/fuzz/regressions/<target>/: every finding, and
# hand-made edge cases) and the seed corpus that nvgre_fuzz_seeds writes (fixture fuzz_seeds).
# A target's invariants abort, so a finding that comes back fails `make test`. Seconds in all.
if(NVGRE_SANITIZE MATCHES "thread")
  return()
endif()
set(_nvgre_fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
set(_nvgre_fuzz_seeds ${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds)

add_executable(nvgre_fuzz_seeds ${_nvgre_fuzz_dir}/make_seeds.cpp)
target_include_directories(nvgre_fuzz_seeds PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(nvgre_fuzz_seeds PRIVATE NVGRE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(nvgre_fuzz_seeds PRIVATE nvgre::nvgre nvgre_project_options)
add_test(NAME fuzz_seeds COMMAND nvgre_fuzz_seeds ${_nvgre_fuzz_seeds})
set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP nvgre_fuzz_seeds)

# The targets that read JSON need nlohmann-json (tests/fuzz/CMakeLists.txt); without it only
# they are left out.
set(_nvgre_fuzz_json_targets ovsdb_updates)
find_package(nlohmann_json 3.10 QUIET)
if(nlohmann_json_FOUND)
  find_package(Threads REQUIRED)
endif()
file(GLOB _nvgre_fuzz_sources CONFIGURE_DEPENDS ${_nvgre_fuzz_dir}/*.fuzz.cpp)
foreach(src IN LISTS _nvgre_fuzz_sources)
  get_filename_component(name ${src} NAME_WE)
  if(name IN_LIST _nvgre_fuzz_json_targets AND NOT nlohmann_json_FOUND)
    message(STATUS "fuzz_replay_${name}: not built (no nlohmann-json; Debian: apt-get install nlohmann-json3-dev)")
    continue()
  endif()
  add_executable(fuzz_replay_${name} ${src} ${_nvgre_fuzz_dir}/replay_main.cpp)
  target_include_directories(fuzz_replay_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/examples
                             ${PROJECT_SOURCE_DIR}/examples/nvgre-ovsdb)
  if(name IN_LIST _nvgre_fuzz_json_targets)
    target_link_libraries(fuzz_replay_${name} PRIVATE nlohmann_json::nlohmann_json Threads::Threads)
  endif()
  target_compile_definitions(fuzz_replay_${name} PRIVATE NVGRE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(fuzz_replay_${name} PRIVATE nvgre::nvgre nvgre_project_options)
  # A target without committed inputs replays its seeds alone (and one without either fails:
  # a replay of nothing proves nothing; give it seeds in make_seeds.cpp).
  set(_inputs ${_nvgre_fuzz_seeds}/${name})
  if(EXISTS ${_nvgre_fuzz_dir}/regressions/${name})
    list(PREPEND _inputs ${_nvgre_fuzz_dir}/regressions/${name})
  endif()
  add_test(NAME fuzz_replay_${name} COMMAND fuzz_replay_${name} ${_inputs})
  set_tests_properties(fuzz_replay_${name} PROPERTIES FIXTURES_REQUIRED nvgre_fuzz_seeds)
endforeach()
