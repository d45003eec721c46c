// silk::vmm: the host side of the control channel (protocol in channel.hpp).
//
// An AgentClient owns one connection to a guest's control socket. It is created by
// ConnectAgent() once the agent answered, then runs commands one at a time.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "vmm/channel.hpp"

namespace silk::vmm {

struct AgentCommand {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to the agent's environment
  std::string cwd;                                       // "" = "/"
  // The host's fd whose bytes become the command's stdin, read until end of file (then the
  // command's stdin is closed); the caller keeps owning it. -1: the command's stdin is
  // /dev/null (also when the guest's agent predates stdin forwarding).
  int stdin_fd = -1;
};

// Called with each chunk of the command's output as it arrives.
using OutputSink = std::function<void(std::string_view)>;

class AgentClient {
 public:
  // `forwards_stdin`: the agent takes stdin frames (its hello or pong said so).
  explicit AgentClient(FramedChannel channel, bool forwards_stdin = true)
      : channel_(std::move(channel)), forwards_stdin_(forwards_stdin) {}

  // Round-trips a ping. Errors: kTimeout; kSystem when the guest went away.
  Result<void> Ping(std::chrono::steady_clock::time_point deadline);
  // Runs `cmd` in the guest, streaming stdout/stderr to the sinks and cmd.stdin_fd's bytes
  // to its stdin, and returns its exit status (128+N if killed by signal N). stdin is read
  // only a bounded window ahead of what the channel took, never blocks the output, and is
  // not waited for: the run ends when the command does, whatever stdin still holds. Errors:
  // kNotFound if the command was not found in the guest, kDenied if it was found but could not be
  // executed (so that ShellStatusForSpawnError() gives 127/126, as for a local spawn), kSystem if
  // the agent could not start it otherwise (the agent's message), kTimeout at `deadline`, kSystem
  // if the guest went away.
  Result<int> Run(const AgentCommand& cmd, const OutputSink& out, const OutputSink& err,
                  std::chrono::steady_clock::time_point deadline);
  // Asks the agent to power the guest off. Does not wait for it (watch the domain's
  // lifecycle events for that).
  Result<void> PowerOff();

 private:
  FramedChannel channel_;
  bool forwards_stdin_ = true;
};

// Connects to `socket_path` (retrying while QEMU has not created it yet) and waits until
// the agent greets ('H') or answers a ping. `still_alive` is polled between attempts; when
// it returns false (the domain ended), waiting stops. Errors: kTimeout at `deadline`;
// kSystem when the guest went away.
Result<AgentClient> ConnectAgent(const std::string& socket_path,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::function<bool()>& still_alive = nullptr);

}  // namespace silk::vmm
