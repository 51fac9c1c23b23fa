SUMMARY = "gust: Tornado's programming model for constrained Linux devices"
DESCRIPTION = "One event loop, coroutine HTTP handlers and an async HTTP client \
in C++20 over mbedTLS; statusd (device status over HTTP/HTTPS) and fetch."
HOMEPAGE = "https://git.example.com/gust"
SECTION = "net"
# gust has not chosen a licence yet; set LICENSE and LIC_FILES_CHKSUM when it does.
LICENSE = "CLOSED"

SRC_URI = "git://git.example.com/gust.git;protocol=https;branch=main"
SRCREV = "${AUTOREV}"
PV = "0.1.0+git${SRCPV}"
S = "${WORKDIR}/git"

DEPENDS = "mbedtls"

# gust's board for this machine: its default limits (boards/<board>/board.hpp).
# Override in local.conf or a bbappend: GUST_BOARD:pn-gust = "myboard".
GUST_BOARD ?= "${@ {'mips': 'mips', 'mipsel': 'mipsel', 'arm': 'armhf', 'aarch64': 'rpi', 'riscv64': 'riscv64'}.get(d.getVar('TARGET_ARCH'), 'host')}"

# Yocto's toolchain and flags replace the board's: CXX carries the CPU and
# --sysroot, so BOARD_CPUFLAGS is emptied; NO_DEPS=1: no Debian packages.
EXTRA_OEMAKE = " \
    BOARD=${GUST_BOARD} \
    BOARD_CPUFLAGS= \
    NO_DEPS=1 \
    CROSS_COMPILE=${TARGET_PREFIX} \
    'CXX=${CXX}' \
    'CXXFLAGS=${CXXFLAGS}' \
    'LDFLAGS=${LDFLAGS}' \
    PREFIX=${prefix} \
"

do_compile() {
    oe_runmake all
}

do_install() {
    oe_runmake DESTDIR=${D} install install-programs
}

PACKAGES =+ "${PN}-fetch"
FILES:${PN} = "${bindir}/statusd"
FILES:${PN}-fetch = "${bindir}/fetch ${bindir}/wscat"
FILES:${PN}-dev = "${includedir}/gust ${libdir}/pkgconfig/gust.pc"
FILES:${PN}-staticdev = "${libdir}/libgust.a"
