# vm_bench: `silk vm run -- /bin/true` against a bare qemu-system-x86_64 direct-kernel
# boot of the same image (same accelerator, same machine type), to power-off.
if(TARGET silk_vmm)
  silk_bench(NAME vm_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/vm_bench.cpp
    LIBS silk_vmm silk_images silk_base nlohmann_json::nlohmann_json)
  target_compile_definitions(vm_bench PRIVATE SILK_BINARY_DIR="${PROJECT_BINARY_DIR}")
endif()
