# Builds and runs a small consumer project against nvgre, as a user would:
#   KIND=find_package     - install nvgre into a fresh prefix, then find_package(nvgre)
#   KIND=add_subdirectory - add_subdirectory(<nvgre source>) from the consumer's tree
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

set(consumer_src ${SOURCE_DIR}/tests/consumer/${KIND})
if(KIND STREQUAL "find_package")
  set(prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/nvgre-build -DCMAKE_CXX_COMPILER=${CXX}
      -DNVGRE_BUILD_TESTS=OFF -DNVGRE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/nvgre-build)
  foreach(f include/nvgre/nvgre.hpp share/cmake/nvgre/nvgreConfig.cmake
            share/cmake/nvgre/nvgreConfigVersion.cmake share/cmake/nvgre/nvgreTargets.cmake
            share/pkgconfig/nvgre.pc)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} -S ${consumer_src} -B ${WORK_DIR}/build -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_PREFIX_PATH=${prefix})
else()
  run(${CMAKE_COMMAND} -S ${consumer_src} -B ${WORK_DIR}/build -DCMAKE_CXX_COMPILER=${CXX}
      -DNVGRE_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "consumer via ${KIND}: built and ran")
