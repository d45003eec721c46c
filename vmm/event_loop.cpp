#include "vmm/event_loop.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace silk::vmm {

namespace {

void IgnoreLibvirtError(void*, virErrorPtr) {}

void WakeUp(int timer, void*) { virEventRemoveTimeout(timer); }

// Owns the loop thread; a function-local static, so it is joined at exit before
// libvirt's own state goes away.
class LoopThread {
 public:
  LoopThread() {
    thread_ = std::thread([this] {
      while (!stop_.load()) virEventRunDefaultImpl();
    });
  }
  ~LoopThread() {
    stop_.store(true);
    // A zero timeout makes the blocked poll() in virEventRunDefaultImpl return.
    virEventAddTimeout(0, WakeUp, nullptr, nullptr);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Result<void> EnsureEventLoop() {
  static std::once_flag once;
  static int status = -1;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    status = virEventRegisterDefaultImpl();
  });
  if (status != 0)
    return Fail(ErrorCode::kInternal, "libvirt: cannot register the default event loop");
  static LoopThread loop;
  return {};
}

}  // namespace silk::vmm
