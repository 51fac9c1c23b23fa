#include "routes.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include <gust/frame_pool.hpp>
#include <gust/status.hpp>

#include "upload.hpp"

using namespace gust;

namespace {

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

ServerFigures figures(const StatusdContext& ctx) {
    ServerFigures f;
    if (ctx.server) {
        http::ServerStats st = ctx.server->stats();
        f.connections_accepted = st.connections_accepted;
        f.connections_refused = st.connections_refused;
        f.connections_open = st.connections_open;
        f.connections_high_water = st.connections_high_water;
        f.requests = st.requests;
        f.responses_4xx = st.responses_4xx;
        f.responses_5xx = st.responses_5xx;
        f.bytes_in = st.bytes_in;
        f.bytes_out = st.bytes_out;
        f.buffers_in_use = st.buffers_in_use;
        f.buffers_high_water = st.buffers_high_water;
        f.buffers_capacity = st.buffers_capacity;
        f.tls = ctx.server->tls_port() != 0;
        f.tls_connections_open = st.tls_connections_open;
        f.tls_handshakes = st.tls_handshakes;
        f.tls_handshake_failures = st.tls_handshake_failures;
        f.tls_refused = st.tls_refused;
        f.tls_handshake_ns = st.tls_handshake_ns;
    }
    FramePool& pool = FramePool::local();
    for (int i = 0; i < kFrameClasses; ++i) {
        FrameClassStats c = pool.stats(i);
        f.frames_in_use += c.in_use;
        f.frames_high_water += c.high_water;
        f.frames_capacity += c.capacity;
    }
    f.frames_request_capacity = pool.capacity_from(kRequestFrameClass);
    return f;
}

Task<> api_status(Request&, Response& res, StatusdContext& ctx) {
    SystemSnapshot sys;
    (void)read_system(sys, ctx.thermal_dir);
    ++ctx.status_reads;
    ServerFigures fig = figures(ctx);
    CacheStats cs = ctx.cache ? ctx.cache->stats() : CacheStats();
    res.json([&](JsonWriter& j) {
        write_status_json(j, sys, fig);
        j.kv("status_reads_total", ctx.status_reads);
        j.key("cache");
        j.begin_object();
        j.kv("hits", cs.hits);
        j.kv("misses", cs.misses);
        j.kv("fills", cs.fills);
        j.kv("waits", cs.waits);
        j.kv("evictions", cs.evictions);
        j.kv("entries", cs.entries);
        j.kv("bytes", uint64_t(cs.bytes));
        j.kv("capacity_bytes", uint64_t(cs.max_bytes));
        j.end_object();
    });
    co_return;
}

// statusd's own families after write_metrics() output; false when they do not fit.
bool append_statusd_metrics(std::span<char> out, size_t& len, const StatusdContext& ctx) {
    CacheStats cs = ctx.cache ? ctx.cache->stats() : CacheStats();
    int n = std::snprintf(out.data() + len, out.size() - len,
                          "# HELP gust_status_reads_total System snapshots read for /api/status and /metrics.\n"
                          "# TYPE gust_status_reads_total counter\n"
                          "gust_status_reads_total %llu\n"
                          "# HELP gust_cache_hits_total Lookups answered from the response cache.\n"
                          "# TYPE gust_cache_hits_total counter\n"
                          "gust_cache_hits_total %llu\n"
                          "# HELP gust_cache_fills_total Responses computed for the cache.\n"
                          "# TYPE gust_cache_fills_total counter\n"
                          "gust_cache_fills_total %llu\n"
                          "# HELP gust_cache_waits_total Requests that waited for a response being computed.\n"
                          "# TYPE gust_cache_waits_total counter\n"
                          "gust_cache_waits_total %llu\n"
                          "# HELP gust_cache_evictions_total Entries evicted to make room.\n"
                          "# TYPE gust_cache_evictions_total counter\n"
                          "gust_cache_evictions_total %llu\n"
                          "# HELP gust_cache_bytes Bytes held by the response cache.\n"
                          "# TYPE gust_cache_bytes gauge\n"
                          "gust_cache_bytes %llu\n",
                          static_cast<unsigned long long>(ctx.status_reads), static_cast<unsigned long long>(cs.hits),
                          static_cast<unsigned long long>(cs.fills), static_cast<unsigned long long>(cs.waits),
                          static_cast<unsigned long long>(cs.evictions), static_cast<unsigned long long>(cs.bytes));
    if (n < 0 || size_t(n) >= out.size() - len) return false;
    len += size_t(n);
    return true;
}

Task<> metrics(Request&, Response& res, StatusdContext& ctx) {
    // The text can outgrow a response buffer on a router with many interfaces,
    // so it is rendered into one static buffer. When it fits the response
    // buffer it is sent whole (and so can be cached); otherwise it is
    // streamed, and a second scrape while a slow client still reads the first
    // is told to retry.
    static char text[kStatusMetricsBufferSize];
    static bool busy = false;
    if (busy) {
        res.status(503).header("Retry-After", "1").text("metrics busy\n");
        co_return;
    }
    SystemSnapshot sys;
    (void)read_system(sys, ctx.thermal_dir);
    ++ctx.status_reads;
    ServerFigures fig = figures(ctx);
    auto rendered = write_metrics(text, sys, fig);
    size_t len = rendered ? rendered->size() : 0;
    if (!rendered || !append_statusd_metrics(text, len, ctx)) {
        res.status(500).text("metrics do not fit their buffer\n");
        co_return;
    }
    std::string_view body(text, len);
    // Room for the head within the server's default response buffer.
    if (body.size() + 1024 <= GUST_HTTP_BUFFER_SIZE) {
        res.send(body, kMetricsContentType);
        co_return;
    }
    struct Busy {  // cleared even when the connection is cut mid-write
        Busy() { busy = true; }
        ~Busy() { busy = false; }
    } guard;
    res.header("Content-Type", kMetricsContentType);
    res.content_length(body.size());
    (void)co_await res.write(body);
}

Task<> echo(Request& req, Response& res) {
    std::string_view type = req.header("Content-Type");
    if (!type.data()) type = "application/octet-stream";
    res.header("Content-Type", type);
    if (req.content_length() >= 0) res.content_length(uint64_t(req.content_length()));
    uint8_t chunk[2048];
    for (;;) {
        auto n = co_await req.read(chunk);
        if (!n) co_return;  // the server answers the body error (413, 400, 408)
        if (*n == 0) break;
        auto w = co_await res.write(std::span<const uint8_t>(chunk, *n));
        if (!w) co_return;
    }
    (void)co_await res.finish();
}

Task<> slow(Request& req, Response& res) {
    char buf[16];
    auto ms = req.query("ms", buf);
    // The decoded view is not NUL-terminated: parse exactly its bytes.
    long n = -1;
    bool whole = false;
    if (ms && !ms->empty()) {
        auto [end, ec] = std::from_chars(ms->data(), ms->data() + ms->size(), n);
        whole = ec == std::errc() && end == ms->data() + ms->size();
    }
    if (!whole || n < 0 || n > 10000) {
        res.status(400).text("ms must be an integer from 0 to 10000\n");
        co_return;
    }
    co_await sleep(std::chrono::milliseconds(n));
    res.text("slept\n");
}

}  // namespace

