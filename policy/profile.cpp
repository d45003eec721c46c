#include "policy/profile.hpp"

#include <array>
#include <utility>

namespace silk::policy {
namespace {

constexpr std::array<std::pair<Action, const char*>, 8> kActions = {{
    {Action::kKillThread, "SCMP_ACT_KILL"},
    {Action::kKillProcess, "SCMP_ACT_KILL_PROCESS"},
    {Action::kTrap, "SCMP_ACT_TRAP"},
    {Action::kErrno, "SCMP_ACT_ERRNO"},
    {Action::kTrace, "SCMP_ACT_TRACE"},
    {Action::kLog, "SCMP_ACT_LOG"},
    {Action::kNotify, "SCMP_ACT_NOTIFY"},
    {Action::kAllow, "SCMP_ACT_ALLOW"},
}};

constexpr std::array<std::pair<ArgOp, const char*>, 7> kOps = {{
    {ArgOp::kNotEqual, "SCMP_CMP_NE"},
    {ArgOp::kLessThan, "SCMP_CMP_LT"},
    {ArgOp::kLessEqual, "SCMP_CMP_LE"},
    {ArgOp::kEqualTo, "SCMP_CMP_EQ"},
    {ArgOp::kGreaterEqual, "SCMP_CMP_GE"},
    {ArgOp::kGreaterThan, "SCMP_CMP_GT"},
    {ArgOp::kMaskedEqual, "SCMP_CMP_MASKED_EQ"},
}};

}  // namespace

const char* ActionName(Action action) {
  for (const auto& [a, name] : kActions)
    if (a == action) return name;
  return "SCMP_ACT_KILL";
}

std::optional<Action> ParseAction(const std::string& name) {
  if (name == "SCMP_ACT_KILL_THREAD") return Action::kKillThread;
  for (const auto& [a, n] : kActions)
    if (name == n) return a;
  return std::nullopt;
}

const char* ArgOpName(ArgOp op) {
  for (const auto& [o, name] : kOps)
    if (o == op) return name;
  return "SCMP_CMP_EQ";
}

std::optional<ArgOp> ParseArgOp(const std::string& name) {
  for (const auto& [o, n] : kOps)
    if (name == n) return o;
  return std::nullopt;
}

}  // namespace silk::policy
