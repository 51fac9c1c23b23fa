#!/usr/bin/env python3
"""The package recipes in boards/packaging/ against the Makefile they drive.

OpenWrt's SDK, Buildroot and bitbake are not available here, so each recipe is
parsed instead: the variables its build system expects are present, every
variable it passes to gust's make is one the Makefile reads, every target it
calls exists, every board it maps to exists, and every file it packages is one
`make install install-programs PREFIX=/usr DESTDIR=...` really installs (and,
for Yocto, every installed file is packaged: its installed-vs-shipped check).
Then a dry run of the Makefile with a recipe's flags shows that CXXFLAGS and
LDFLAGS reach every compile and link, and BOARD_CPUFLAGS= drops the board's.
Env: BUILD, BOARD (the build to install from), SANITIZE.
"""

import fnmatch
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import statusd_common as sc  # noqa: E402

ROOT = sc.ROOT
PKG = os.path.join(ROOT, "boards", "packaging")
BUILD = os.environ.get("BUILD", "build/host")
BOARD = os.environ.get("BOARD", "host")
# What every recipe hands gust's make: the toolchain, the flags, the prefix.
PASSED = {"BOARD", "BOARD_CPUFLAGS", "NO_DEPS", "CROSS_COMPILE", "CXX", "CXXFLAGS", "LDFLAGS", "PREFIX"}


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


MAKEFILE = read(ROOT, "Makefile")


def block(text, start):
    """The line that matches `start` (a regex) and the lines its backslashes continue it with."""
    m = re.search(start, text, re.M)
    if not m:
        return ""
    out = []
    for line in text[m.start():].splitlines():
        out.append(line)
        if not line.rstrip().endswith("\\"):
            break
    return "\n".join(out)


def yocto_block(text, name):
    m = re.search(r'^' + name + r' = "(.*?)"', text, re.M | re.S)
    return m.group(1) if m else ""


def passed_vars(text):
    return set(re.findall(r"(?<![\w$({])([A-Z][A-Z0-9_]*)=", text))


def check_passed(recipe, flags):
    names = passed_vars(flags)
    sc.check(PASSED <= names, f"{recipe}: does not pass {sorted(PASSED - names)} to gust's make")
    for n in sorted(names):
        sc.check(re.search(r"\$\(" + n + r"\b", MAKEFILE) or re.search(r"\(origin " + n + r"\)", MAKEFILE),
                 f"{recipe}: passes {n}=, which the Makefile never reads")


def check_targets(recipe, targets):
    for t in targets:
        sc.check(re.search(r"^" + re.escape(t) + r":", MAKEFILE, re.M), f"{recipe}: calls `make {t}`, which the Makefile lacks")


def check_boards(recipe, boards):
    sc.check(len(boards) >= 5, f"{recipe}: maps only {sorted(boards)} to gust boards")
    for b in boards:
        sc.check(os.path.isfile(os.path.join(ROOT, "boards", b, "board.mk")), f"{recipe}: maps to board {b!r}, which does not exist")


