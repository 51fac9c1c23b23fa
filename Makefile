# gust: one Makefile for every board.
#   make [BOARD=host|armhf] [all|run|test|check|install|size|clean|deps|print-deps]
# Honours CROSS_COMPILE, CXX, CXXFLAGS, LDFLAGS, PREFIX, DESTDIR, MBEDTLS_DIR,
# NO_DEPS=1, SANITIZE=1, BUILD=dir, V=1. CXXFLAGS and LDFLAGS are appended to
# gust's own flags (-std=c++20, warnings, board CPU flags), never replace them.

BOARD ?= host
BOARD_DIR := boards/$(BOARD)
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

# MBEDTLS=3.6: mbedTLS 3.6 LTS built from Debian 13's source package
# (boards/mbedtls-source.sh) instead of the system's, and gust in its own
# folder so its objects never mix with a 2.28 build's.
ifeq ($(MBEDTLS),3.6)
MBEDTLS_DIR := $(CURDIR)/build/mbedtls-3.6-$(BOARD)
BUILD ?= build/$(BOARD)-mbedtls36$(if $(SANITIZE),-san)
$(BUILD)/include/gust/board.hpp: | $(MBEDTLS_DIR)/lib/libmbedtls.a
$(MBEDTLS_DIR)/lib/libmbedtls.a:
	$(Q)CC="$(CROSS_COMPILE)gcc" AR="$(AR)" CFLAGS="-O2 $(BOARD_CPUFLAGS)" sh boards/mbedtls-source.sh $(MBEDTLS_DIR)
else ifneq ($(MBEDTLS),)
$(error MBEDTLS=$(MBEDTLS): only MBEDTLS=3.6 is known (default: the system's mbedTLS, or MBEDTLS_DIR))
endif

# SANITIZE=1 builds everything with ASan+UBSan into its own folder (make check).
BUILD ?= build/$(BOARD)$(if $(SANITIZE),-san)

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
OPT := $(if $(SANITIZE),-O1 -g,$(BOARD_OPT) -g)
MBEDTLS_CFLAGS := $(if $(MBEDTLS_DIR),-I$(MBEDTLS_DIR)/include)
MBEDTLS_LIBS := $(if $(MBEDTLS_DIR),-L$(MBEDTLS_DIR)/lib) -lmbedtls -lmbedx509 -lmbedcrypto
ALL_CXXFLAGS := $(LANGFLAGS) $(WARN) $(OPT) $(BOARD_CPUFLAGS) $(SANFLAGS) -MMD -MP \
    -Iinclude -I$(BUILD)/include -Iport $(MBEDTLS_CFLAGS) $(CXXFLAGS)
ALL_LDFLAGS := $(BOARD_CPUFLAGS) $(SANFLAGS) $(LDFLAGS)
LIBS := $(MBEDTLS_LIBS) -lpthread

LIB_SRCS ?= $(wildcard src/*.cpp src/http/*.cpp src/tls/*.cpp src/dns/*.cpp src/testing/*.cpp port/posix/*.cpp port/linux/*.cpp)
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libgust.a
BOARD_HEADER := $(BUILD)/include/gust/board.hpp

UNIT_SRCS ?= $(wildcard tests/unit/*.cpp)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/obj/%.o)
# statusd's route code, tested through the test kit (tests/unit/test_statusd.cpp);
# the same objects the statusd program links.
UNIT_EXTRA_SRCS := examples/statusd/routes.cpp examples/statusd/upload.cpp
UNIT_EXTRA_OBJS := $(UNIT_EXTRA_SRCS:%.cpp=$(BUILD)/obj/%.o)
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
endef
$(foreach e,$(EXAMPLES),$(eval $(call example_rules,$(e))))

.PHONY: all run test check install size clean deps print-deps lib unit FORCE fuzz
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

$(BOARD_HEADER): $(BOARD_DIR)/board.hpp
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

unit: deps $(UNIT_BIN)

run: all
	@echo "statusd: http://127.0.0.1:8080/"
	$(Q)$(RUNNER) $(STATUSD) --http 127.0.0.1:8080

test: deps $(UNIT_BIN) $(PROGRAMS)
	$(Q)BUILD=$(BUILD) RUNNER="$(RUNNER)" BOARD=$(BOARD) SANITIZE=$(SANITIZE) NM=$(NM) sh tests/run.sh

check:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test

# text/data/bss of every program, then its size on flash once stripped.
size: all
	$(Q)$(SIZE) $(PROGRAMS)
	$(Q)tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	for p in $(PROGRAMS); do \
	    $(STRIP) -o "$$tmp" "$$p" && printf '%10s bytes stripped  %s\n' "$$(wc -c <"$$tmp")" "$$p"; \
	done

# Library, public headers (with this board's board.hpp, so <gust/config.hpp>
# keeps its limits) and gust.pc. <port.hpp> is internal and not installed.
PCFILE := $(BUILD)/gust.pc
install: deps $(LIB) $(PCFILE)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/gust
	$(Q)install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libgust.a
	$(Q)install -m 644 include/gust/*.hpp $(BOARD_HEADER) $(DESTDIR)$(PREFIX)/include/gust/
	$(Q)install -m 644 $(PCFILE) $(DESTDIR)$(PREFIX)/lib/pkgconfig/gust.pc
	@echo "installed gust ($(BOARD)) into $(DESTDIR)$(PREFIX)"

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
.PHONY: bench bench-deps

bench-deps:
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh $(BENCH_DEPS)
endif

bench: deps bench-deps $(STATUSD)
	$(Q)if [ "$(BOARD)" != host ] || [ -n "$(SANITIZE)" ]; then \
	    echo "make bench measures the host build without sanitizers (BOARD=host, no SANITIZE)" >&2; exit 2; fi
	$(Q)BUILD=$(BUILD) BENCH_QUICK=$(BENCH_QUICK) python3 tests/bench/bench.py
