#include "cli/outcome.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::cli {

void OutcomeSink::AddFlags(po::options_description& options) {
  options.add_options()("outcome", po::value(&file_),
                        "write the outcome as JSON to FILE (written whole when silk ends; an "
                        "error object when silk itself fails)")(
      "outcome-fd", po::value(&fd_),
      "write the outcome as JSON to descriptor N (3 or above, open for writing)")(
      "json", po::bool_switch(&json_),
      "refused: stdout is the command's; use --outcome FILE or --outcome-fd N");
}

Result<void> OutcomeSink::Check(const po::variables_map& vm) {
  // Nothing is written anywhere until the destination is known to be good.
  const std::string file = std::exchange(file_, "");
  const int fd = std::exchange(fd_, -1);
  if (json_)
    return silk::Fail(Error(ErrorCode::kInvalidInput,
                            "--json: " + prog_ +
                                "'s stdout is the command's own, so JSON there could not be told "
                                "apart from it; write the outcome with --outcome FILE or "
                                "--outcome-fd N"));
  if (vm.count("outcome") && vm.count("outcome-fd"))
    return silk::Fail(
        Error(ErrorCode::kInvalidInput, "--outcome and --outcome-fd: give one of them"));
  if (vm.count("outcome") && file.empty())
    return silk::Fail(Error(ErrorCode::kInvalidInput, "--outcome: expected a file name"));
  if (vm.count("outcome-fd")) {
    if (fd <= 2)
      return silk::Fail(Error(ErrorCode::kInvalidInput,
                              "--outcome-fd " + std::to_string(fd) +
                                  ": 0, 1 and 2 are the command's stdin, stdout and stderr; open "
                                  "another descriptor (e.g. 3>outcome.json) and give it"));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
      return silk::Fail(Error(ErrorCode::kInvalidInput,
                              "--outcome-fd " + std::to_string(fd) + ": not an open descriptor",
                              errno));
    if ((flags & O_ACCMODE) == O_RDONLY)
      return silk::Fail(Error(ErrorCode::kInvalidInput,
                              "--outcome-fd " + std::to_string(fd) + ": open for reading only"));
    // Never inherited by what silk starts (the box gets pipes; QEMU gets nothing).
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  file_ = file;
  fd_ = fd;
  return {};
}

Result<void> OutcomeSink::Write(const nlohmann::ordered_json& outcome) const {
  const std::string text = outcome.dump(2) + "\n";
  if (!file_.empty()) return WithContext(WriteFileAtomic(file_, text), "--outcome");
  if (fd_ < 0) return {};
  std::string_view left = text;
  while (!left.empty()) {
    ssize_t n = ::write(fd_, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno("--outcome-fd " + std::to_string(fd_) + ": writing the outcome");
    left.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

int OutcomeSink::Fail(const Error& error, std::string_view field) const {
  ReportError(error);
  if (wanted()) (void)Write(ErrorJson(JsonCode(error.code()), error.ToString(), field));
  return kExitSilkFailed;
}

}  // namespace silk::cli
