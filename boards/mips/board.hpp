// Board: mips (32-bit BIG-endian MIPS, ath79 class; OpenWrt routers with 64-128 MiB,
// of which the kernel, dnsmasq, hostapd and the web UI leave gust a few MiB).
// Every value overrides a default in <gust/config.hpp>; the same values as
// boards/mipsel/board.hpp: only the byte order differs.
#pragma once

#define GUST_BOARD_NAME "mips"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
// A router's admin UI and API see a handful of clients; 256 also bounds the
// server's buffer pool (2 × 8 KiB per connection: 4 MiB of address space,
// resident only as connections use them).
#define GUST_MAX_CONNECTIONS 256
// A few browsers (6 connections per origin each) and API clients. ~33 KiB
// of mbedTLS record buffers each, taken from the heap only while open: 64
// cost at most 2.1 MiB, and an idle one has touched about 27 KiB of it.
#define GUST_MAX_TLS_CONNECTIONS 64
// A P-256 handshake takes ~100 ms on a 580 MHz 24Kc: 4 at once keep the loop responsive.
#define GUST_MAX_TLS_HANDSHAKES 4
// The connections plus listeners, client sockets and the loop's own fds.
#define GUST_MAX_WATCHES 300
// Each connection's timeout plus the handlers' sleeps.
#define GUST_MAX_TIMERS 1024
#define GUST_POST_QUEUE 128
// Per class (128 B .. 8 KiB); class 5 (4 KiB) holds one frame per connection
// in flight (300 ≥ max_connections): 2.1 MiB of address space.
#define GUST_FRAME_COUNTS {128, 512, 512, 256, 128, 300, 8}
// One core on most of these SoCs: one worker for flash writes.
#define GUST_EXECUTOR_THREADS 1
#define GUST_EXECUTOR_QUEUE 16
#define GUST_CACHE_ENTRIES 64
#define GUST_CACHE_BYTES (64 * 1024)
#define GUST_THERMAL_DIR "/sys/class/thermal"
