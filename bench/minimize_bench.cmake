# Wall time for minimising podman-default against the sqlite3 workload (issue 4).
silk_bench(NAME minimize_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/minimize_bench.cpp LIBS silk_tighten)
target_compile_definitions(minimize_bench PRIVATE SILK_SOURCE_DIR_BENCH="${PROJECT_SOURCE_DIR}")
