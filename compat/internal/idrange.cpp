#include "compat/internal/idrange.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::compat::internal {
namespace {

bool InRange(const std::string& field, uint32_t first, uint32_t count) {
  char* end = nullptr;
  errno = 0;
  unsigned long v = strtoul(field.c_str(), &end, 10);
  return errno == 0 && end != field.c_str() && v >= first && v - first < count;
}

// The slot's lock, if this is still the file at `path` (a releaser unlinks it while
// holding the lock; a waiter that got the lock of an unlinked file must start over).
enum class Take { kTaken, kBusy, kStale };

Result<Take> TryTake(const std::string& path, UniqueFd& fd_out, bool& existed) {
  for (;;) {
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    existed = fd.valid();
    if (!fd) {
      if (errno != ENOENT) return FailErrno("opening id range lease " + path);
      fd.Reset(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!fd) {
        if (errno == EEXIST) continue;  // another supervisor created it just now
        return FailErrno("creating id range lease " + path);
      }
    }
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Take::kBusy;
      return FailErrno("locking id range lease " + path);
    }
    struct stat held {
    }, now{};
    if (fstat(fd.get(), &held) != 0) return FailErrno("stat of id range lease " + path);
    if (stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev)
      continue;  // released (unlinked) between our open and our lock
    fd_out = std::move(fd);
    return existed ? Take::kStale : Take::kTaken;
  }
}

struct MapLine {
  uint64_t inside, outside, count;
};

std::vector<MapLine> ReadMap(const char* path) {
  std::vector<MapLine> out;
  auto text = ReadFile(path);
  if (!text) return out;
  for (const auto& line : Split(*text, '\n')) {
    unsigned long long in = 0, outside = 0, count = 0;
    if (sscanf(line.c_str(), "%llu %llu %llu", &in, &outside, &count) == 3)
      out.push_back({in, outside, count});
  }
  return out;
}

// Whether [first, first + count) of this namespace's ids is mapped by one line.
bool Covered(const std::vector<MapLine>& map, uint64_t first, uint64_t count) {
  for (const auto& m : map)
    if (m.inside <= first && first + count <= m.inside + m.count) return true;
  return false;
}

// How many ids from 0 up one line maps.
uint64_t FromZero(const std::vector<MapLine>& map) {
  for (const auto& m : map)
    if (m.inside == 0) return m.count;
  return 0;
}

}  // namespace

bool HostIdPoolMapped() {
  const uint64_t size = uint64_t{kIdRangeSlots} * kIdRangeSize;
  return Covered(ReadMap("/proc/self/uid_map"), kIdRangeBase, size) &&
         Covered(ReadMap("/proc/self/gid_map"), kIdRangeBase, size);
}

uint32_t NestedIdCount() {
  uint64_t n =
      std::min(FromZero(ReadMap("/proc/self/uid_map")), FromZero(ReadMap("/proc/self/gid_map")));
  return static_cast<uint32_t>(std::min<uint64_t>(n, kIdRangeSize));
}

bool AnyProcessRunsAs(uint32_t first, uint32_t count) {
  DIR* d = opendir("/proc");
  if (!d) return true;  // cannot tell: assume the worst
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    auto status = ReadFile(std::string("/proc/") + e->d_name + "/status");
    if (!status) continue;  // exited meanwhile
    auto at = status->find("\nUid:");
    if (at == std::string::npos) continue;
    auto line = status->substr(at + 5, status->find('\n', at + 1) - at - 5);
    for (const auto& f : Split(Trim(line), '\t'))
      if (!f.empty() && InRange(Trim(f), first, count)) found = true;
    if (found) break;
  }
  closedir(d);
  return found;
}

Result<IdRangeLease> IdRangeLease::Acquire(const std::string& dir, const std::string& box_id) {
  {
    std::string cur;
    for (const auto& part : Split(dir, '/')) {
      if (part.empty()) continue;
      cur += "/" + part;
      if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return FailErrno("creating the id range directory " + cur);
    }
  }
  for (uint32_t slot = 0; slot < kIdRangeSlots; ++slot) {
    std::string path = dir + "/" + std::to_string(slot);
    UniqueFd fd;
    bool existed = false;
    Take t = SILK_TRY(TryTake(path, fd, existed));
    if (t == Take::kBusy) continue;
    IdRangeLease lease(path, std::move(fd), slot);
    // A file nobody holds was left by a supervisor that died: its box may still be
    // dying. Leave that range alone while any process still runs as one of its ids.
    if (t == Take::kStale && AnyProcessRunsAs(lease.first_id(), kIdRangeSize)) {
      lease.path_.clear();  // keep the file: its range is still in use
      continue;
    }
    std::string note = box_id + " " + std::to_string(getpid()) + "\n";
    if (ftruncate(lease.fd_.get(), 0) != 0 ||
        pwrite(lease.fd_.get(), note.data(), note.size(), 0) != static_cast<ssize_t>(note.size()))
      return FailErrno("writing id range lease " + path);
    return lease;
  }
  return Fail(Error(ErrorCode::kSystem,
                    "every host id range for boxes is in use (" + std::to_string(kIdRangeSlots) +
                        " live boxes under " + dir + ")",
                    EUSERS));
}

IdRangeLease::~IdRangeLease() {
  // Unlink while holding the lock: a waiter that locks the old inode sees it is gone.
  if (fd_ && !path_.empty()) unlink(path_.c_str());
}

}  // namespace silk::compat::internal
