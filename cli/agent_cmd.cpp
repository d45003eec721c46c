// `silk agent --port PATH`: the guest side of the VM control channel (vmm/agent.hpp).
// thinix's /init execs it when the kernel command line has silk.agent=<port>.
#include <string>

#include "cli/commands.hpp"
#include "vmm/agent.hpp"

namespace silk::cli {

int AgentMain(const Args& args) {
  po::options_description opts("Options");
  std::string port;
  opts.add_options()("port", po::value<std::string>(&port)->required(),
                     "the virtio-serial port device, e.g. /dev/virtio-ports/silk.control");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk agent --port PATH",
                          "Serves the host's control channel inside a thinix guest: runs commands, "
                          "streams their output and exit status, answers pings, powers off.",
                          opts, {}, args, vm))
    return *rc;
  auto r = vmm::RunAgent(port);
  if (!r) return ReportError(r.error());
  return kExitOk;
}

}  // namespace silk::cli
