# Compatibility boxes: start-to-exit latency vs bwrap and crun, idle box memory.
silk_bench(NAME box_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/box_bench.cpp
           LIBS silk_compat silk_policy nlohmann_json::nlohmann_json)
