// statusd: the device-status server. Routes:
//   GET  /hello               Hello, world!
//   GET  /api/status          device and server figures as JSON
//   GET  /metrics             the same in Prometheus text format
//   POST|PUT /echo            the request body, byte for byte (1 MiB limit)
//   GET  /api/slow?ms=N       answers after N ms (N <= 10000), blocking nothing
//   PUT  /api/upload/{name}   streams the body into --upload-dir with its SHA-256 (64 MiB limit)
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gust/gust.hpp>
#include <gust/http.hpp>
#include <gust/status.hpp>

#include "upload.hpp"

using namespace gust;

namespace {

struct App {
    Loop* loop = nullptr;
    http::Server* server = nullptr;
    const char* thermal_dir = GUST_THERMAL_DIR;
    const char* upload_dir = "./uploads";
};
App g_app;

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

ServerFigures figures() {
    http::ServerStats st = g_app.server->stats();
    ServerFigures f;
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
    FramePool& pool = FramePool::local();
    for (int i = 0; i < kFrameClasses; ++i) {
        FrameClassStats c = pool.stats(i);
        f.frames_in_use += c.in_use;
        f.frames_high_water += c.high_water;
        f.frames_capacity += c.capacity;
    }
    return f;
}

Task<> api_status(Request&, Response& res) {
    SystemSnapshot sys;
    (void)read_system(sys, g_app.thermal_dir);
    ServerFigures fig = figures();
    res.json([&](JsonWriter& j) { write_status_json(j, sys, fig); });
    co_return;
}

Task<> metrics(Request&, Response& res) {
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
    (void)read_system(sys, g_app.thermal_dir);
    ServerFigures fig = figures();
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
    char* end = nullptr;
    long n = ms ? std::strtol(ms->data(), &end, 10) : -1;
    if (!ms || ms->empty() || end != ms->data() + ms->size() || n < 0 || n > 10000) {
        res.status(400).text("ms must be an integer from 0 to 10000\n");
        co_return;
    }
    co_await sleep(std::chrono::milliseconds(n));
    res.text("slept\n");
}

int usage(FILE* to) {
    std::fprintf(to,
                 "usage: statusd [--http ADDR:PORT] [--max-conns N] [--upload-dir DIR]\n"
                 "               [--log-level debug|info|warn|error] [--help]\n"
                 "  --http ADDR:PORT   listen address (default 127.0.0.1:8080; port 0 picks one)\n"
                 "  --max-conns N      most simultaneous connections (default: the board's limit)\n"
                 "  --upload-dir DIR   where PUT /api/upload/{name} stores files (default ./uploads)\n");
    return to == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    const char* http_addr = "127.0.0.1:8080";
    Limits limits;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (std::strcmp(a, "--help") == 0) return usage(stdout);
        if (!v) return usage(stderr);
        if (std::strcmp(a, "--http") == 0) http_addr = v;
        else if (std::strcmp(a, "--max-conns") == 0) {
            long n = std::strtol(v, nullptr, 10);
            if (n < 1 || n > 1000000) {
                std::fprintf(stderr, "statusd: --max-conns must be 1..1000000\n");
                return 2;
            }
            limits.max_connections = uint32_t(n);
            if (limits.max_watches < limits.max_connections + 16) limits.max_watches = limits.max_connections + 16;
        } else if (std::strcmp(a, "--upload-dir") == 0) g_app.upload_dir = v;
        else if (std::strcmp(a, "--log-level") == 0) {
            LogLevel level;
            if (!parse_log_level(v, &level)) return usage(stderr);
            set_log_level(level);
        } else return usage(stderr);
        ++i;
    }

    Loop loop(limits);
    if (!loop.status()) {
        std::fprintf(stderr, "statusd: %s\n", loop.status().error().message);
        return 1;
    }
    Executor executor(loop);
    Router app;
    (void)app.get("/hello", hello);
    (void)app.get("/api/status", api_status);
    (void)app.get("/metrics", metrics);
    (void)app.post("/echo", echo);
    (void)app.put("/echo", echo);
    (void)app.get("/api/slow", slow);
    (void)app.put("/api/upload/{name}", [](Request& req, Response& res) { return upload(req, res, g_app.upload_dir); },
                  RouteOptions{.max_body = uint64_t(64) << 20, .body_timeout = std::chrono::seconds(30)});

    http::Server server(loop, app, {.http = http_addr});
    if (!server.status()) {
        std::fprintf(stderr, "statusd: cannot serve on %s: %s\n", http_addr, server.status().error().message);
        return 1;
    }
    g_app.loop = &loop;
    g_app.server = &server;
    loop.on_stop_signal([&] { server.shutdown([&] { loop.stop(); }); });
    // The port line is what scripts and tests wait for (port 0 picks one).
    std::printf("statusd listening on port %u\n", unsigned(server.port()));
    std::fflush(stdout);
    log_info("statusd: http://%s/ (poller %s, %u connections)", http_addr, loop.poller_name(),
             unsigned(loop.limits().max_connections));
    return loop.run();
}
