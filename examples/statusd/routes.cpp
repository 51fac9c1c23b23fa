#include "routes.hpp"

#include <charconv>

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
    return f;
}

Task<> api_status(Request&, Response& res, const StatusdContext& ctx) {
    SystemSnapshot sys;
    (void)read_system(sys, ctx.thermal_dir);
    ServerFigures fig = figures(ctx);
    res.json([&](JsonWriter& j) { write_status_json(j, sys, fig); });
    co_return;
}

Task<> metrics(Request&, Response& res, const StatusdContext& ctx) {
    // The text can outgrow a response buffer on a router with many interfaces,
    // so it is rendered into one static buffer and streamed; a second scrape
    // while a slow client still reads the first is told to retry.
    static char text[kStatusMetricsBufferSize];
    static bool busy = false;
    if (busy) {
        res.status(503).header("Retry-After", "1").text("metrics busy\n");
        co_return;
    }
    SystemSnapshot sys;
    (void)read_system(sys, ctx.thermal_dir);
    ServerFigures fig = figures(ctx);
    auto body = write_metrics(text, sys, fig);
    if (!body) {
        res.status(500).text("metrics do not fit their buffer\n");
        co_return;
    }
    struct Busy {  // cleared even when the connection is cut mid-write
        Busy() { busy = true; }
        ~Busy() { busy = false; }
    } guard;
    res.header("Content-Type", kMetricsContentType);
    res.content_length(body->size());
    (void)co_await res.write(*body);
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
    add(app.get("/api/status", [c](Request& req, Response& res) { return api_status(req, res, *c); }));
    add(app.get("/metrics", [c](Request& req, Response& res) { return metrics(req, res, *c); }));
    add(app.post("/echo", echo));
    add(app.put("/echo", echo));
    add(app.get("/api/slow", slow));
    // A firmware image is large and arrives over a slow link: its own body limit.
    add(app.put("/api/upload/{name}", [c](Request& req, Response& res) { return upload(req, res, c->upload_dir); },
                RouteOptions{.max_body = uint64_t(64) << 20, .body_timeout = std::chrono::seconds(30)}));
    return r;
}
