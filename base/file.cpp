#include "base/file.hpp"

#include "base/strings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"

namespace silk {

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return Fail(Error(ErrorCode::kNotFound, path + ": no such file", err));
    return FailErrno("cannot open " + path, err);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// "a FIFO", "a character device", ... for st_mode.
const char* FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: open(2) of a FIFO without a writer would otherwise wait forever.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return Fail(Error(ErrorCode::kNotFound, path + ": no such file", err));
    return FailErrno("cannot open " + path, err);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno("cannot stat " + path);
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kInvalidInput,
                path + " is " + FileKind(st.st_mode) + "; expected a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return Fail(ErrorCode::kInvalidInput, path + " is larger than " + FormatSize(max_bytes) + " (" +
                                              std::to_string(st.st_size) + " bytes)");
  std::string out;
  out.resize(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), max_bytes) + 1);
  size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      if (have > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    ssize_t n = ::read(fd.get(), out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("cannot read " + path);
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > max_bytes)
    return Fail(ErrorCode::kInvalidInput,
                path + " is larger than " + FormatSize(max_bytes) + " (it grew while being read)");
  out.resize(have);
  return out;
}

namespace {

Result<void> WriteAll(int fd, const std::string& contents) {
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("cannot write");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<void> WriteFileAtomic(const std::string& path, const std::string& contents, int mode) {
  // A device, fifo or socket (--out /dev/null, /dev/stdout) is written to, never replaced:
  // renaming over it would turn /dev/null into a regular file for the whole host.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kInvalidInput, path + " is a directory; give a file name");
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!out) return FailErrno("cannot open " + path);
    return WithContext(WriteAll(out.get(), contents), path);
  }
  std::string tmp = path + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return FailErrno("cannot create a temporary file next to " + path);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FailErrno(what + " " + path, err);
  };
  if (auto w = WriteAll(fd.get(), contents); !w) {
    errno = w.error().sys_errno();
    return fail("cannot write");
  }
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return fail("cannot chmod");
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into");
  return {};
}

Result<void> MakeDirs(const std::string& path, mode_t mode, const std::string& what) {
  std::string cur;
  for (const auto& part : Split(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return FailErrno("creating " + what + " " + cur);
  }
  return {};
}

}  // namespace silk
