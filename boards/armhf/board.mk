# Board: armhf, 32-bit ARMv7 hard-float (arm-linux-gnueabihf), 256 MiB class.
# Cross-compiled with Debian's toolchain; tests run under qemu-user.
BOARD_CROSS_COMPILE := arm-linux-gnueabihf-
BOARD_CPUFLAGS := -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard
BOARD_OPT := -Os
BOARD_LTO := 1
BOARD_RELEASE := 1
BOARD_MBEDTLS_PKG := libmbedtls-dev:armhf
BOARD_SYSROOT := /usr/arm-linux-gnueabihf
# The cross libc must win over the multiarch one (libc6:armhf, pulled in by
# libmbedtls-dev:armhf): mixing its libc with the cross loader crashes threads.
BOARD_RUNNER := qemu-arm-static -L $(BOARD_SYSROOT) -E LD_LIBRARY_PATH=$(BOARD_SYSROOT)/lib:/usr/lib/arm-linux-gnueabihf
BOARD_DEPS := g++-arm-linux-gnueabihf make pkg-config doctest-dev qemu-user-static libmbedtls-dev:armhf curl python3 openssl
