// silk::Result and silk::Error: how every silk library reports failure.
//
// An Error carries a category (ErrorCode), the errno that caused it (0 if none), a
// message that says what went wrong, and a chain of context added on the way up
// ("reading profile p.json" -> "syscalls[3].names[0]" -> ...). Libraries return
// Result<T>; only the boundary (CLI main, API handler) prints an Error, once.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace silk {

enum class ErrorCode {
  kInvalidInput,  // user input is malformed or out of range
  kNotFound,      // a named file, profile, domain ... does not exist
  kSystem,        // a system call failed; errno() says why
  kUnsupported,   // this kernel/host cannot do what was asked
  kDenied,        // a policy refused the request
  kTimeout,       // something did not happen in time
  kInternal,      // a bug in silk
};

const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  int sys_errno() const { return errno_; }
  const std::string& message() const { return message_; }
  // Outermost context first.
  const std::vector<std::string>& context() const { return context_; }

  // Adds a context line ("while doing X"); returns *this for chaining.
  Error& Wrap(std::string context) & {
    context_.insert(context_.begin(), std::move(context));
    return *this;
  }
  Error&& Wrap(std::string context) && {
    context_.insert(context_.begin(), std::move(context));
    return std::move(*this);
  }

  // "context: context: message: strerror(errno)".
  std::string ToString() const;

 private:
  ErrorCode code_;
  int errno_;
  std::string message_;
  std::vector<std::string> context_;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
// An Error for a failed system call; captures errno at the call.
inline tl::unexpected<Error> FailErrno(std::string message, int err = errno) {
  return tl::unexpected<Error>(Error(ErrorCode::kSystem, std::move(message), err));
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// Adds context to the error of a Result, if any, and passes it on.
template <typename T>
Result<T> WithContext(Result<T> r, const std::string& context) {
  if (!r) r.error().Wrap(context);
  return r;
}

namespace internal {
template <typename T>
T TakeValue(Result<T>&& r) {
  return std::move(*r);
}
inline void TakeValue(Result<void>&&) {}
}  // namespace internal

}  // namespace silk

// Evaluates a Result expression; on error returns it from the enclosing function,
// otherwise yields the value (or nothing, for Result<void>).
#define SILK_TRY(expr)                                                             \
  ({                                                                               \
    auto silk_try_result_ = (expr);                                                \
    if (!silk_try_result_)                                                         \
      return ::tl::unexpected<::silk::Error>(std::move(silk_try_result_).error()); \
    ::silk::internal::TakeValue(std::move(silk_try_result_));                      \
  })
