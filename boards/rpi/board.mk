# Board: rpi, 64-bit ARM (aarch64-linux-gnu), Raspberry Pi 3/4/5 class, 512 MiB+.
# Debian's cross compiler; mbedTLS from Debian 12's libmbedtls-dev:arm64;
# tests run under qemu-user.
BOARD_CROSS_COMPILE := aarch64-linux-gnu-
# Cortex-A53 is the oldest core of the class (Pi 3, Zero 2); the code runs on A72/A76 too.
BOARD_CPUFLAGS := -mcpu=cortex-a53
BOARD_OPT := -Os
BOARD_LTO := 1
BOARD_RELEASE := 1
BOARD_MBEDTLS_PKG := libmbedtls-dev:arm64
BOARD_SYSROOT := /usr/aarch64-linux-gnu
# The cross libc first (see boards/armhf/board.mk), then multiarch mbedTLS.
BOARD_RUNNER := qemu-aarch64-static -L $(BOARD_SYSROOT) -E LD_LIBRARY_PATH=$(BOARD_SYSROOT)/lib:/usr/lib/aarch64-linux-gnu
BOARD_DEPS := g++-aarch64-linux-gnu make pkg-config doctest-dev qemu-user-static libmbedtls-dev:arm64 curl python3 openssl
