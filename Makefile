# gust: one Makefile for every board.
#   make [BOARD=host|rpi|armhf|mipsel|riscv64|mips] [all|run|test|check|install|install-programs|size|footprint|clean|deps|print-deps]
# Honours CROSS_COMPILE, CXX, CXXFLAGS, LDFLAGS, PREFIX, DESTDIR, MBEDTLS_DIR,
# MBEDTLS=2.28|3.6, STATIC=1, LTO=0|1, RELEASE=0|1, LOG_LEVEL=0..3, NO_DEPS=1,
# SANITIZE=1, BUILD=dir, V=1. CXXFLAGS and LDFLAGS are appended to gust's own
# flags (-std=c++20, warnings, board CPU flags), never replace them.

BOARD ?= host
BOARD_DIR := boards/$(BOARD)
# Where boards/qemu-backports.sh puts a newer qemu for boards that name one in BOARD_QEMU.
QEMU_DIR := $(CURDIR)/build/qemu
ifeq ($(wildcard $(BOARD_DIR)/board.mk),)
$(error unknown board '$(BOARD)': there is no $(BOARD_DIR)/board.mk (boards: $(notdir $(wildcard boards/*))))
endif
include $(BOARD_DIR)/board.mk

CROSS_COMPILE ?= $(BOARD_CROSS_COMPILE)
ifeq ($(origin CXX),default)
CXX := $(CROSS_COMPILE)g++
endif
AR := $(CROSS_COMPILE)ar
SIZE := $(CROSS_COMPILE)size
STRIP := $(CROSS_COMPILE)strip
NM := $(CROSS_COMPILE)nm
RUNNER ?= $(BOARD_RUNNER)
PREFIX ?= /usr/local
DESTDIR ?=

# Device boards default to -Os, LTO and a release build (BOARD_OPT, BOARD_LTO,
# BOARD_RELEASE in board.mk); the command line overrides each.
LTO ?= $(BOARD_LTO)
RELEASE ?= $(BOARD_RELEASE)
# RELEASE=1 compiles out log lines below LOG_LEVEL (0 debug, 1 info, 2 warn, 3 error).
LOG_LEVEL ?= 1
override LTO := $(filter 1,$(LTO))
override RELEASE := $(filter 1,$(RELEASE))
override STATIC := $(filter 1,$(STATIC))

# MBEDTLS=3.6 or 2.28: mbedTLS built from Debian 13's (3.6 LTS) or Debian 12's
# (2.28 LTS) source package by boards/mbedtls-source.sh instead of the
# system's. Boards whose Debian has no multiarch package name theirs in
# BOARD_MBEDTLS; an MBEDTLS_DIR you give (a vendor SDK) wins over that default.
# Asked for on the command line, gust builds in its own folder so its objects
# never mix with those against the board's default mbedTLS.
ifeq ($(MBEDTLS_DIR),)
MBEDTLS ?= $(BOARD_MBEDTLS)
endif
ifneq ($(MBEDTLS),)
ifeq ($(filter $(MBEDTLS),2.28 3.6),)
$(error MBEDTLS=$(MBEDTLS): only MBEDTLS=2.28 or 3.6 is known (default: the system's mbedTLS, or MBEDTLS_DIR))
endif
MBEDTLS_DIR := $(CURDIR)/build/mbedtls-$(MBEDTLS)-$(BOARD)
ifneq ($(MBEDTLS),$(BOARD_MBEDTLS))
BUILD ?= build/$(BOARD)-mbedtls$(subst .,,$(MBEDTLS))$(if $(STATIC),-static)$(if $(SANITIZE),-san)
endif
# After the deps step, which may be installing the cross compiler it uses.
$(MBEDTLS_DIR)/lib/libmbedtls.a: | deps
	$(Q)CC="$(CROSS_COMPILE)gcc" AR="$(CROSS_COMPILE)ar" CFLAGS="$(if $(BOARD_OPT),$(BOARD_OPT),-O2) $(BOARD_CPUFLAGS)" \
	    sh boards/mbedtls-source.sh $(MBEDTLS_DIR) $(MBEDTLS)
endif

# SANITIZE=1 builds everything with ASan+UBSan into its own folder (make
# check); STATIC=1 links programs and tests with -static, into its own folder.
BUILD ?= build/$(BOARD)$(if $(STATIC),-static)$(if $(SANITIZE),-san)
# Only now that BUILD is known: every object waits for the mbedTLS it builds against.
ifneq ($(MBEDTLS),)
$(BUILD)/include/gust/board.hpp: | $(MBEDTLS_DIR)/lib/libmbedtls.a
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Werror
# (Not named LANG: make would export it over the locale variable to every recipe.)
LANGFLAGS := -std=c++20 -fno-exceptions -fno-rtti
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
# Sanitizer reports need file:line, which -g1's line tables give for a third
# less compile time than full -g.
OPT := $(if $(SANITIZE),-O1 -g1,$(BOARD_OPT) -g)
# LTO objects need the plugin-aware archiver; the link then optimises across
# the library, mbedTLS calls and the program (and warns with the same -Werror).
ifneq ($(LTO),)
ifeq ($(SANITIZE),)
LTOFLAGS := -flto=auto
AR := $(CROSS_COMPILE)gcc-ar
endif
endif
RELEASEFLAGS := $(if $(RELEASE),-DGUST_LOG_COMPILE_LEVEL=$(LOG_LEVEL))
# -static takes libstdc++, libgcc, libc and mbedTLS's archives into the program.
STATICFLAGS := $(if $(STATIC),-static)
MBEDTLS_CFLAGS := $(if $(MBEDTLS_DIR),-I$(MBEDTLS_DIR)/include)
MBEDTLS_LIBS := $(if $(MBEDTLS_DIR),-L$(MBEDTLS_DIR)/lib) -lmbedtls -lmbedx509 -lmbedcrypto
ALL_CXXFLAGS := $(LANGFLAGS) $(WARN) $(OPT) $(BOARD_CPUFLAGS) $(LTOFLAGS) $(RELEASEFLAGS) $(SANFLAGS) -MMD -MP \
    -Iinclude -I$(BUILD)/include -Iport $(MBEDTLS_CFLAGS) $(CXXFLAGS)
# GCC 12 names a coroutine frame's fields per translation unit, so the same
# coroutine instantiated in two files looks like an ODR violation to LTO
# (-Wodr exists only under LTO: a non-LTO build checks nothing either).
ALL_LDFLAGS := $(BOARD_CPUFLAGS) $(OPT) $(LTOFLAGS) $(WARN) $(if $(LTOFLAGS),-Wno-odr) $(STATICFLAGS) $(SANFLAGS) $(LDFLAGS)
LIBS := $(MBEDTLS_LIBS) -lpthread $(BOARD_LIBS)

LIB_SRCS ?= $(wildcard src/*.cpp src/http/*.cpp src/tls/*.cpp src/dns/*.cpp src/testing/*.cpp port/posix/*.cpp port/linux/*.cpp)
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libgust.a
BOARD_HEADER := $(BUILD)/include/gust/board.hpp

UNIT_SRCS ?= $(wildcard tests/unit/*.cpp)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/obj/%.o)
# statusd's route code, tested through the test kit (tests/unit/test_statusd.cpp);
# the same objects the statusd program links.
UNIT_EXTRA_SRCS := examples/statusd/routes.cpp examples/statusd/upload.cpp examples/statusd/live.cpp
UNIT_EXTRA_OBJS := $(UNIT_EXTRA_SRCS:%.cpp=$(BUILD)/obj/%.o)
# statusd's dashboard: examples/statusd/web/ embedded as a StaticBundle by a
# generator that runs on the build machine (python3), so cross builds embed it too.
STATUSD_WEB_SRC := $(BUILD)/gen/statusd_web.cpp
STATUSD_WEB_OBJ := $(BUILD)/obj/gen/statusd_web.o
UNIT_EXTRA_OBJS += $(STATUSD_WEB_OBJ)
UNIT_BIN := $(BUILD)/tests/unit_tests

# Every examples/<name>/ folder is a program $(BUILD)/<name> linked with the library.
EXAMPLES := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard examples/*/*.cpp)))))
PROGRAMS := $(EXAMPLES:%=$(BUILD)/%)
STATUSD := $(BUILD)/statusd
define example_rules
$(1)_OBJS := $$(patsubst %.cpp,$$(BUILD)/obj/%.o,$$(wildcard examples/$(1)/*.cpp))
PROGRAM_OBJS += $$($(1)_OBJS)
$$(BUILD)/$(1): $$($(1)_OBJS) $$(LIB)
	@$$(if $$(Q),echo "  LINK    $$@")
	$$(Q)$$(CXX) $$(ALL_LDFLAGS) -o $$@ $$($(1)_OBJS) $$(LIB) $$(LIBS)
# The same objects linked with -static (make footprint; STATIC=1 makes every program so).
$$(BUILD)/static/$(1): $$($(1)_OBJS) $$(LIB)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LINK    $$@")
	$$(Q)$$(CXX) $$(ALL_LDFLAGS) -static -o $$@ $$($(1)_OBJS) $$(LIB) $$(LIBS)
endef
$(foreach e,$(EXAMPLES),$(eval $(call example_rules,$(e))))
statusd_OBJS += $(STATUSD_WEB_OBJ)
$(STATUSD): $(STATUSD_WEB_OBJ)
$(STATUSD_WEB_SRC): tools/embed_static.py $(wildcard examples/statusd/web/*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)python3 tools/embed_static.py --name statusd_web --out $@ examples/statusd/web
$(STATUSD_WEB_OBJ): $(STATUSD_WEB_SRC) | $(BOARD_HEADER)
	$(Q)mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

.PHONY: all run test check install install-programs size footprint clean deps print-deps lib unit FORCE fuzz
.DEFAULT_GOAL := all

all: deps $(LIB) $(PROGRAMS)

lib: $(LIB)

# Installs what this board needs from Debian when it is missing (NO_DEPS=1 skips).
deps:
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh $(BOARD_DEPS)
endif

# The board's Debian packages, one line (for `sh boards/deps.sh $$(make -s print-deps)`).
print-deps:
	@echo $(BOARD_DEPS)

# Every object waits for it, so the deps step (a phony, order-only
# prerequisite) finishes before the first compile even under make -j.
$(BOARD_HEADER): $(BOARD_DIR)/board.hpp | deps
	$(Q)mkdir -p $(dir $@)
	$(Q)cp $< $@

$(BUILD)/obj/%.o: %.cpp | $(BOARD_HEADER)
	$(Q)mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(UNIT_BIN): $(UNIT_OBJS) $(UNIT_EXTRA_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(UNIT_EXTRA_OBJS) $(LIB) $(LIBS)

# Tests build with the library's flags; doctest then needs to know there are no exceptions.
$(UNIT_OBJS): ALL_CXXFLAGS += -DDOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS
# Test code carries no debug information (a fifth of its compile time; doctest
# names the failing file and line itself), except in make check, where the
# sanitizers' stack traces want lines. The library and programs keep -g.
ifeq ($(SANITIZE),)
$(UNIT_OBJS): ALL_CXXFLAGS += -g0
else
# Under the sanitizers test code is built at -O0: it is instrumented all the
# same, and compiles in a quarter of the time (make check was mostly compiling).
$(UNIT_OBJS): ALL_CXXFLAGS += -O0
endif

unit: deps $(UNIT_BIN)

run: all $(QEMU_BIN)
	@echo "statusd: http://127.0.0.1:8080/"
	$(Q)$(RUNNER) $(STATUSD) --http 127.0.0.1:8080

# A board whose runner is a qemu from bookworm-backports (BOARD_QEMU) fetches it first.
ifneq ($(BOARD_QEMU),)
ifeq ($(RUNNER),$(BOARD_RUNNER))
QEMU_BIN := $(QEMU_DIR)/qemu-$(BOARD_QEMU)
$(QEMU_BIN):
	$(Q)sh boards/qemu-backports.sh $(QEMU_DIR) $(BOARD_QEMU)
endif
endif

test: deps $(UNIT_BIN) $(PROGRAMS) $(QEMU_BIN)
	$(Q)BUILD=$(BUILD) RUNNER="$(RUNNER)" BOARD=$(BOARD) SANITIZE=$(SANITIZE) NM=$(NM) TESTS="$(TESTS)" sh tests/run.sh

check:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test

# text/data/bss of every program, then its size on flash once stripped.
size: all
	$(Q)$(SIZE) $(PROGRAMS)
	$(Q)tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	for p in $(PROGRAMS); do \
	    $(STRIP) -o "$$tmp" "$$p" && printf '%10s bytes stripped  %s\n' "$$(wc -c <"$$tmp")" "$$p"; \
	done

# The README's footprint figures for this board (tests/bench/footprint.py):
# stripped sizes, dynamic and static, idle RSS and RSS per idle connection,
# pool sizes at the board's default limits.
footprint: all $(BUILD)/static/statusd $(QEMU_BIN)
	$(Q)BUILD=$(BUILD) BOARD=$(BOARD) RUNNER="$(RUNNER)" STATIC_BUILD=$(BUILD)/static STRIP=$(STRIP) \
	    python3 tests/bench/footprint.py

# Library, public headers (with this board's board.hpp, so <gust/config.hpp>
# keeps its limits) and gust.pc. <port.hpp> is internal and not installed.
PCFILE := $(BUILD)/gust.pc
install: deps $(LIB) $(PCFILE)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/gust
	$(Q)install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libgust.a
	$(Q)install -m 644 include/gust/*.hpp $(BOARD_HEADER) $(DESTDIR)$(PREFIX)/include/gust/
	$(Q)install -m 644 $(PCFILE) $(DESTDIR)$(PREFIX)/lib/pkgconfig/gust.pc
	@echo "installed gust ($(BOARD)) into $(DESTDIR)$(PREFIX)"

# The programs (statusd, fetch) into $(PREFIX)/bin, unstripped: packaging
# systems strip (and keep debug symbols) their own way. The recipes in
# boards/packaging/ run `make install install-programs`.
install-programs: deps $(PROGRAMS)
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	@echo "installed $(notdir $(PROGRAMS)) ($(BOARD)) into $(DESTDIR)$(PREFIX)/bin"

# Regenerated every time: PREFIX and MBEDTLS_DIR may change between runs.
# A SANITIZE=1 build puts the sanitizer flags in Libs: its archive needs their runtime.
$(PCFILE): gust.pc.in FORCE | $(BOARD_HEADER)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BOARD@|$(BOARD)|g' \
	    -e 's|@MBEDTLS_CFLAGS@|$(MBEDTLS_CFLAGS)|g' -e 's|@MBEDTLS_LIBS@|$(MBEDTLS_LIBS)|g' \
	    -e 's|@SANFLAGS@|$(SANFLAGS)|g' -e 's/  */ /g' -e 's/ *$$//' gust.pc.in >$@

FORCE:

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(PROGRAM_OBJS:.o=.d)

# ---- make fuzz: libFuzzer harnesses (clang only; deliberately not part of test) ----
# `make fuzz FUZZ_SECONDS=N` builds build/fuzz/<harness> from each parser's own
# sources and runs each for N seconds on a copy of tests/fuzz/corpus/<harness>.
FUZZ_SECONDS ?= 30
ifeq ($(origin FUZZ_CXX),undefined)
FUZZ_CXX := $(shell command -v clang++-14 || command -v clang++)
endif
FUZZ_OUT := build/fuzz
FUZZ_FLAGS := -std=c++20 -fno-exceptions -fno-rtti -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iport
FUZZ_HARNESSES := http_request chunked json dns url http_response websocket
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_OUT)/%)

