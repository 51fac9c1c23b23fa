// statusd's routes, apart from main() so the unit tests can serve them through
// gust::testing::TestServer with the same code the program runs.
//
//   GET  /hello               Hello, world!
//   GET  /api/status          device and server figures as JSON
//   GET  /metrics             the same in Prometheus text format
//   POST|PUT /echo            the request body, byte for byte (the server's max_body, 1 MiB by default)
//   GET  /api/slow?ms=N       answers after N ms (N <= 10000), blocking nothing
//   PUT  /api/upload/{name}   streams the body into upload_dir with its SHA-256 (64 MiB limit)
//
// The upload route hands file writes to run_blocking(): an Executor must exist
// on the loop that serves it.
//
// With a cache and a positive status_cache, /api/status and /metrics are
// served through it (RouteOptions::cache): a burst of pollers within the TTL
// costs one read of the system facts. status_reads counts those reads; both
// routes report it (status_reads_total) with the cache's counters.
#pragma once

#include <gust/cache.hpp>
#include <gust/config.hpp>
#include <gust/http.hpp>
#include <gust/router.hpp>

// What the handlers read; it must outlive the Router. `server` may be set after
// add_statusd_routes() (the Server is built from the Router, so it comes later);
// until it is, /api/status and /metrics report zero server figures.
struct StatusdContext {
    gust::http::Server* server = nullptr;
    const char* thermal_dir = GUST_THERMAL_DIR;
    const char* upload_dir = "./uploads";
    gust::Cache* cache = nullptr;      // for /api/status and /metrics; nullptr: uncached
    gust::Duration status_cache{0};    // their TTL (statusd --status-cache-ms); 0: uncached
    uint64_t status_reads = 0;         // system snapshots read by those routes
};

// Registers the routes above on `app`; the handlers keep a pointer to `ctx`.
gust::Result<void> add_statusd_routes(gust::Router& app, StatusdContext& ctx);

// The /api/status JSON (system and server figures, without the cache's) into
// `out`; the view points into `out`. For the live feed (live.hpp).
gust::Result<std::string_view> render_status_json(StatusdContext& ctx, std::span<char> out);
