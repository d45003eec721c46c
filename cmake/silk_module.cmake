# Include roots that keep each module's internal/ private (DESIGN.md: "a module's
# internal/ is private to it").
#
# Sources spell every silk header from the repository root ("policy/profile.hpp",
# "policy/internal/compile_codegen.hpp"), but the repository root itself is nobody's
# include directory. Instead, for a module folder M:
#   include/M/M/*.hpp          links to M's public headers (the top of its folder); the
#                              library exports this root, so its dependents (and theirs,
#                              through PUBLIC links) can include M's public headers only;
#   include-private/M/M -> M/  M's whole folder, internal/ included, on the library's
#                              PRIVATE include path: only M's own sources see it;
#   include-testing/M/M/internal/*.hpp
#                              links to the internal headers M offers its white-box
#                              tests, exported by the test-only INTERFACE target
#                              silk_M_testing (silk_module_testing below).
# So `#include "policy/internal/x.hpp"` outside policy/ does not compile, nor does an
# include of a module that is not linked. ci/check-boundaries checks the same rules
# (and DESIGN.md's allowed edges) on the sources, with file:line for each violation.

# silk_link_files(<dir> <file>...): <dir> holds exactly one symbolic link per <file>,
# named as the file (stale links from an earlier configure are removed).
function(silk_link_files dir)
  file(MAKE_DIRECTORY ${dir})
  file(GLOB old LIST_DIRECTORIES false ${dir}/*)
  foreach(link ${old})
    if(IS_SYMLINK ${link})
      file(REMOVE ${link})
    endif()
  endforeach()
  foreach(file ${ARGN})
    get_filename_component(name ${file} NAME)
    file(CREATE_LINK ${file} ${dir}/${name} SYMBOLIC)
  endforeach()
endfunction()

# silk_module_includes(<target>): <target> is the library (or executable) of the module
# folder this CMakeLists.txt is in.
function(silk_module_includes target)
  get_filename_component(module ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(public_root ${PROJECT_BINARY_DIR}/include/${module})
  set(private_root ${PROJECT_BINARY_DIR}/include-private/${module})
  # Re-globbed at build time: a header added or removed re-runs CMake, which relinks.
  file(GLOB headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.hpp
       ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  silk_link_files(${public_root}/${module} ${headers})
  # Never REMOVE_RECURSE here: this link points into the source tree.
  if(NOT IS_SYMLINK ${private_root}/${module})
    file(MAKE_DIRECTORY ${private_root})
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${private_root}/${module} SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE ${private_root})
  else()
    target_include_directories(${target} PRIVATE ${private_root}
                               PUBLIC $<BUILD_INTERFACE:${public_root}>)
  endif()
endfunction()

# silk_module_testing(<name> <library> HEADERS internal/a.hpp ...): a test-only INTERFACE
# target that links <library> and also exposes the listed internal headers of this
# module (the BPF interpreter, the libvirt table, ...), for white-box tests under tests/.
# Name it silk_<module>_testing; ci/check-boundaries lets only tests/ link it, and lets
# tests include exactly the headers listed here.
function(silk_module_testing name library)
  cmake_parse_arguments(T "" "" "HEADERS" ${ARGN})
  get_filename_component(module ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(root ${PROJECT_BINARY_DIR}/include-testing/${module})
  set(headers "")
  foreach(header ${T_HEADERS})
    if(NOT header MATCHES "^internal/[^/]+$" OR NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "silk_module_testing(${name}): ${module}/${header} is not a header "
                          "in ${module}/internal/")
    endif()
    list(APPEND headers ${CMAKE_CURRENT_SOURCE_DIR}/${header})
  endforeach()
  silk_link_files(${root}/${module}/internal ${headers})
  add_library(${name} INTERFACE)
  target_include_directories(${name} INTERFACE ${root})
  target_link_libraries(${name} INTERFACE ${library})
endfunction()

# The root for test sources that include each other as "tests/<dir>/x.hpp".
function(silk_tests_include_root out)
  set(root ${PROJECT_BINARY_DIR}/include-tests)
  if(NOT EXISTS ${root}/tests)
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/tests ${root}/tests SYMBOLIC)
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()