FUZZ_DEPS := clang libclang-rt-14-dev
.PHONY: fuzz-run

# The deps step first, then a fresh make that finds the clang it installed.
fuzz:
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh $(FUZZ_DEPS)
endif
	$(Q)$(MAKE) --no-print-directory fuzz-run

ifeq ($(FUZZ_CXX),)
fuzz-run:
	@echo "make fuzz needs clang with libFuzzer: apt-get install $(FUZZ_DEPS)"; exit 1
else
fuzz-run: $(FUZZ_BINS)
	$(Q)sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_HARNESSES)
endif

# The gust sources each harness needs (explicit and minimal).
$(FUZZ_OUT)/http_request: src/http/request_parser.cpp src/error.cpp
$(FUZZ_OUT)/chunked: src/http/chunked.cpp src/http/request_parser.cpp src/error.cpp
$(FUZZ_OUT)/json: src/json_reader.cpp src/json_writer.cpp src/error.cpp
$(FUZZ_OUT)/dns: src/dns/dns_message.cpp src/error.cpp
$(FUZZ_OUT)/url: src/http/percent.cpp src/error.cpp
$(FUZZ_OUT)/http_response: src/http/response_parser.cpp src/http/url.cpp src/http/request_parser.cpp src/error.cpp
$(FUZZ_OUT)/websocket: src/http/websocket_frame.cpp src/error.cpp

