// What the box runtime itself needs from an API profile: a compat fact that learning and
// minimising (tighten/) must respect so that a learned or minimised profile still starts
// a box.
#pragma once

#include <string>
#include <vector>

namespace silk::compat {

// The syscalls compat::RunBox's child makes after installing the profile's filter and
// before the workload's execve: execve itself (the supervisor takes the seccomp listener
// with pidfd_getfd, so the child makes no other call). A learned profile gets them when
// its parent allows them; a minimised one never loses them.
inline const std::vector<std::string> kBoxRuntimeSyscalls = {"execve"};

}  // namespace silk::compat
