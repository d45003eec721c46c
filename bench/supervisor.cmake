# Supervisor memory under denial floods: peak RSS of `silk box run` (needs silk and the
# static probe built; they are found in the build tree).
silk_bench(NAME supervisor_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/supervisor_bench.cpp LIBS)
target_compile_definitions(supervisor_bench PRIVATE
  SILK_BINARY_DIR="${PROJECT_BINARY_DIR}" SILK_COMPAT_PROBE="$<TARGET_FILE:compat_probe>")
