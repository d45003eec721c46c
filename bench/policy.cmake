# policy_bench: syscall cost under silk's compiled filters vs. no filter, an allow-all
# filter and libseccomp's defaults; compile and cache-hit time of the default profile.
silk_bench(NAME policy_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy_bench.cpp LIBS silk_policy)
