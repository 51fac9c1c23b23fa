# Board: host, the x86-64 development machine. Native compiler, tests run directly.
# Every board.mk sets these (README: "Adding a board").
# Toolchain prefix (empty: the native g++); CROSS_COMPILE on the command line wins.
BOARD_CROSS_COMPILE :=
# CPU flags, passed to the compiler and the linker.
BOARD_CPUFLAGS :=
# Optimisation; device boards use -Os with BOARD_LTO := 1 (link-time optimisation)
# and BOARD_RELEASE := 1 (debug log lines compiled out, see LOG_LEVEL).
BOARD_OPT := -O2
BOARD_LTO :=
BOARD_RELEASE :=
# mbedTLS: Debian's libmbedtls-dev (or set MBEDTLS_DIR to a prefix with include/
# and lib/). BOARD_MBEDTLS := 2.28 builds it from Debian 12's source instead.
BOARD_MBEDTLS_PKG := libmbedtls-dev
BOARD_MBEDTLS :=
# Runs a test binary on the build machine (empty: run it directly).
BOARD_RUNNER :=
# Debian packages the build and tests need here; `make deps` installs the missing ones.
# chromium and node-ws: the dashboard's browser test and the WebSocket interop tests.
BOARD_DEPS := g++ make pkg-config doctest-dev libmbedtls-dev curl python3 openssl chromium node-ws
