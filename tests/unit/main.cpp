// The unit test runner. Tests build with the library's own flags
// (-fno-exceptions -fno-rtti), so a failed REQUIRE ends the run; the
// runner script counts that as a failure.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define DOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS
#include <doctest/doctest.h>
