// Board: host (x86-64 development machine). Generous limits for tests and
// benchmarks; every value here overrides a default in <gust/config.hpp>.
#pragma once

#define GUST_BOARD_NAME "host"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
#define GUST_MAX_CONNECTIONS 16384
#define GUST_MAX_TLS_CONNECTIONS 1024
#define GUST_MAX_TLS_HANDSHAKES 64
#define GUST_MAX_WATCHES 16640
#define GUST_MAX_TIMERS 32768
#define GUST_POST_QUEUE 4096
// Per class (128 B .. 8 KiB). An active HTTP connection holds one 4 KiB frame;
// untouched blocks cost address space, not RAM.
#define GUST_FRAME_COUNTS {2048, 8192, 8192, 4096, 2048, 16640, 256}
#define GUST_EXECUTOR_THREADS 2
#define GUST_EXECUTOR_QUEUE 256
#define GUST_CACHE_ENTRIES 1024
#define GUST_CACHE_BYTES (1024 * 1024)
#define GUST_THERMAL_DIR "/sys/class/thermal"
