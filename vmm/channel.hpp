// silk::vmm: the control channel between silk on the host and `silk agent` in a guest.
//
// Transport: a virtio-serial port. On the host QEMU binds it to a unix socket
// (VmSpec::control_socket) and silk connects there; in the guest it is the character
// device /dev/virtio-ports/<port> that `silk agent --port` opens. No network is needed.
//
// Protocol: a stream of frames, in both directions:
//     u32 length (big-endian; counts the type byte and the payload, 1..kMaxFrame)
//     u8  type   (FrameType)
//     payload    (length - 1 bytes)
// Control payloads are JSON objects; output payloads are raw bytes.
//   host -> guest   'P' ping      {}
//                   'R' run       {"argv": [...], "env": {"K": "V"}, "cwd": "/", "stdin": true}
//                                 (env, cwd, stdin optional; without "stdin" the command's
//                                 stdin is /dev/null)
//                   'I' stdin     raw bytes for the running command's stdin ("stdin": true)
//                   'C' stdin end {}  end of file: the command's stdin is closed once the
//                                 bytes before it are written
//                   'Q' poweroff  {}     (the agent syncs and powers the guest off)
//   guest -> host   'H' hello     {"version": "...", "pid": N, "stdin": true}  (sent when the
//                                 agent opens the port; "stdin": it takes 'I'/'C')
//                   'p' pong      {"version": "...", "uptime_s": N, "stdin": true}
//                   'O' stdout    raw bytes of the command's stdout
//                   'E' stderr    raw bytes of the command's stderr
//                   'X' exit      {"status": N, "signal": S}  (status is 128+S if signalled)
//                   'F' failure   {"error": "...", "status": 126|127}  (the command could
//                                 not start; status only when it was not found (127) or not
//                                 executable (126), absent when the agent itself failed)
// One command runs at a time; the host sends 'R' and reads until 'X' or 'F', sending 'I'
// and 'C' meanwhile. Frames the receiver does not expect (a late 'H' or 'p', stdin for a
// command that has ended) are ignored. Flow control: the host reads the guest's frames
// whenever they come and sends stdin without blocking, a bounded window ahead; the agent
// stops reading the channel while the command has a window of unread stdin, so neither
// side's memory grows with the input and a command that writes while it reads never
// deadlocks against its own output. A command that exits without reading stdin ends the
// run; the rest of its input is dropped.
//
// Virtio-serial quirks handled here: in the guest, read() returns 0 while no host side
// is connected (it is not end-of-file for good), poll() reports POLLHUP, and write()
// blocks until one is (EAGAIN on an O_NONBLOCK port).
//
// Sessions: QEMU's socket (libvirt's unix channel, mode='bind') serves one host
// connection at a time and accepts the next once it closes, so a VM that lives (`silk vm
// create`) is reached by one `silk vm exec` after another. A host side that goes away
// ends its session: the agent kills the command it ran and forgets partial frames. Bytes
// the guest wrote that QEMU had not yet passed on reach the next connection, so the host
// opens a session with a ping carrying a nonce ({"nonce": "..."}), which the pong echoes
// first in its payload ({"nonce": ...}), and skips everything before that pong
// (FrameDecoder::SkipTo).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::vmm {

enum class FrameType : uint8_t {
  kPing = 'P',
  kRun = 'R',
  kPowerOff = 'Q',
  kStdin = 'I',
  kStdinEnd = 'C',
  kHello = 'H',
  kPong = 'p',
  kStdout = 'O',
  kStderr = 'E',
  kExit = 'X',
  kFailure = 'F',
};

inline constexpr uint32_t kMaxFrame = 1 << 20;

struct Frame {
  FrameType type;
  std::string payload;
};

// Encodes one frame. Errors: kInvalidInput if the payload exceeds kMaxFrame - 1.
Result<std::string> EncodeFrame(FrameType type, const std::string& payload);

// Decodes frames from a byte stream incrementally.
class FrameDecoder {
 public:
  void Feed(const char* data, size_t n) { buf_.append(data, n); }
  // The next whole frame, if buffered. Errors: kInvalidInput for a length of 0 or above
  // kMaxFrame, or an unknown type (the stream is then unusable).
  Result<bool> Next(Frame* out);
  // Drops what is buffered (a partial frame of a peer that went away).
  void Clear() { buf_.clear(); }
  // Resynchronises a stream that lost its frame boundaries (stale bytes of an earlier
  // session): drops the buffered bytes before the first frame whose type byte and payload
  // start with `marker`, and returns true once one is buffered. Without one, keeps only
  // the last bytes that may begin it.
  bool SkipTo(std::string_view marker);

 private:
  std::string buf_;
};

// One end of the channel over a file descriptor (a unix socket on the host, the
// virtio-serial device in the guest).
class FramedChannel {
 public:
  // `hangup_is_transient`: treat read() == 0 as "no peer yet" and retry (guest side)
  // instead of "peer gone" (host side).
  explicit FramedChannel(UniqueFd fd, bool hangup_is_transient = false)
      : fd_(std::move(fd)), hangup_is_transient_(hangup_is_transient) {}

  int fd() const { return fd_.get(); }
  bool hangup_is_transient() const { return hangup_is_transient_; }
  // Forgets the session's bytes both ways (what is queued, a partial frame read): the
  // host side went away and the next one starts afresh.
  void ResetSession() {
    decoder_.Clear();
    out_.clear();
  }
  // FrameDecoder::SkipTo on what was read.
  bool SkipTo(std::string_view marker) { return decoder_.SkipTo(marker); }
  // Writes the frame (after any queued bytes, so frames never interleave), waiting while
  // the fd is full. On the guest side with an O_NONBLOCK port (hangup_is_transient), a
  // host side that is not connected fails it (kSystem, ECONNRESET) instead of blocking
  // until the next host connects and gets this session's bytes.
  Result<void> Send(FrameType type, const std::string& payload);

  // For a caller that polls fd() itself. Queue() appends a frame to the outgoing bytes;
  // Flush() writes what the fd takes now (an O_NONBLOCK fd: it never waits); pending() is
  // what is still queued. ReadSome() reads once what is available (after POLLIN) into the
  // decoder, and NextBuffered() returns the frames read so far. Errors as Receive().
  Result<void> Queue(FrameType type, const std::string& payload);
  Result<void> Flush();
  size_t pending() const { return out_.size(); }
  Result<void> ReadSome();
  Result<bool> NextBuffered(Frame* out) { return decoder_.Next(out); }
  // Waits for the next frame until `deadline`. Errors: kTimeout; kSystem with ECONNRESET
  // when the peer went away; kInvalidInput for a corrupt stream.
  Result<Frame> Receive(std::chrono::steady_clock::time_point deadline);
  // Receive() without a deadline.
  Result<Frame> Receive();

 private:
  UniqueFd fd_;
  bool hangup_is_transient_;
  FrameDecoder decoder_;
  std::string out_;  // queued bytes not yet written
};

}  // namespace silk::vmm
