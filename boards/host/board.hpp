// Board: host (x86-64 development machine). Generous limits for tests and
// benchmarks; every value here overrides a default in <gust/config.hpp>.
#pragma once

#define GUST_BOARD_NAME "host"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
#define GUST_MAX_CONNECTIONS 16384
#define GUST_MAX_WATCHES 16640
#define GUST_MAX_TIMERS 32768
#define GUST_POST_QUEUE 4096
#define GUST_FRAME_COUNTS {1024, 4096, 4096, 2048, 512, 128, 32}
#define GUST_EXECUTOR_THREADS 2
#define GUST_EXECUTOR_QUEUE 256
#define GUST_THERMAL_DIR "/sys/class/thermal"
