# Board: mipsel, 32-bit little-endian MIPS (mipsel-linux-gnu): OpenWrt router
# class (MT7621/MT7628, 64-128 MiB). Debian's cross compiler; mbedTLS from
# Debian 12's libmbedtls-dev:mipsel; tests run under qemu-user.
BOARD_CROSS_COMPILE := mipsel-linux-gnu-
# MIPS32r2 covers the router SoCs (24Kc, 74Kc, 1004Kc); Debian's default ISA is older.
BOARD_CPUFLAGS := -march=mips32r2
BOARD_OPT := -Os
BOARD_LTO := 1
BOARD_RELEASE := 1
BOARD_MBEDTLS_PKG := libmbedtls-dev:mipsel
# 32-bit MIPS has no 8-byte atomic instructions: std::atomic<uint64_t> calls libatomic.
# As-needed: a program that uses none does not depend on it.
BOARD_LIBS := -Wl,--push-state,--as-needed -latomic -Wl,--pop-state
BOARD_SYSROOT := /usr/mipsel-linux-gnu
# Debian 12's qemu (7.2) returns getsockopt(SO_ERROR) in x86 errno numbers,
# which differ from MIPS's: qemu 10 from bookworm-backports, fetched into
# build/qemu by `make test` (boards/qemu-backports.sh), gets them right.
BOARD_QEMU := mipsel
BOARD_RUNNER := $(QEMU_DIR)/qemu-mipsel -L $(BOARD_SYSROOT) -E LD_LIBRARY_PATH=$(BOARD_SYSROOT)/lib:/usr/lib/mipsel-linux-gnu
BOARD_DEPS := g++-mipsel-linux-gnu make pkg-config doctest-dev libmbedtls-dev:mipsel curl python3 openssl
