################################################################################
#
# gust
#
################################################################################

# Put this folder at package/gust/ and source its Config.in from
# package/Config.in; set GUST_SITE to your gust repository (or use
# GUST_OVERRIDE_SRCDIR=/path/to/gust in local.mk while developing).
GUST_VERSION = main
GUST_SITE = https://git.example.com/gust.git
GUST_SITE_METHOD = git
GUST_INSTALL_STAGING = YES
GUST_DEPENDENCIES = mbedtls

GUST_BOARD = $(call qstrip,$(BR2_PACKAGE_GUST_BOARD))

# Buildroot's toolchain and flags replace the board's (BOARD_CPUFLAGS
# emptied: TARGET_CFLAGS carry the CPU); NO_DEPS=1: no Debian packages.
GUST_MAKE_OPTS = \
	BOARD=$(GUST_BOARD) \
	BOARD_CPUFLAGS= \
	NO_DEPS=1 \
	CROSS_COMPILE="$(TARGET_CROSS)" \
	CXX="$(TARGET_CXX)" \
	CXXFLAGS="$(TARGET_CXXFLAGS)" \
	LDFLAGS="$(TARGET_LDFLAGS)" \
	PREFIX=/usr

define GUST_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(GUST_MAKE_OPTS) all
endef

define GUST_INSTALL_STAGING_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(GUST_MAKE_OPTS) DESTDIR=$(STAGING_DIR) install
endef

define GUST_INSTALL_TARGET_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(GUST_MAKE_OPTS) DESTDIR=$(TARGET_DIR) install-programs
endef

$(eval $(generic-package))
