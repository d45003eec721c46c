#include "vmm/event_loop.hpp"

#include "vmm/internal/libvirt_api.hpp"

#include <atomic>
#include <mutex>
#include <thread>

namespace silk::vmm {

using internal::Libvirt;

namespace {

void IgnoreLibvirtError(void*, virErrorPtr) {}

void WakeUp(int timer, void*) { Libvirt().virEventRemoveTimeout(timer); }

// Owns the loop thread; a function-local static, so it is joined at exit before
// libvirt's own state goes away.
class LoopThread {
 public:
  LoopThread() {
    thread_ = std::thread([this] {
      while (!stop_.load()) Libvirt().virEventRunDefaultImpl();
    });
  }
  ~LoopThread() {
    stop_.store(true);
    // A zero timeout makes the blocked poll() in virEventRunDefaultImpl return.
    Libvirt().virEventAddTimeout(0, WakeUp, nullptr, nullptr);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Result<void> EnsureEventLoop() {
  SILK_TRY(internal::LoadLibvirt());
  static std::once_flag once;
  static int status = -1;
  std::call_once(once, [] {
    Libvirt().virInitialize();
    Libvirt().virSetErrorFunc(nullptr, IgnoreLibvirtError);
    status = Libvirt().virEventRegisterDefaultImpl();
  });
  if (status != 0)
    return Fail(ErrorCode::kInternal, "libvirt: cannot register the default event loop");
  static LoopThread loop;
  return {};
}

}  // namespace silk::vmm
