// Board: riscv64 (RV64GC, riscv64-linux-gnu; StarFive JH7110 / Allwinner D1
// class, 512 MiB and more). Every value overrides a default in <gust/config.hpp>.
#pragma once

#define GUST_BOARD_NAME "riscv64"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
// Half of rpi's: the single-core D1 boards are the slow end of the class.
#define GUST_MAX_CONNECTIONS 2048
// ~33 KiB of mbedTLS record buffers each: 128 cost at most 4.2 MiB.
#define GUST_MAX_TLS_CONNECTIONS 128
// Without crypto extensions a P-256 handshake is tens of ms: 8 at once.
#define GUST_MAX_TLS_HANDSHAKES 8
#define GUST_MAX_WATCHES 2100
#define GUST_MAX_TIMERS 4096
#define GUST_POST_QUEUE 512
// Class 5 (4 KiB) holds one frame per connection in flight: 12 MiB of
// address space, resident only where used.
#define GUST_FRAME_COUNTS {512, 2048, 2048, 1024, 512, 2100, 32}
#define GUST_EXECUTOR_THREADS 1
#define GUST_EXECUTOR_QUEUE 64
#define GUST_CACHE_ENTRIES 256
#define GUST_CACHE_BYTES (256 * 1024)
#define GUST_THERMAL_DIR "/sys/class/thermal"
