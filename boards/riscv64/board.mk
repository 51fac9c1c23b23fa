# Board: riscv64 (riscv64-linux-gnu, RV64GC): StarFive/Allwinner D1 class
# boards, 512 MiB+. Debian 12 has no multiarch mbedTLS for riscv64 (it was
# not yet a release architecture), so mbedTLS 2.28 is built from Debian 12's
# source package (boards/mbedtls-source.sh) into build/mbedtls-2.28-riscv64;
# tests run under qemu-user.
BOARD_CROSS_COMPILE := riscv64-linux-gnu-
# Debian's riscv64 baseline, spelled out so a vendor CROSS_COMPILE keeps it.
BOARD_CPUFLAGS := -march=rv64gc -mabi=lp64d
BOARD_OPT := -Os
BOARD_LTO := 1
BOARD_RELEASE := 1
BOARD_MBEDTLS := 2.28
# GCC 12 calls libatomic for 1- and 2-byte atomics on RISC-V.
# As-needed: a program that uses none does not depend on it.
BOARD_LIBS := -Wl,--push-state,--as-needed -latomic -Wl,--pop-state
BOARD_SYSROOT := /usr/riscv64-linux-gnu
BOARD_RUNNER := qemu-riscv64-static -L $(BOARD_SYSROOT)
BOARD_DEPS := g++-riscv64-linux-gnu make pkg-config doctest-dev qemu-user-static curl python3 openssl
