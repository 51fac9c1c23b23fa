// Board: rpi (64-bit ARM, aarch64-linux-gnu; Raspberry Pi 3/4/5 class,
// 512 MiB and more, 4 cores). Every value overrides a default in <gust/config.hpp>.
#pragma once

#define GUST_BOARD_NAME "rpi"
#define GUST_DEFAULT_POLLER gust::PollerKind::epoll
// A LAN gateway or kiosk serves tens of clients; 4096 leaves room for
// keep-alive fleets while the per-connection state stays under 2 MiB.
#define GUST_MAX_CONNECTIONS 4096
// ~33 KiB of mbedTLS record buffers each: 256 cost at most 8.3 MiB.
#define GUST_MAX_TLS_CONNECTIONS 256
// ECDHE P-256 takes a few ms on an A53: 16 at once bounds a flood to one core's worth.
#define GUST_MAX_TLS_HANDSHAKES 16
// The connections, the listeners, client sockets and the loop's own fds.
#define GUST_MAX_WATCHES 4200
#define GUST_MAX_TIMERS 8192
#define GUST_POST_QUEUE 1024
// Per class (128 B .. 8 KiB); class 5 (4 KiB) holds one frame per connection
// in flight: 24 MiB of address space, resident only where used.
#define GUST_FRAME_COUNTS {1024, 4096, 4096, 2048, 1024, 4200, 64}
// Two of the four cores for blocking work (flash writes, hashing); the loop keeps one.
#define GUST_EXECUTOR_THREADS 2
#define GUST_EXECUTOR_QUEUE 128
#define GUST_CACHE_ENTRIES 512
#define GUST_CACHE_BYTES (512 * 1024)
// The SoC's zone (cpu-thermal) is thermal_zone0 there.
#define GUST_THERMAL_DIR "/sys/class/thermal"
