// Run-time sizes of every pool. A Loop sizes its structures once from these
// at construction; nothing grows afterwards. Defaults come from the board
// (config.hpp); an application overrides fields before creating the Loop.
#pragma once

#include <cstdint>

#include <gust/config.hpp>

namespace gust {

// Readiness backend of a Loop.
enum class PollerKind : uint8_t { poll, select, epoll };

// Number of coroutine frame size classes: 128, 256, ... 8192 bytes.
inline constexpr int kFrameClasses = 7;
// Size in bytes of frame class `i`.
constexpr uint32_t frame_class_size(int i) { return 128u << i; }
// The first class (4 KiB) that holds a request's serve coroutine: each request,
// WebSocket or SSE stream in flight holds one frame of this class or above.
inline constexpr int kRequestFrameClass = 5;

struct Limits {
    PollerKind poller = GUST_DEFAULT_POLLER;
    uint32_t max_connections = GUST_MAX_CONNECTIONS;  // server connections (issue-level users)
    uint32_t max_tls_connections = GUST_MAX_TLS_CONNECTIONS;  // of those, TLS ones
    uint32_t max_tls_handshakes = GUST_MAX_TLS_HANDSHAKES;    // TLS handshakes in progress at once
    uint32_t max_watches = GUST_MAX_WATCHES;          // fds watched by the loop at once
    uint32_t max_timers = GUST_MAX_TIMERS;            // pending timers, sleeps and timeouts
    uint32_t post_queue = GUST_POST_QUEUE;            // cross-thread post() queue capacity
    uint32_t frame_counts[kFrameClasses] = GUST_FRAME_COUNTS;  // coroutine frames per class
    uint32_t executor_threads = GUST_EXECUTOR_THREADS;  // run_blocking() workers
    uint32_t executor_queue = GUST_EXECUTOR_QUEUE;      // queued blocking jobs
    uint32_t cache_entries = GUST_CACHE_ENTRIES;        // entries a gust::Cache built from these limits holds
    uint32_t cache_bytes = GUST_CACHE_BYTES;            // bytes of keys and values it holds (its arena)
};

}  // namespace gust
