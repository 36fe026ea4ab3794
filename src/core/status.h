// Error values for code paths that must not throw: a Status is ok or carries a message a
// user can act on; Result<T> is a value or a Status. Invariant violations abort instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace citadel {

class Status {
  public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }

    bool ok() const { return !message_.has_value(); }
    explicit operator bool() const { return ok(); }
    const std::string& message() const {
        static const std::string empty;
        return message_ ? *message_ : empty;
    }

  private:
    explicit Status(std::string message) : message_(std::move(message)) {}
    std::optional<std::string> message_;
};

inline Status ok_status() {
    return Status();
}

template <typename T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {   // NOLINT: implicit by design
        if (std::get<Status>(v_).ok()) std::abort();  // an error Result needs an error
    }

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    const Status& status() const {
        static const Status good;
        return ok() ? good : std::get<Status>(v_);
    }
    const std::string& error() const { return status().message(); }

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

// Aborts loudly on a broken invariant (a bug, never bad input).
[[noreturn]] inline void fatal(const char* what, const char* file, int line) {
    std::fprintf(stderr, "citadel: internal error: %s (%s:%d)\n", what, file, line);
    std::abort();
}

}  // namespace citadel

#define CITADEL_CHECK(cond)                                       \
    do {                                                          \
        if (!(cond)) ::citadel::fatal(#cond, __FILE__, __LINE__); \
    } while (0)

#define CITADEL_TRY(expr)              \
    do {                               \
        ::citadel::Status s_ = (expr); \
        if (!s_.ok()) return s_;       \
    } while (0)
