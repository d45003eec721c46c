#include "base/result.hpp"

#include <cstring>

namespace silk {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid input";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kSystem:
      return "system error";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kDenied:
      return "denied";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error";
}

std::string Error::ToString() const {
  std::string out;
  for (const auto& c : context_) {
    out += c;
    out += ": ";
  }
  out += message_;
  if (errno_ != 0) {
    out += ": ";
    out += std::strerror(errno_);
  }
  return out;
}

}  // namespace silk
