// Entry points of the silk subcommand groups; each lives in its own cli/<group>_cmd.cpp
// and is listed in TopCommands() in cli/main.cpp.
#pragma once

#include "cli/command.hpp"

namespace silk::cli {

// silk image: build/verify/show thinix images (cli/image_cmd.cpp).
int ImageMain(const Args& args);

// silk vm: run/list thinix VMs; silk vmm: doctor (cli/vm_cmd.cpp).
int VmMain(const Args& args);
int VmmMain(const Args& args);
// silk vm create/exec/stop/delete/state/stats: named VMs, and the named VMs' list
// (cli/vm_life_cmd.cpp).
const std::vector<Command>& VmLifecycleCommands();
int PrintNamedVms(const std::string& state_dir, const Output& out);
// silk agent: the guest side of the VM control channel (cli/agent_cmd.cpp).
int AgentMain(const Args& args);

// silk policy: API profiles (cli/policy_cmd.cpp).
int RunPolicy(const Args& args);
// silk policy compile: profile -> seccomp BPF or PFC (cli/policy_compile_cmd.cpp).
int RunPolicyCompile(const Args& args);

// silk box: run/sweep compatibility boxes (cli/box_cmd.cpp).
int BoxMain(const Args& args);
// silk box create/start/kill/stop/delete/list/state: named boxes (cli/box_life_cmd.cpp).
const std::vector<Command>& BoxLifecycleCommands();

// silk policy learn/minimize/tighten (cli/learn_cmd.cpp).
int RunPolicyLearn(const Args& args);
int RunPolicyMinimize(const Args& args);
int RunPolicyTighten(const Args& args);
// silk regress: a suite under every profile of a lineage (cli/regress_cmd.cpp).
int RegressMain(const Args& args);

}  // namespace silk::cli