def staged_install():
    """The files `make install install-programs` puts under DESTDIR, as /usr/... paths."""
    dest = tempfile.mkdtemp(prefix="gust-pkg-")
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    r = subprocess.run(["make", "-s", "--no-print-directory", f"BOARD={BOARD}", f"BUILD={BUILD}", "NO_DEPS=1",
                        f"SANITIZE={os.environ.get('SANITIZE', '')}", "PREFIX=/usr", f"DESTDIR={dest}",
                        "install", "install-programs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    sc.require(r.returncode == 0, f"make install install-programs failed: {r.stderr[-800:]}")
    files = set()
    for d, _, names in os.walk(dest):
        for n in names:
            files.add("/" + os.path.relpath(os.path.join(d, n), dest))
    subprocess.run(["rm", "-rf", dest])
    return files


def covered(pattern, files):
    return [f for f in files if fnmatch.fnmatch(f, pattern) or f.startswith(pattern.rstrip("/") + "/")]


def openwrt(files):
    text = read(PKG, "openwrt", "Makefile")
    sc.check(re.search(r"^include \$\(TOPDIR\)/rules\.mk$", text, re.M), "openwrt: no include $(TOPDIR)/rules.mk")
    sc.check(re.search(r"^include \$\(INCLUDE_DIR\)/package\.mk$", text, re.M), "openwrt: no include $(INCLUDE_DIR)/package.mk")
    for v in ("PKG_NAME", "PKG_VERSION", "PKG_RELEASE", "PKG_SOURCE_URL", "PKG_INSTALL"):
        sc.check(re.search(r"^" + v + r":=\S", text, re.M), f"openwrt: {v} is not set")
    deps = re.search(r"DEPENDS:=(.*)", text)
    sc.check(deps and "+libmbedtls" in deps.group(1) and "+libstdcpp" in deps.group(1), "openwrt: DEPENDS lacks +libmbedtls +libstdcpp")
    flags = block(text, r"^MAKE_FLAGS \+=")
    check_passed("openwrt", flags)
    sc.check("$(TARGET_CROSS)" in flags and "$(TARGET_CXXFLAGS)" in flags and "$(TARGET_LDFLAGS)" in flags,
             "openwrt: the toolchain and flags are not OpenWrt's TARGET_*")
    targets = []
    for m in re.finditer(r"Build/(?:Compile|Install)/Default,([^)]*)\)", text):
        targets += m.group(1).split()
    check_targets("openwrt", targets)
    sc.check("install-programs" in targets and "install" in targets, "openwrt: Build/Install does not install the library and the programs")
    check_boards("openwrt", set(re.findall(r"\$\(filter \w+,\$\(ARCH\)\),(\w+)", text)) | {"host"})
    pkgs = re.findall(r"^define Package/([\w-]+)/install$", text, re.M)
    sc.check(set(pkgs) == {"gust-statusd", "gust-fetch"}, f"openwrt: packages {pkgs}")
    for p in pkgs:
        sc.check(f"$(eval $(call BuildPackage,{p}))" in text, f"openwrt: {p} is never built (BuildPackage)")
    shipped = re.findall(r"\$\(PKG_INSTALL_DIR\)(/usr/\S+)", text)
    sc.check(len(shipped) >= 5, f"openwrt: only {shipped} taken from the install")
    for path in shipped:
        sc.check(covered(path, files), f"openwrt: takes {path}, which make install does not install")
    for f in files:
        sc.check(any(covered(p, [f]) for p in shipped), f"openwrt: {f} is installed but in no package nor the staging dir")
    sc.ok(f"openwrt: {len(pkgs)} packages and the staging dir from {len(shipped)} installed paths; flags passed through")
    return flags


def buildroot(files):
    mk = read(PKG, "buildroot", "gust.mk")
    cfg = read(PKG, "buildroot", "Config.in")
    for v in ("GUST_VERSION", "GUST_SITE", "GUST_SITE_METHOD", "GUST_INSTALL_STAGING", "GUST_DEPENDENCIES"):
        sc.check(re.search(r"^" + v + r" = \S", mk, re.M), f"buildroot: {v} is not set")
    sc.check(re.search(r"^GUST_DEPENDENCIES = .*\bmbedtls\b", mk, re.M), "buildroot: GUST_DEPENDENCIES lacks mbedtls")
    sc.check(re.search(r"^GUST_INSTALL_STAGING = YES$", mk, re.M), "buildroot: the library is not installed to staging")
    sc.check(mk.rstrip().endswith("$(eval $(generic-package))"), "buildroot: gust.mk does not end with $(eval $(generic-package))")
    flags = block(mk, r"^GUST_MAKE_OPTS =")
    check_passed("buildroot", flags)
    sc.check("$(TARGET_CROSS)" in flags and "$(TARGET_CXXFLAGS)" in flags and "$(TARGET_LDFLAGS)" in flags,
             "buildroot: the toolchain and flags are not Buildroot's TARGET_*")
    cmds = {}
    for name in ("BUILD", "INSTALL_STAGING", "INSTALL_TARGET"):
        m = re.search(r"^define GUST_" + name + r"_CMDS\n(.*?)^endef", mk, re.M | re.S)
        sc.check(m, f"buildroot: GUST_{name}_CMDS is not defined")
        cmds[name] = m.group(1) if m else ""
    for name, cmd in cmds.items():
        sc.check("$(GUST_MAKE_OPTS)" in cmd and "$(TARGET_MAKE_ENV)" in cmd, f"buildroot: GUST_{name}_CMDS bypasses GUST_MAKE_OPTS or TARGET_MAKE_ENV")
        check_targets("buildroot", cmd.split("$(GUST_MAKE_OPTS)")[-1].replace("DESTDIR=$(STAGING_DIR)", "").replace("DESTDIR=$(TARGET_DIR)", "").split())
    sc.check("DESTDIR=$(STAGING_DIR) install" in cmds["INSTALL_STAGING"], "buildroot: staging does not get `make install`")
    sc.check("DESTDIR=$(TARGET_DIR) install-programs" in cmds["INSTALL_TARGET"], "buildroot: the target does not get the programs")
    sc.check(any(f.startswith("/usr/bin/") for f in files) and "/usr/lib/pkgconfig/gust.pc" in files,
             "buildroot: make install(-programs) leaves out the programs or gust.pc")
    sc.check(re.search(r"^config BR2_PACKAGE_GUST$", cfg, re.M), "buildroot: no config BR2_PACKAGE_GUST")
    for dep in ("BR2_INSTALL_LIBSTDCPP", "BR2_TOOLCHAIN_HAS_THREADS", "BR2_TOOLCHAIN_GCC_AT_LEAST_11", "BR2_USE_MMU"):
        sc.check(re.search(r"^\tdepends on " + dep + r"\b", cfg, re.M), f"buildroot: Config.in does not depend on {dep}")
    sc.check(re.search(r"^\tselect BR2_PACKAGE_MBEDTLS$", cfg, re.M), "buildroot: Config.in does not select mbedTLS")
    sc.check("BR2_PACKAGE_GUST_BOARD" in mk and re.search(r"^config BR2_PACKAGE_GUST_BOARD$", cfg, re.M),
             "buildroot: the board option is not defined or not used")
    check_boards("buildroot", set(re.findall(r'^\tdefault "(\w+)"', cfg, re.M)))
    sc.ok("buildroot: gust.mk and Config.in follow generic-package; flags passed through")


def yocto(files):
    bb = read(PKG, "yocto", "gust_git.bb")
    for v in ("SUMMARY", "LICENSE", "SRC_URI", "SRCREV", "PV", "S", "DEPENDS"):
        sc.check(re.search(r"^" + v + r" \??= \S", bb, re.M), f"yocto: {v} is not set")
    sc.check(re.search(r'^DEPENDS = ".*\bmbedtls\b', bb, re.M), "yocto: DEPENDS lacks mbedtls")
    flags = yocto_block(bb, "EXTRA_OEMAKE")
    check_passed("yocto", flags)
    sc.check("${TARGET_PREFIX}" in flags and "${CXX}" in flags and "${LDFLAGS}" in flags and "${prefix}" in flags,
             "yocto: the toolchain, flags or prefix are not bitbake's")
    for task, want in (("do_compile", "oe_runmake all"), ("do_install", "oe_runmake DESTDIR=${D} install install-programs")):
        m = re.search(r"^" + task + r"\(\) \{\n(.*?)^\}", bb, re.M | re.S)
        sc.check(m and want in m.group(1), f"yocto: {task} does not run `{want}`")
    check_targets("yocto", ["all", "install", "install-programs"])
    check_boards("yocto", set(re.findall(r"'\w+': '(\w+)'", bb)) | {"host"})
    dirs = {"${bindir}": "/usr/bin", "${includedir}": "/usr/include", "${libdir}": "/usr/lib"}
    patterns = []
    for m in re.finditer(r'^FILES:\$\{PN\}(-[\w-]+|-\$\{?[\w}]*)? \+?= "(.*?)"', bb, re.M):
        for p in m.group(2).split():
            for k, v in dirs.items():
                p = p.replace(k, v)
            patterns.append(p)
            sc.check(covered(p, files), f"yocto: FILES names {p}, which make install does not install")
    for f in sorted(files):
        sc.check(any(covered(p, [f]) for p in patterns), f"yocto: {f} is installed but in no package (installed-vs-shipped)")
    sc.ok(f"yocto: {len(patterns)} FILES entries ship all {len(files)} installed files; flags passed through")


def dry_run():
    """`make -n` with a recipe's kind of flags: they reach every compile and link."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    with tempfile.TemporaryDirectory(prefix="gust-pkg-dry-") as d:
        r = subprocess.run(["make", "-n", "-B", "--no-print-directory", "V=1", f"BOARD={BOARD}", f"BUILD={d}/b", "NO_DEPS=1",
                            "BOARD_CPUFLAGS=", "CXXFLAGS=-DGUST_PKG_CXXFLAGS", "LDFLAGS=-Wl,-z,gustpkg", "PREFIX=/usr", "all"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    sc.require(r.returncode == 0, f"make -n failed: {r.stderr[-800:]}")
    compiles = [l for l in r.stdout.splitlines() if " -c " in l and "g++" in l]
    links = [l for l in r.stdout.splitlines() if "g++" in l and " -o " in l and " -c " not in l]
    sc.check(len(compiles) > 20 and len(links) >= 2, f"dry run: {len(compiles)} compiles, {len(links)} links")
    sc.check(all("-DGUST_PKG_CXXFLAGS" in l for l in compiles), "dry run: CXXFLAGS missing from a compile")
    sc.check(all("-Wl,-z,gustpkg" in l for l in links), "dry run: LDFLAGS missing from a link")
    board_flags = re.search(r"^BOARD_CPUFLAGS := (.*)$", read(ROOT, "boards", BOARD, "board.mk"), re.M)
    for flag in (board_flags.group(1).split() if board_flags else []):
        sc.check(not any(flag in l.split() for l in compiles + links), f"dry run: BOARD_CPUFLAGS= left the board's {flag}")
    sc.ok(f"dry run ({BOARD}): CXXFLAGS in {len(compiles)} compiles, LDFLAGS in {len(links)} links, no board CPU flags")


def main():
    sc.require(os.path.isfile(os.path.join(BUILD, "libgust.a")), f"no {BUILD}/libgust.a: build first")
    files = staged_install()
    sc.log(f"make install install-programs ({BOARD}) stages {len(files)} files")
    sc.check({"/usr/bin/statusd", "/usr/bin/fetch", "/usr/lib/libgust.a", "/usr/lib/pkgconfig/gust.pc",
              "/usr/include/gust/gust.hpp", "/usr/include/gust/board.hpp"} <= files, f"staged install lacks files: {sorted(files)[:10]}")
    openwrt(files)
    buildroot(files)
    yocto(files)
    dry_run()


if __name__ == "__main__":
    os.chdir(ROOT)
    sc.run(main, budget_s=300.0)
