// statusd: the device-status server. The routes are in routes.cpp (so the
// unit tests serve the same code); this file parses the command line, builds
// the loop, the executor and the server, and drains on SIGINT/SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <gust/gust.hpp>
#include <gust/http.hpp>
#include <gust/tls.hpp>

#include "port.hpp"

#include "live.hpp"
#include "routes.hpp"
#include "upstream.hpp"

using namespace gust;

namespace {

int usage(FILE* to) {
    std::fprintf(to,
                 "usage: statusd [--bind ADDR] [--http [ADDR:]PORT] [--https [ADDR:]PORT [--cert FILE --key FILE] [--state-dir DIR]]\n"
                 "               [--auth-token-file FILE] [--auth-basic-file FILE]\n"
                 "               [--upstream URL]...\n"
                 "               [--max-conns N] [--upload-dir DIR] [--status-cache-ms N]\n"
                 "               [--poller epoll|poll|select] [--log-level debug|info|warn|error] [--help]\n"
                 "       statusd --hash-password USER [--hash-iterations N]   (password on stdin)\n"
                 "  --bind ADDR        the address of --http/--https given as a bare PORT (default 127.0.0.1:\n"
                 "                     nothing is reachable from other hosts unless asked; 0.0.0.0 or :: for all)\n"
                 "  --http [ADDR:]PORT listen address (default 8080 on --bind; port 0 picks one; 'off' for none)\n"
                 "  --https [ADDR:]PORT  also serve HTTPS there\n"
                 "  --auth-token-file FILE  every route but /hello needs 'Authorization: Bearer TOKEN' with a\n"
                 "                     token from FILE (one per line, 16+ characters, '#' comments)\n"
                 "  --auth-basic-file FILE  ... or HTTP Basic credentials from FILE (lines made by --hash-password)\n"
                 "  --hash-password USER  print a credentials line for --auth-basic-file and exit\n"
                 "  --cert FILE        PEM certificate chain for --https (with --key)\n"
                 "  --key FILE         PEM private key for --https (ECDSA or RSA)\n"
                 "  --state-dir DIR    without --cert/--key: where the self-signed device certificate\n"
                 "                     is made on first start and reused (default ./state)\n"
                 "  --handshake-timeout-ms N  drop TLS clients that have not finished the handshake (default 10000)\n"
                 "  --max-conns N      most simultaneous connections (default: the board's limit)\n"
                 "  --poller NAME      readiness backend: epoll, poll or select (default: the board's)\n"
                 "  --upstream URL     fetched by GET /api/upstream, all at once (repeatable, at most 8)\n"
                 "  --upload-dir DIR   where PUT /api/upload/{name} stores files (default ./uploads)\n"
                 "  --ws-max-message N  largest WebSocket message in bytes (default 65536; 1009 above)\n"
                 "  --sse-heartbeat-ms N  comment line on /events after this much quiet (default 15000)\n"
                 "  --status-cache-ms N  serve /api/status and /metrics from a cache this fresh\n"
                 "                     (default 500; 0 reads the system on every request)\n");
    return to == stdout ? 0 : 2;
}

// Loads --cert/--key, or makes (first start) / reuses the self-signed device
// certificate: CN = hostname, SANs = hostname plus the listening IPs (every
// local address when listening on a wildcard).
Result<void> load_tls(TlsServerConfig& tls, const char* https_addr, const char* cert, const char* key,
                      const char* state_dir) {
    if (cert || key) {
        if (!cert || !key) return Error(Errc::invalid_argument, "--cert and --key go together");
        return tls.load(cert, key);
    }
    char host[256];
    auto hn = port::hostname(host);
    if (!hn || *hn == 0) std::snprintf(host, sizeof host, "localhost");
    auto listen = port::parse_address(https_addr);
    if (!listen) return listen.error();
    constexpr size_t kMaxIps = 16;
    port::Address addrs[kMaxIps];
    size_t n = 0;
    char listen_ip[64];
    port::format_ip(*listen, listen_ip);
    if (std::strcmp(listen_ip, "0.0.0.0") == 0 || std::strcmp(listen_ip, "::") == 0) {
        auto got = port::local_addresses(addrs);
        if (got) n = *got;
    } else {
        addrs[n++] = *listen;
    }
    char ip_text[kMaxIps][64];
    std::string_view ips[kMaxIps];
    for (size_t i = 0; i < n; ++i) ips[i] = std::string_view(ip_text[i], port::format_ip(addrs[i], ip_text[i]));
    DeviceCertOptions opts;
    opts.hostname = host;
    opts.ips = std::span<const std::string_view>(ips, n);
    return tls.load_self_signed(state_dir, opts);
}

// A bare port ("8080") becomes ADDR:PORT on `bind` in `buf`; anything else is taken as it is.
const char* on_bind(const char* addr, const char* bind, std::span<char> buf) {
    if (!addr || !*addr || std::strspn(addr, "0123456789") != std::strlen(addr)) return addr;
    bool v6 = std::strchr(bind, ':') != nullptr;
    std::snprintf(buf.data(), buf.size(), v6 ? "[%s]:%s" : "%s:%s", bind, addr);
    return buf.data();
}

// True for no address or one on the loopback interface.
bool loopback(const char* addr) {
    if (!addr) return true;
    auto a = port::parse_address(addr);
    char ip[64];
    if (!a || !port::format_ip(*a, ip)) return false;
    return std::strncmp(ip, "127.", 4) == 0 || std::strcmp(ip, "::1") == 0;
}

// statusd --hash-password USER: the first line of stdin is the password.
int hash_password(const char* user, uint32_t iterations) {
    char pw[kAuthMaxPassword + 2];
    if (!std::fgets(pw, sizeof pw, stdin)) {
        std::fprintf(stderr, "statusd: --hash-password reads the password from stdin\n");
        return 2;
    }
    size_t n = std::strcspn(pw, "\r\n");
    char line[512];
    auto made = make_password_line(user, std::string_view(pw, n), iterations, line);
    std::memset(pw, 0, sizeof pw);
    if (!made) {
        std::fprintf(stderr, "statusd: --hash-password: %s\n", made.error().message);
        return 2;
    }
    std::printf("%.*s\n", int(made->size()), made->data());
    return 0;
}

// Loads --auth-token-file / --auth-basic-file; false (with a message) on a bad file.
bool load_auth(Auth& auth, const char* tokens, const char* users) {
    size_t line = 0;
    if (tokens) {
        auto n = auth.load_tokens(tokens, &line);
        if (!n || *n == 0) {
            std::fprintf(stderr, "statusd: --auth-token-file %s:%zu: %s\n", tokens, line,
                         n ? "no tokens in the file" : n.error().message);
            return false;
        }
    }
    if (users) {
        auto n = auth.load_users(users, &line);
        if (!n || *n == 0) {
            std::fprintf(stderr, "statusd: --auth-basic-file %s:%zu: %s\n", users, line,
                         n ? "no users in the file" : n.error().message);
            return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const char* http_addr = "8080";
    const char* https_addr = nullptr;
    const char* bind = "127.0.0.1";
    const char* auth_tokens = nullptr;
    const char* auth_users = nullptr;
    const char* hash_user = nullptr;
    long hash_iterations = 100000;
    const char* cert = nullptr;
    const char* key = nullptr;
    const char* state_dir = "./state";
    long handshake_ms = 10000;
    Limits limits;
    uint64_t ws_max_message = GUST_WS_MAX_MESSAGE;
    Duration sse_heartbeat = std::chrono::seconds(15);
    StatusdContext ctx;
    UpstreamContext upstream;
    ctx.status_cache = std::chrono::milliseconds(500);
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (std::strcmp(a, "--help") == 0) return usage(stdout);
        if (!v) return usage(stderr);
        if (std::strcmp(a, "--http") == 0) http_addr = std::strcmp(v, "off") == 0 ? nullptr : v;
        else if (std::strcmp(a, "--https") == 0) https_addr = v;
        else if (std::strcmp(a, "--bind") == 0) {
            if (!port::parse_ip(v, 0)) {
                std::fprintf(stderr, "statusd: --bind wants an IP address (127.0.0.1, 0.0.0.0, ::1, ::)\n");
                return 2;
            }
            bind = v;
        }
        else if (std::strcmp(a, "--auth-token-file") == 0) auth_tokens = v;
        else if (std::strcmp(a, "--auth-basic-file") == 0) auth_users = v;
        else if (std::strcmp(a, "--hash-password") == 0) hash_user = v;
        else if (std::strcmp(a, "--hash-iterations") == 0) {
            hash_iterations = std::strtol(v, nullptr, 10);
            if (hash_iterations < long(kAuthMinIterations) || hash_iterations > long(kAuthMaxIterations)) {
                std::fprintf(stderr, "statusd: --hash-iterations must be 1000..10000000\n");
                return 2;
            }
        }
        else if (std::strcmp(a, "--cert") == 0) cert = v;
        else if (std::strcmp(a, "--key") == 0) key = v;
        else if (std::strcmp(a, "--state-dir") == 0) state_dir = v;
        else if (std::strcmp(a, "--handshake-timeout-ms") == 0) {
            handshake_ms = std::strtol(v, nullptr, 10);
            if (handshake_ms < 1 || handshake_ms > 600000) {
                std::fprintf(stderr, "statusd: --handshake-timeout-ms must be 1..600000\n");
                return 2;
            }
        }
        else if (std::strcmp(a, "--max-conns") == 0) {
            long n = std::strtol(v, nullptr, 10);
            if (n < 1 || n > 1000000) {
                std::fprintf(stderr, "statusd: --max-conns must be 1..1000000\n");
                return 2;
            }
            limits.max_connections = uint32_t(n);
            if (limits.max_watches < limits.max_connections + 16) limits.max_watches = limits.max_connections + 16;
        } else if (std::strcmp(a, "--poller") == 0) {
            if (std::strcmp(v, "epoll") == 0) limits.poller = PollerKind::epoll;
            else if (std::strcmp(v, "poll") == 0) limits.poller = PollerKind::poll;
            else if (std::strcmp(v, "select") == 0) limits.poller = PollerKind::select;
            else return usage(stderr);
        } else if (std::strcmp(a, "--upstream") == 0) {
            if (upstream.count == kMaxUpstreams) {
                std::fprintf(stderr, "statusd: at most %d --upstream URLs\n", kMaxUpstreams);
                return 2;
            }
            if (auto u = http::parse_url(v); !u) {
                std::fprintf(stderr, "statusd: --upstream %s: %s\n", v, u.error().message);
                return 2;
            }
            upstream.urls[upstream.count++] = v;
        } else if (std::strcmp(a, "--upload-dir") == 0) ctx.upload_dir = v;
        else if (std::strcmp(a, "--sse-heartbeat-ms") == 0) {
            long ms = std::strtol(v, nullptr, 10);
            if (ms < 10 || ms > 3600000) {
                std::fprintf(stderr, "statusd: --sse-heartbeat-ms must be 10..3600000\n");
                return 2;
            }
            sse_heartbeat = std::chrono::milliseconds(ms);
        } else if (std::strcmp(a, "--ws-max-message") == 0) {
            char* end = nullptr;
            long long n = std::strtoll(v, &end, 10);
            if (*v == 0 || *end != 0 || n < 125 || n > (64ll << 20)) {
                std::fprintf(stderr, "statusd: --ws-max-message must be 125..67108864\n");
                return 2;
            }
            ws_max_message = uint64_t(n);
        }
        else if (std::strcmp(a, "--status-cache-ms") == 0) {
            char* end = nullptr;
            long ms = std::strtol(v, &end, 10);
            if (*v == 0 || *end != 0 || ms < 0 || ms > 3600000) {
                std::fprintf(stderr, "statusd: --status-cache-ms must be 0..3600000\n");
                return 2;
            }
            ctx.status_cache = std::chrono::milliseconds(ms);
        }
        else if (std::strcmp(a, "--log-level") == 0) {
            LogLevel level;
            if (!parse_log_level(v, &level)) return usage(stderr);
            set_log_level(level);
        } else return usage(stderr);
        ++i;
    }
    if (hash_user) return hash_password(hash_user, uint32_t(hash_iterations));
    char http_buf[80], https_buf[80];
    http_addr = on_bind(http_addr, bind, http_buf);
    https_addr = on_bind(https_addr, bind, https_buf);
    // Made before the Executor, so a password check still running on a worker
    // at exit never reads a destroyed Auth.
    Auth auth({.realm = "statusd"});
    bool protect = auth_tokens || auth_users;
    if (!auth.status()) {
        std::fprintf(stderr, "statusd: auth: %s\n", auth.status().error().message);
        return 1;
    }
    if (protect && !load_auth(auth, auth_tokens, auth_users)) return 2;

    Loop loop(limits);
    if (!loop.status()) {
        std::fprintf(stderr, "statusd: %s\n", loop.status().error().message);
        return 1;
    }
    Executor executor(loop);
    Cache cache(limits);  // before the Router: its routes keep a pointer
    if (!cache.status()) {
        std::fprintf(stderr, "statusd: cache: %s\n", cache.status().error().message);
        return 1;
    }
    ctx.cache = &cache;
    // The live status feed for /ws/status and /events (before the Router: its routes keep a pointer).
    Hub hub({.backlog = 8, .spare_slots = 4, .max_message = kStatusJsonBufferSize});
    LiveContext live;
    live.status = &ctx;
    live.hub = &hub;
    live.web = &statusd_web;
    live.sse_heartbeat = sse_heartbeat;
    Router app;
    if (auto added = add_statusd_routes(app, ctx); !added) {
        std::fprintf(stderr, "statusd: routes: %s\n", added.error().message);
        return 1;
    }
    if (auto added = add_live_routes(app, live); !added) {
        std::fprintf(stderr, "statusd: live routes: %s\n", added.error().message);
        return 1;
    }
    // Made before the Server, so it outlives every handler that uses it.
    std::optional<http::Client> upstream_client;
    if (upstream.count > 0) {
        upstream_client.emplace(loop);
        if (!upstream_client->status()) {
            std::fprintf(stderr, "statusd: upstream client: %s\n", upstream_client->status().error().message);
            return 1;
        }
        upstream.client = &*upstream_client;
    }
    if (auto added = add_upstream_route(app, upstream); !added) {
        std::fprintf(stderr, "statusd: routes: %s\n", added.error().message);
        return 1;
    }
    // Last, once every route exists: /hello stays open as a liveness probe.
    if (protect) app.protect(auth, {"/hello"});

    if (!http_addr && !https_addr) {
        std::fprintf(stderr, "statusd: nothing to serve: --http off and no --https\n");
        return 2;
    }
    TlsServerConfig tls;
    if (https_addr) {
        if (auto r = load_tls(tls, https_addr, cert, key, state_dir); !r) {
            std::fprintf(stderr, "statusd: --https: %s\n", r.error().message);
            return 1;
        }
    }
    http::ServerOptions options;
    options.http = http_addr;
    options.https = https_addr;
    options.tls = https_addr ? &tls : nullptr;
    options.handshake_timeout = std::chrono::milliseconds(handshake_ms);
    options.websocket_max_message = ws_max_message;
    http::Server server(loop, app, options);
    if (!server.status()) {
        std::fprintf(stderr, "statusd: cannot serve: %s\n", server.status().error().message);
        return 1;
    }
    ctx.server = &server;
    (void)publish_status(live);
    auto feed = loop.every(std::chrono::seconds(1), [&live] { (void)publish_status(live); });
    if (!feed) {
        std::fprintf(stderr, "statusd: cannot start the status feed: %s\n", feed.error().message);
        return 1;
    }
    loop.on_stop_signal([&] { server.shutdown([&] { loop.stop(); }); });
    // The port line is what scripts and tests wait for (port 0 picks one).
    if (https_addr)
        std::printf("statusd listening on port %u, https port %u\n", unsigned(server.port()),
                    unsigned(server.tls_port()));
    else
        std::printf("statusd listening on port %u\n", unsigned(server.port()));
    std::fflush(stdout);
    if (http_addr) log_info("statusd: http://%s/", http_addr);
    if (https_addr) log_info("statusd: https://%s/", https_addr);
    log_info("statusd: poller %s, %u connections", loop.poller_name(), unsigned(loop.limits().max_connections));
    if (protect)
        log_info("statusd: every route but /hello needs %s%s%s", auth_tokens ? "a Bearer token" : "",
                 auth_tokens && auth_users ? " or " : "", auth_users ? "a Basic password" : "");
    else if (!loopback(http_addr) || !loopback(https_addr))
        log_warn("statusd: reachable from other hosts without --auth-token-file or --auth-basic-file: "
                 "anyone who reaches it can read and upload");
    return loop.run();
}
