// Device status for status APIs: a snapshot of system facts (read through the
// port layer) plus the server's own counters, rendered as the members of a
// JSON object (GET /api/status) or as Prometheus text (GET /metrics).
//
//     SystemSnapshot sys;
//     (void)read_system(sys, GUST_THERMAL_DIR);     // unavailable facts are skipped
//     ServerFigures fig = ...;                       // copied from http::Server::stats() and the frame pool
//     res.json([&](JsonWriter& j) { write_status_json(j, sys, fig); });
//
//     static char buf[kStatusMetricsBufferSize];
//     auto text = write_metrics(buf, sys, fig);     // too_large if buf is short
//     // serve *text with Content-Type kMetricsContentType
//
// Nothing here allocates; a SystemSnapshot is about 1.5 KB and may live on
// the stack. Reading it takes a few small /proc and /sys reads (no blocking
// beyond that).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/json.hpp>
#include <gust/result.hpp>

namespace gust {

// Most thermal zones and network interfaces a snapshot keeps (the rest are dropped).
inline constexpr size_t kStatusMaxTemperatures = 16;
inline constexpr size_t kStatusMaxInterfaces = 16;

// Buffer sizes that hold write_metrics() output (worst case about 12.2 KB) and the
// write_status_json() object (about 5.2 KB) for any snapshot: full arrays, longest
// names with every byte escaped, largest numbers. A typical device needs under 4 KB.
inline constexpr size_t kStatusMetricsBufferSize = 16384;
inline constexpr size_t kStatusJsonBufferSize = 8192;

// The HTTP Content-Type of write_metrics() output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The server's own counters, filled by the caller (a plain mirror of
// http::ServerStats plus the coroutine frame pool, so this module needs neither).
struct ServerFigures {
    uint64_t connections_accepted = 0;
    uint64_t connections_refused = 0;  // turned away at the connection limit
    uint32_t connections_open = 0;
    uint32_t connections_high_water = 0;
    uint64_t requests = 0;
    uint64_t responses_4xx = 0;
    uint64_t responses_5xx = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint32_t buffers_in_use = 0;
    uint32_t buffers_high_water = 0;
    uint32_t buffers_capacity = 0;
    uint32_t frames_in_use = 0;
    uint32_t frames_high_water = 0;
    uint32_t frames_capacity = 0;
    // Frames big enough for a request's serve coroutine (4 KiB or more): how
    // many requests, WebSockets or SSE streams can be in flight at once.
    uint32_t frames_request_capacity = 0;
    // HTTPS listener figures; reported only when `tls` is true.
    bool tls = false;
    uint32_t tls_connections_open = 0;
    uint64_t tls_handshakes = 0;
    uint64_t tls_handshake_failures = 0;
    uint64_t tls_refused = 0;
    uint64_t tls_handshake_ns = 0;  // server time spent inside handshake steps
};

// One thermal zone: its type ("cpu-thermal") and temperature.
struct TemperatureReading {
    char name[32] = {};
    int32_t millicelsius = 0;
};

// One network interface and its counters since boot.
struct InterfaceCounters {
    char name[16] = {};
    uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};

/* System facts at one moment. Each fact has its own has_* flag: a fact the
 * system could not provide is left out of both outputs instead of failing the
 * whole snapshot. Temperatures have no flag: a board without thermal zones
 * simply has temperature_count 0 (an empty array, no metric samples). */
struct SystemSnapshot {
    bool has_hostname = false;
    char hostname[65] = {};  // NUL-terminated (HOST_NAME_MAX is 64)

    bool has_uptime = false;
    double uptime_s = 0;

    bool has_load = false;
    double load1 = 0, load5 = 0, load15 = 0;

    bool has_memory = false;
    uint64_t memory_total_bytes = 0;
    uint64_t memory_available_bytes = 0;

    size_t temperature_count = 0;
    TemperatureReading temperatures[kStatusMaxTemperatures];

    bool has_interfaces = false;
    size_t interface_count = 0;
    InterfaceCounters interfaces[kStatusMaxInterfaces];

    bool has_rss = false;
    uint64_t rss_bytes = 0;

    bool has_open_fds = false;
    uint64_t open_fds = 0;
};

// Replaces `out` with a fresh snapshot read through the port layer, zones from `thermal_dir`
// (a missing dir gives no temperatures). Ok unless no fact at all could be read (then the first error).
Result<void> read_system(SystemSnapshot& out, const char* thermal_dir);

/* Writes the members of the status object (the caller opens and closes it):
 *   "hostname", "uptime_s", "load": {"1", "5", "15"},
 *   "memory": {"total_bytes", "available_bytes"},
 *   "temperatures": [{"name", "celsius"}],            (always present, maybe empty)
 *   "interfaces": [{"name", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets"}],
 *   "process": {"rss_bytes", "open_fds"},
 *   "server": {"connections_open", "connections_accepted", "connections_refused",
 *              "connections_high_water", "requests", "responses_4xx", "responses_5xx",
 *              "bytes_in", "bytes_out", "buffers": {"in_use", "high_water", "capacity"},
 *              "frames": {"in_use", "high_water", "capacity", "request_capacity"}}
 * System members whose has_* flag is false are left out. Errors stay in `j`. */
void write_status_json(JsonWriter& j, const SystemSnapshot& sys, const ServerFigures& fig);

/* Writes the same figures as Prometheus text exposition format 0.0.4 into
 * `out`: a # HELP and # TYPE line per family, names prefixed gust_, counters
 * ending in _total, label values escaped (\\ \" \n) and invalid UTF-8 replaced
 * by U+FFFD. A zone name that repeats an earlier one gets "_2", "_3"... so
 * every series is unique. Families without samples are left out.
 * Returns a view into `out` (no NUL), or too_large when `out` is short; never
 * writes past `out`. */
Result<std::string_view> write_metrics(std::span<char> out, const SystemSnapshot& sys, const ServerFigures& fig);

}  // namespace gust
