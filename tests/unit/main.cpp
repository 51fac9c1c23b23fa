// The unit test runner. Tests build with the library's own flags
// (-fno-exceptions -fno-rtti); doctest then reports a failed REQUIRE and
// carries on, so tests guard what would crash after one.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#ifndef DOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS
#define DOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS
#endif
#include <doctest/doctest.h>
