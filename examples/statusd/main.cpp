// statusd: the device-status server. The routes are in routes.cpp (so the
// unit tests serve the same code); this file parses the command line, builds
// the loop, the executor and the server, and drains on SIGINT/SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gust/gust.hpp>
#include <gust/http.hpp>

#include "routes.hpp"

using namespace gust;

namespace {

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
    StatusdContext ctx;
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
        } else if (std::strcmp(a, "--upload-dir") == 0) ctx.upload_dir = v;
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
    if (auto added = add_statusd_routes(app, ctx); !added) {
        std::fprintf(stderr, "statusd: routes: %s\n", added.error().message);
        return 1;
    }

    http::Server server(loop, app, {.http = http_addr});
    if (!server.status()) {
        std::fprintf(stderr, "statusd: cannot serve on %s: %s\n", http_addr, server.status().error().message);
        return 1;
    }
    ctx.server = &server;
    loop.on_stop_signal([&] { server.shutdown([&] { loop.stop(); }); });
    // The port line is what scripts and tests wait for (port 0 picks one).
    std::printf("statusd listening on port %u\n", unsigned(server.port()));
    std::fflush(stdout);
    log_info("statusd: http://%s/ (poller %s, %u connections)", http_addr, loop.poller_name(),
             unsigned(loop.limits().max_connections));
    return loop.run();
}
