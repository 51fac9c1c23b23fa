# Board: host, the x86-64 development machine. Native compiler, tests run directly.
BOARD_CROSS_COMPILE :=
BOARD_CPUFLAGS :=
BOARD_OPT := -O2
# mbedTLS: Debian's libmbedtls-dev (or set MBEDTLS_DIR to a prefix with include/ and lib/).
BOARD_MBEDTLS_PKG := libmbedtls-dev
# Runs a test binary on the build machine (empty: run it directly).
BOARD_RUNNER :=
# Debian packages the build and tests need here; `make deps` installs the missing ones.
BOARD_DEPS := g++ make pkg-config doctest-dev libmbedtls-dev curl python3 openssl
