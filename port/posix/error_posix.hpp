// Internal to port/: turns errno values into gust::Error. Shared by the POSIX
// and Linux port files; nothing outside port/ includes this.
#pragma once

#include <gust/result.hpp>

namespace gust::port::detail {

// The Error for `err` (an errno value): its Errc class (again, refused, reset,
// timeout, no_memory, else io), sys = err, and a static message naming the
// errno, or `fallback` (a string literal) when the errno is not a common one.
Error errno_error(int err, const char* fallback);

}  // namespace gust::port::detail
