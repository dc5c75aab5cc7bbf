// Status and Result<T>: the only error channel across quench's public boundary.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace quench {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed (wrong shape, missing input)
  kParseError,       // a file is truncated, corrupt or type-confused
  kUnsupported,      // valid input that quench does not implement (an op, a dtype, an attribute)
  kShapeError,       // shapes that cannot be reconciled
  kNotFound,         // a named tensor, file or node does not exist
  kIoError,          // the operating system refused a read or write
  kOutOfRange,       // a value outside the range it must lie in
  kInternal,         // a bug in quench
  kCudaError,        // the CUDA runtime or a kernel launch failed
  kOutOfMemory,      // host or device memory could not be had
  kUnavailable,      // the service is shut down (or shutting down); the request was not run
  kResourceExhausted,  // a bounded queue or pool is full; the request was not run, retry later
  kFailedPrecondition,  // the call is valid, but not in the object's present state (e.g. no run to collect)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

  // Adds context in front of the message ("while loading x.onnx: ...").
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Builds an error Status from any streamable pieces: error(kNotFound, "tensor '", name, "'").
template <class... Parts>
Status error(StatusCode code, const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return Status(code, os.str());
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {    // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace quench

// Early return is the one thing a function cannot do for its caller, hence these two macros.
#define QUENCH_TRY(expr)                                \
  do {                                                  \
    ::quench::Status quench_try_status_ = (expr);       \
    if (!quench_try_status_.ok()) return quench_try_status_; \
  } while (0)

#define QUENCH_CONCAT_INNER(a, b) a##b
#define QUENCH_CONCAT(a, b) QUENCH_CONCAT_INNER(a, b)
// QUENCH_ASSIGN(auto x, make_result()); declares x from a Result or returns its error.
#define QUENCH_ASSIGN(decl, expr) QUENCH_ASSIGN_IMPL(QUENCH_CONCAT(quench_res_, __LINE__), decl, expr)
#define QUENCH_ASSIGN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                        \
  if (!tmp.ok()) return tmp.status();       \
  decl = std::move(tmp).value()
