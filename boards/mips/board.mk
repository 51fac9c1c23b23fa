# Board: mips, 32-bit BIG-endian MIPS (mips-linux-gnu), like OpenWrt's ath79
# routers (QCA953x/956x, 64-128 MiB). The one big-endian board: it catches
# byte-order bugs every little-endian board hides. Debian 12 has no
# multiarch mbedTLS for it, so mbedTLS 2.28 (OpenWrt 23.05's LTS) is built
# from Debian 12's source package (boards/mbedtls-source.sh) into
# build/mbedtls-2.28-mips and linked statically; tests run under qemu-user.
BOARD_CROSS_COMPILE := mips-linux-gnu-
# The 24Kc/74Kc cores of ath79 are MIPS32r2.
BOARD_CPUFLAGS := -march=mips32r2
BOARD_OPT := -Os
BOARD_LTO := 1
BOARD_RELEASE := 1
BOARD_MBEDTLS := 2.28
# 32-bit MIPS has no 8-byte atomic instructions: std::atomic<uint64_t> calls libatomic.
# As-needed: a program that uses none does not depend on it.
BOARD_LIBS := -Wl,--push-state,--as-needed -latomic -Wl,--pop-state
BOARD_SYSROOT := /usr/mips-linux-gnu
# Debian 12's qemu (7.2) returns getsockopt(SO_ERROR) in x86 errno numbers,
# which differ from MIPS's: qemu 10 from bookworm-backports, fetched into
# build/qemu by `make test` (boards/qemu-backports.sh), gets them right.
BOARD_QEMU := mips
BOARD_RUNNER := $(QEMU_DIR)/qemu-mips -L $(BOARD_SYSROOT)
BOARD_DEPS := g++-mips-linux-gnu make pkg-config doctest-dev curl python3 openssl
