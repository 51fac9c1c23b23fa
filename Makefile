# gust: one Makefile for every board.
#   make [BOARD=host|armhf] [all|run|test|check|install|size|clean|deps]
# Honours CROSS_COMPILE, CXX, CXXFLAGS, LDFLAGS, PREFIX, DESTDIR, V=1.

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

# SANITIZE=1 builds everything with ASan+UBSan into its own folder (make check).
BUILD ?= build/$(BOARD)$(if $(SANITIZE),-san)

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Werror
LANG := -std=c++20 -fno-exceptions -fno-rtti
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
OPT := $(if $(SANITIZE),-O1 -g,$(BOARD_OPT) -g)
MBEDTLS_CFLAGS := $(if $(MBEDTLS_DIR),-I$(MBEDTLS_DIR)/include)
MBEDTLS_LIBS := $(if $(MBEDTLS_DIR),-L$(MBEDTLS_DIR)/lib) -lmbedtls -lmbedx509 -lmbedcrypto
ALL_CXXFLAGS := $(LANG) $(WARN) $(OPT) $(BOARD_CPUFLAGS) $(SANFLAGS) -MMD -MP \
    -Iinclude -I$(BUILD)/include -Iport $(MBEDTLS_CFLAGS) $(CXXFLAGS)
ALL_LDFLAGS := $(BOARD_CPUFLAGS) $(SANFLAGS) $(LDFLAGS)
LIBS := $(MBEDTLS_LIBS) -lpthread

LIB_SRCS ?= $(wildcard src/*.cpp src/http/*.cpp port/posix/*.cpp port/linux/*.cpp)
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libgust.a
BOARD_HEADER := $(BUILD)/include/gust/board.hpp

UNIT_SRCS ?= $(wildcard tests/unit/*.cpp)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/obj/%.o)
UNIT_BIN := $(BUILD)/tests/unit_tests

STATUSD_SRCS := $(wildcard examples/statusd/*.cpp)
STATUSD_OBJS := $(STATUSD_SRCS:%.cpp=$(BUILD)/obj/%.o)
STATUSD := $(BUILD)/statusd

.PHONY: all run test check install size clean deps lib unit
.DEFAULT_GOAL := all

all: deps $(LIB) $(STATUSD)

lib: $(LIB)

# Installs what this board needs from Debian when it is missing (NO_DEPS=1 skips).
deps:
ifneq ($(NO_DEPS),1)
	$(Q)sh boards/deps.sh $(BOARD_DEPS)
endif

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

$(STATUSD): $(STATUSD_OBJS) $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(STATUSD_OBJS) $(LIB) $(LIBS)

$(UNIT_BIN): $(UNIT_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB) $(LIBS)

# Tests build with the library's flags; doctest then needs to know there are no exceptions.
$(UNIT_OBJS): ALL_CXXFLAGS += -DDOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS

unit: deps $(UNIT_BIN)

run: all
	@echo "statusd: http://127.0.0.1:8080/"
	$(Q)$(RUNNER) $(STATUSD) --http 127.0.0.1:8080

test: deps $(UNIT_BIN) $(STATUSD)
	$(Q)BUILD=$(BUILD) RUNNER="$(RUNNER)" BOARD=$(BOARD) sh tests/run.sh

check:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test

size: all
	$(Q)$(SIZE) $(STATUSD)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(STATUSD_OBJS:.o=.d)
