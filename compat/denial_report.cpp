// DenialReport: the answer to "which syscall was denied?", as JSON and as text.
#include <nlohmann/json.hpp>

#include <sstream>

#include "compat/box.hpp"

namespace silk::compat {

uint64_t DenialReport::total() const {
  uint64_t n = folded;
  for (const auto& d : denials) n += d.count;
  return n;
}

std::string DenialReport::ToJson() const {
  nlohmann::json j;
  j["denials"] = nlohmann::json::array();
  for (const auto& d : denials)
    j["denials"].push_back({{"syscall", d.syscall},
                            {"nr", d.nr},
                            {"args", d.args},
                            {"pid", d.pid},
                            {"count", d.count},
                            {"verdict", d.verdict}});
  j["raw_socket_decisions"] = nlohmann::json::array();
  for (const auto& r : raw_socket_decisions)
    j["raw_socket_decisions"].push_back({{"pid", r.pid},
                                         {"domain", r.domain},
                                         {"type", r.type},
                                         {"protocol", r.protocol},
                                         {"allowed", r.allowed},
                                         {"count", r.count}});
  j["total"] = total();
  j["capped"] = capped();
  j["max_entries"] = kMaxEntries;
  if (capped()) {
    // Past the cap only counts remain: per syscall, and for raw sockets in all.
    j["folded"] = folded;
    j["folded_by_syscall"] = nlohmann::json::array();
    for (const auto& d : folded_denials)
      j["folded_by_syscall"].push_back(
          {{"syscall", d.syscall}, {"nr", d.nr}, {"count", d.count}, {"verdict", d.verdict}});
    j["folded_raw_socket_decisions"] = folded_raw_socket_decisions;
  }
  return j.dump(2);
}

std::string DenialReport::ToText() const {
  std::ostringstream os;
  if (denials.empty()) {
    os << "no syscall was denied\n";
  } else {
    os << total() << " denied syscall" << (total() == 1 ? "" : "s") << ":\n";
    for (const auto& d : denials) {
      os << "  " << d.syscall << "(";
      for (int i = 0; i < 6; ++i)
        os << (i ? ", " : "") << "0x" << std::hex << d.args[i] << std::dec;
      os << ") pid " << d.pid << " -> " << d.verdict;
      if (d.count > 1) os << " (x" << d.count << ")";
      os << "\n";
    }
  }
  if (folded) {
    uint64_t listed = 0;
    for (const auto& d : folded_denials) listed += d.count;
    os << "report capped at " << kMaxEntries << " distinct denials: " << folded
       << " more folded into counts per syscall:\n";
    for (const auto& d : folded_denials)
      os << "  " << d.syscall << " -> " << d.verdict << " (x" << d.count << ")\n";
    if (listed < folded)
      os << "  " << folded - listed << " of other syscalls (more than " << kMaxEntries
         << " distinct syscalls)\n";
  }
  if (folded_raw_socket_decisions)
    os << "raw socket decisions capped at " << kMaxEntries
       << " distinct requests: " << folded_raw_socket_decisions << " more only counted\n";
  return os.str();
}

}  // namespace silk::compat
