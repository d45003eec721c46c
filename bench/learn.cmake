# Learning overhead vs a plain box, and ddmin's oracle runs vs n and k (issue 4).
silk_bench(NAME learn_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/learn_bench.cpp LIBS silk_tighten)
target_compile_definitions(learn_bench PRIVATE SILK_SOURCE_DIR_BENCH="${PROJECT_SOURCE_DIR}")
