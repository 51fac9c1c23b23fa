// Board: armhf (32-bit ARM, arm-linux-gnueabihf; 256 MiB class devices).
#pragma once

#define GUST_BOARD_NAME "armhf"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
#define GUST_MAX_CONNECTIONS 1024
#define GUST_MAX_TLS_CONNECTIONS 64
#define GUST_MAX_TLS_HANDSHAKES 8
#define GUST_MAX_WATCHES 1100
#define GUST_MAX_TIMERS 4096
#define GUST_POST_QUEUE 512
// Per class (128 B .. 8 KiB). An active HTTP connection holds one 4 KiB frame.
#define GUST_FRAME_COUNTS {512, 2048, 2048, 1024, 512, 1100, 32}
#define GUST_EXECUTOR_THREADS 1
#define GUST_EXECUTOR_QUEUE 64
#define GUST_CACHE_ENTRIES 256
#define GUST_CACHE_BYTES (256 * 1024)
#define GUST_THERMAL_DIR "/sys/class/thermal"
