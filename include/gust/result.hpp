// Errors are values: gust::Error is a code plus a static message, and
// gust::Result<T> holds either a T or an Error. No exceptions anywhere.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace gust {

// What went wrong, coarse enough to branch on.
enum class Errc : uint8_t {
    ok = 0,
    again,           // would block; try again when ready (ordinary control flow)
    timeout,         // a deadline passed
    no_memory,       // a fixed pool or queue is full
    cancelled,       // the operation was abandoned by its owner
    closed,          // the peer or the object was closed
    broken_promise,  // a Promise was destroyed without a value
    invalid_argument,
    not_supported,
    io,              // an operating-system call failed; see Error::sys
    refused,         // connection refused
    reset,           // connection reset by peer
    protocol,        // the peer broke the protocol
    too_large,       // input over a configured limit
    not_found,
    dns,
    tls,
};

// An error code, the errno behind it (0 when none) and a static message.
// The message is a string literal or a static table entry: never freed.
struct Error {
    Errc code = Errc::ok;
    int sys = 0;
    const char* message = "";

    constexpr Error() = default;
    constexpr Error(Errc c, const char* msg, int sys_errno = 0) : code(c), sys(sys_errno), message(msg) {}
    constexpr bool operator==(Errc c) const { return code == c; }
};

// Name of an error code ("timeout", "no_memory", ...), static storage.
const char* errc_name(Errc code);

// Either a T or an Error. Result<void> carries only success or an Error.
template <typename T>
class [[nodiscard]] Result {
public:
    using value_type = T;

    Result(const T& v) : ok_(true) { new (&value_) T(v); }
    Result(T&& v) : ok_(true) { new (&value_) T(std::move(v)); }
    Result(Error e) : ok_(false) { error_ = e; }
    Result(Errc c, const char* msg) : Result(Error(c, msg)) {}
    template <typename... A>
    explicit Result(std::in_place_t, A&&... args) : ok_(true) { new (&value_) T(std::forward<A>(args)...); }

    Result(const Result& o) : ok_(o.ok_) {
        if (ok_) new (&value_) T(o.value_); else error_ = o.error_;
    }
    Result(Result&& o) : ok_(o.ok_) {
        if (ok_) new (&value_) T(std::move(o.value_)); else error_ = o.error_;
    }
    Result& operator=(const Result& o) {
        if (this != &o) { this->~Result(); new (this) Result(o); }
        return *this;
    }
    Result& operator=(Result&& o) {
        if (this != &o) { this->~Result(); new (this) Result(std::move(o)); }
        return *this;
    }
    ~Result() { if (ok_) value_.~T(); }

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }

    // The value; only when ok().
    T& value() & { return value_; }
    const T& value() const& { return value_; }
    T&& value() && { return std::move(value_); }
    T& operator*() & { return value_; }
    const T& operator*() const& { return value_; }
    T&& operator*() && { return std::move(value_); }
    T* operator->() { return &value_; }
    const T* operator->() const { return &value_; }

    // The value, or `fallback` on error.
    T value_or(T fallback) const& { return ok_ ? value_ : fallback; }

    // The error; Errc::ok when this holds a value.
    Error error() const { return ok_ ? Error() : error_; }

private:
    bool ok_;
    union {
        T value_;
        Error error_;
    };
};

template <>
class [[nodiscard]] Result<void> {
public:
    using value_type = void;

    Result() = default;
    Result(Error e) : error_(e) {}
    Result(Errc c, const char* msg) : error_(c, msg) {}

    bool ok() const { return error_.code == Errc::ok; }
    explicit operator bool() const { return ok(); }
    void value() const {}
    Error error() const { return error_; }

private:
    Error error_;
};

// Success for Result<void>.
inline Result<void> ok() { return {}; }

template <typename T>
struct is_result : std::false_type {};
template <typename T>
struct is_result<Result<T>> : std::true_type {};
template <typename T>
inline constexpr bool is_result_v = is_result<T>::value;

// Result<T>, except that a T which already is a Result stays as it is.
template <typename T>
using result_of_t = std::conditional_t<is_result_v<T>, T, Result<T>>;

}  // namespace gust
