// Compile-time defaults for gust. Every tunable is `#ifndef GUST_X / #define
// GUST_X default`; a board's header (<gust/board.hpp>, copied from
// boards/<name>/board.hpp by the build) or -D flags override them.
// Run-time sizes live in gust::Limits (limits.hpp), whose defaults come from here.
#pragma once

#if __has_include(<gust/board.hpp>)
#include <gust/board.hpp>
#endif

#ifndef GUST_BOARD_NAME
#define GUST_BOARD_NAME "generic"
#endif

// Poller used when the application does not pick one: poll, select or epoll.
#ifndef GUST_DEFAULT_POLLER
#define GUST_DEFAULT_POLLER gust::PollerKind::poll
#endif

// Most simultaneous connections a server holds (listeners included).
#ifndef GUST_MAX_CONNECTIONS
#define GUST_MAX_CONNECTIONS 256
#endif

// TLS connections a server holds at once (each costs mbedTLS's record buffers,
// about 33 KiB with stock mbedTLS 2.28), and handshakes in progress at once
// (each costs the buffers plus ECDHE/ECDSA work): the flood guard.
#ifndef GUST_MAX_TLS_CONNECTIONS
#define GUST_MAX_TLS_CONNECTIONS 32
#endif
#ifndef GUST_MAX_TLS_HANDSHAKES
#define GUST_MAX_TLS_HANDSHAKES 8
#endif

// Most file descriptors the loop watches at once.
#ifndef GUST_MAX_WATCHES
#define GUST_MAX_WATCHES 300
#endif

// Most pending timers (sleeps, timeouts, call_later, every).
#ifndef GUST_MAX_TIMERS
#define GUST_MAX_TIMERS 1024
#endif

// Capacity of the cross-thread post() queue.
#ifndef GUST_POST_QUEUE
#define GUST_POST_QUEUE 256
#endif

// Coroutine frames per size class; the classes are 128, 256, ... 8192 bytes.
#ifndef GUST_FRAME_COUNTS
#define GUST_FRAME_COUNTS {64, 256, 256, 128, 32, 8, 4}
#endif

// Worker threads and queued jobs of the Executor behind run_blocking().
#ifndef GUST_EXECUTOR_THREADS
#define GUST_EXECUTOR_THREADS 1
#endif
#ifndef GUST_EXECUTOR_QUEUE
#define GUST_EXECUTOR_QUEUE 32
#endif

// Entries and bytes (keys plus values) of a gust::Cache built from the Limits.
#ifndef GUST_CACHE_ENTRIES
#define GUST_CACHE_ENTRIES 64
#endif
#ifndef GUST_CACHE_BYTES
#define GUST_CACHE_BYTES (64 * 1024)
#endif

// Bytes a stored callback may capture (loop callbacks, timers, post()).
// A larger capture is a compile error, not a heap allocation.
#ifndef GUST_CALLBACK_CAPACITY
#define GUST_CALLBACK_CAPACITY (6 * sizeof(void*))
#endif

// Log messages below this level are compiled out (0 debug .. 3 error).
#ifndef GUST_LOG_COMPILE_LEVEL
#define GUST_LOG_COMPILE_LEVEL 0
#endif

// Where the board's thermal zones live.
#ifndef GUST_THERMAL_DIR
#define GUST_THERMAL_DIR "/sys/class/thermal"
#endif