$(FUZZ_OUT)/%: tests/fuzz/%.cpp tests/fuzz/fuzz_check.hpp $(wildcard include/gust/*.hpp)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CXX) $(FUZZ_FLAGS) $(filter %.cpp,$^) -o $@

# ---- make soak: statusd under a bounded mixed and hostile load --------------------------
# `make soak SOAK_SECONDS=N` (default 60) runs tests/soak/soak.py against $(BUILD)/statusd:
# it asserts correct answers, fds back at their start count and no RSS growth after warm-up.
SOAK_SECONDS ?= 60
.PHONY: soak

soak: deps $(STATUSD)
	$(Q)if BUILD=$(BUILD) RUNNER="$(RUNNER)" BOARD=$(BOARD) SOAK_SECONDS=$(SOAK_SECONDS) \
	    python3 tests/soak/soak.py; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi

# ---- make bench: statusd side by side with nginx, lighttpd, libmicrohttpd, Tornado ----
# `make bench` (about 12 minutes; BENCH_QUICK=1: under 2) installs the peers
# from Debian when missing, builds statusd in $(BUILD) and writes
# build/bench/report.md; tests/bench/bench.py says how each figure is measured.
BENCH_DEPS := nginx-light lighttpd libmicrohttpd-dev python3-tornado wrk valgrind openssl gcc
.PHONY: bench bench-deps bench-cache

bench-deps:
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh $(BENCH_DEPS)
endif

bench: deps bench-deps $(STATUSD) $(BUILD)/static/statusd
	$(Q)if [ "$(BOARD)" != host ] || [ -n "$(SANITIZE)" ]; then \
	    echo "make bench measures the host build without sanitizers (BOARD=host, no SANITIZE)" >&2; exit 2; fi
	$(Q)BUILD=$(BUILD) BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) python3 tests/bench/bench.py

# GET /api/status with and without statusd's response cache, same run (about a minute).
bench-cache: deps bench-deps $(STATUSD)
	$(Q)BUILD=$(BUILD) BENCH_QUICK=$(BENCH_QUICK) python3 tests/bench/cache.py

# ---- make bench-parser: instructions per request-head parse (callgrind) -----------------
# RequestParser::reset and ::parse with all they call, per request, for bench's,
# wrk's, curl's and a browser's GET /hello and curl's small POST, each arriving
# whole: callgrind counts only inside those two over PARSER_COST_N requests
# (tests/bench/parser_cost.cpp).
PARSER_COST := $(BUILD)/tests/parser_cost
PARSER_COST_OBJ := $(BUILD)/obj/tests/bench/parser_cost.o
PARSER_COST_N ?= 10000
PARSER_COST_OUT := $(BUILD)/bench-parser
.PHONY: bench-parser

$(PARSER_COST): $(PARSER_COST_OBJ) $(LIB)
	$(Q)mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(PARSER_COST_OBJ) $(LIB) $(LIBS)

bench-parser: deps $(PARSER_COST)
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh valgrind
endif
	$(Q)mkdir -p $(PARSER_COST_OUT)
	$(Q)for k in bench wrk curl browser post; do \
	    out=$(PARSER_COST_OUT)/callgrind.out.$$k; \
	    valgrind --tool=callgrind --callgrind-out-file=$$out \
	        --toggle-collect='gust::http::RequestParser::parse(*' --toggle-collect='gust::http::RequestParser::reset(*' \
	        $(RUNNER) $(PARSER_COST) $$k $(PARSER_COST_N) >/dev/null 2>$(PARSER_COST_OUT)/valgrind.$$k.log || exit 1; \
	    sed -n 's/^totals: *\([0-9]*\).*/\1/p' $$out | \
	        awk -v k=$$k -v n=$(PARSER_COST_N) '{ printf "%-8s %6.0f instructions per parse\n", k, $$1 / n }'; \
	done

-include $(PARSER_COST_OBJ:.o=.d)