Result<void> add_statusd_routes(Router& app, StatusdContext& ctx) {
    StatusdContext* c = &ctx;
    Result<void> r;
    auto add = [&r](Result<void> step) {
        if (r && !step) r = step;
    };
    add(app.get("/hello", hello));
    RouteOptions status_opts;
    // Shared by every client that passes the route's Auth (if statusd sets one): the
    // answer does not depend on who asks, and the check runs before the cache.
    if (ctx.cache && ctx.status_cache > Duration(0))
        status_opts.cache = {.store = ctx.cache, .ttl = ctx.status_cache, .authenticated = true};
    add(app.get("/api/status", [c](Request& req, Response& res) { return api_status(req, res, *c); }, status_opts));
    add(app.get("/metrics", [c](Request& req, Response& res) { return metrics(req, res, *c); }, status_opts));
    add(app.post("/echo", echo));
    add(app.put("/echo", echo));
    add(app.get("/api/slow", slow));
    // A firmware image is large and arrives over a slow link: its own body limit.
    add(app.put("/api/upload/{name}", [c](Request& req, Response& res) { return upload(req, res, c->upload_dir); },
                RouteOptions{.max_body = uint64_t(64) << 20, .body_timeout = std::chrono::seconds(30)}));
    return r;
}

Result<std::string_view> render_status_json(StatusdContext& ctx, std::span<char> out) {
    SystemSnapshot sys;
    (void)read_system(sys, ctx.thermal_dir);
    ServerFigures fig = figures(ctx);
    JsonWriter j(out);
    j.begin_object();
    write_status_json(j, sys, fig);
    j.end_object();
    return j.result();
}
