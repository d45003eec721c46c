#include "vmm/channel.hpp"

#include <poll.h>

#include <cerrno>

#include "base/sleep.hpp"

namespace silk::vmm {

namespace {

bool KnownType(uint8_t t) {
  switch (static_cast<FrameType>(t)) {
    case FrameType::kPing:
    case FrameType::kRun:
    case FrameType::kPowerOff:
    case FrameType::kStdin:
    case FrameType::kStdinEnd:
    case FrameType::kHello:
    case FrameType::kPong:
    case FrameType::kStdout:
    case FrameType::kStderr:
    case FrameType::kExit:
    case FrameType::kFailure:
      return true;
  }
  return false;
}

}  // namespace

Result<std::string> EncodeFrame(FrameType type, const std::string& payload) {
  if (payload.size() >= kMaxFrame)
    return Fail(ErrorCode::kInvalidInput,
                "control frame payload of " + std::to_string(payload.size()) +
                    " bytes exceeds the limit of " + std::to_string(kMaxFrame - 1));
  uint32_t len = static_cast<uint32_t>(payload.size() + 1);
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(len >> 24));
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out.push_back(static_cast<char>(type));
  out += payload;
  return out;
}

Result<bool> FrameDecoder::Next(Frame* out) {
  if (buf_.size() < 4) return false;
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(buf_[i])); };
  uint32_t len = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
  if (len == 0 || len > kMaxFrame)
    return Fail(ErrorCode::kInvalidInput, "control channel: frame length " + std::to_string(len) +
                                              " is out of range 1.." + std::to_string(kMaxFrame));
  if (buf_.size() >= 5 && !KnownType(static_cast<uint8_t>(buf_[4])))
    return Fail(ErrorCode::kInvalidInput, "control channel: unknown frame type " +
                                              std::to_string(static_cast<uint8_t>(buf_[4])));
  if (buf_.size() < 4 + static_cast<size_t>(len)) return false;
  out->type = static_cast<FrameType>(buf_[4]);
  out->payload.assign(buf_, 5, len - 1);
  buf_.erase(0, 4 + static_cast<size_t>(len));
  return true;
}

bool FrameDecoder::SkipTo(std::string_view marker) {
  for (size_t from = 0;;) {
    size_t at = buf_.find(marker, from);
    if (at == std::string::npos) {
      // Keep what may be the start of a marked frame split across reads.
      size_t keep = marker.size() + 4;
      if (buf_.size() > keep) buf_.erase(0, buf_.size() - keep);
      return false;
    }
    if (at >= 4) {
      buf_.erase(0, at - 4);
      return true;
    }
    from = at + 1;
  }
}

Result<void> FramedChannel::Send(FrameType type, const std::string& payload) {
  SILK_TRY(Queue(type, payload));
  while (!out_.empty()) {
    ssize_t n = ::write(fd_.get(), out_.data(), out_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd_.get(), POLLOUT, 0};
        ::poll(&p, 1, 100);
        if (hangup_is_transient_ && (p.revents & POLLHUP) && !(p.revents & POLLOUT))
          return Fail(
              Error(ErrorCode::kSystem, "control channel: the host side went away", ECONNRESET));
        continue;
      }
      return FailErrno("control channel: write failed");
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  return {};
}

Result<void> FramedChannel::Queue(FrameType type, const std::string& payload) {
  out_ += SILK_TRY(EncodeFrame(type, payload));
  return {};
}

Result<void> FramedChannel::Flush() {
  while (!out_.empty()) {
    ssize_t n = ::write(fd_.get(), out_.data(), out_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return {};
      return FailErrno("control channel: write failed");
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  return {};
}

Result<void> FramedChannel::ReadSome() {
  char buf[65536];
  ssize_t n = ::read(fd_.get(), buf, sizeof buf);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return {};
    return FailErrno("control channel: read failed");
  }
  if (n == 0) {
    if (hangup_is_transient_) return {};  // no host side connected (yet)
    return Fail(Error(ErrorCode::kSystem, "control channel: the guest side went away", ECONNRESET));
  }
  decoder_.Feed(buf, static_cast<size_t>(n));
  return {};
}

Result<Frame> FramedChannel::Receive(std::chrono::steady_clock::time_point deadline) {
  using Clock = std::chrono::steady_clock;
  Frame frame;
  char buf[65536];
  for (;;) {
    if (SILK_TRY(decoder_.Next(&frame))) return frame;
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Fail(ErrorCode::kTimeout, "control channel: no answer in time");
      timeout_ms = static_cast<int>(std::min<long>(left.count(), 1 << 30));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return FailErrno("control channel: poll failed");
    }
    if (r == 0) continue;  // the deadline check above ends the loop
    if (hangup_is_transient_ && (p.revents & POLLHUP) && !(p.revents & POLLIN)) {
      // No host side connected (yet, or any more): a frame its predecessor left half
      // sent is never completed.
      decoder_.Clear();
      SleepFor(std::chrono::milliseconds(20));
      continue;
    }
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return FailErrno("control channel: read failed");
    }
    if (n == 0) {
      if (hangup_is_transient_) {
        decoder_.Clear();
        SleepFor(std::chrono::milliseconds(20));
        continue;
      }
      return Fail(
          Error(ErrorCode::kSystem, "control channel: the guest side went away", ECONNRESET));
    }
    decoder_.Feed(buf, static_cast<size_t>(n));
  }
}

Result<Frame> FramedChannel::Receive() {
  return Receive(std::chrono::steady_clock::time_point::max());
}

}  // namespace silk::vmm
