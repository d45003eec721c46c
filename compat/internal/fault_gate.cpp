#include "compat/internal/fault_gate.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace silk::compat::internal {

int FaultGateChild::Open() {
  const long page_size = getpagesize();  // glibc's cached value: no syscall, no lock
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (fd < 0) return errno;
  uffdio_api api = {};
  api.api = UFFD_API;
  void* p = MAP_FAILED;
  int err = 0;
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    err = errno;
  } else if ((p = mmap(nullptr, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) ==
             MAP_FAILED) {
    err = errno;
  } else {
    uffdio_register reg = {};
    reg.range.start = reinterpret_cast<unsigned long>(p);
    reg.range.len = static_cast<unsigned long>(page_size);
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) err = errno;
  }
  if (err != 0) {
    if (p != MAP_FAILED) munmap(p, page_size);
    close(fd);
    return err;
  }
  uffd = fd;
  page = static_cast<const volatile char*>(p);
  return 0;
}

void FaultGateChild::CloseFd() {
  if (uffd >= 0) close(uffd);
  uffd = -1;
}

Result<FaultGate> FaultGate::Adopt(UniqueFd uffd) {
  char link[64] = {};
  std::string self = "/proc/self/fd/" + std::to_string(uffd.get());
  if (readlink(self.c_str(), link, sizeof link - 1) < 0 ||
      std::string_view(link) != "anon_inode:[userfaultfd]")
    return Fail(ErrorCode::kInternal,
                std::string("the box's gate fd is not a userfaultfd (") + link + ")");
  return FaultGate(std::move(uffd));
}

Result<bool> FaultGate::Reached() {
  uffd_msg msg;
  ssize_t n = read(uffd_.get(), &msg, sizeof msg);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return false;
    return FailErrno("reading the box's gate (userfaultfd)");
  }
  if (n != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT)
    return Fail(ErrorCode::kInternal, "unexpected event on the box's gate (userfaultfd)");
  fault_page_ = msg.arg.pagefault.address & ~static_cast<unsigned long>(getpagesize() - 1);
  return true;
}

Result<void> FaultGate::Open() {
  uffdio_zeropage zero = {};
  zero.range.start = fault_page_;
  zero.range.len = static_cast<unsigned long>(getpagesize());
  if (ioctl(uffd_.get(), UFFDIO_ZEROPAGE, &zero) != 0 && errno != EEXIST &&
      errno != ESRCH)  // ESRCH: it died
    return FailErrno("opening the box's gate (UFFDIO_ZEROPAGE)");
  return {};
}

}  // namespace silk::compat::internal
