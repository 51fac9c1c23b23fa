// fetch: a curl-like command line client on gust's async HTTP client.
//
//   fetch [-X METHOD] [-d DATA] [-H 'Name: value']... [-i] [--cacert FILE]
//         [--insecure] [--timeout-ms N] [--max-redirects N]
//         [--parallel] [--max-conns N] [--max-per-origin N] URL...
//
// Each URL's body goes to stdout (with -i, the status line and headers
// first, then a blank line). Several URLs are fetched one after the other
// over pooled keep-alive connections, or all at once with --parallel (each
// response then written whole when it completes, so it must fit the buffer).
// Exit status 0 when every URL got a complete HTTP response, whatever its
// status; 1 with one line on stderr per failure (transport, DNS, timeout,
// TLS verification, protocol); 2 for bad usage.
//
// stdout is written with plain blocking stdio: this is a command line tool,
// and a consumer slower than the network is allowed to hold it up.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <gust/client.hpp>
#include <gust/gust.hpp>

using namespace gust;

namespace {

constexpr int kMaxHeaders = 32;
constexpr int kMaxUrls = 4096;

struct Args {
    const char* method = nullptr;
    const char* data = nullptr;
    http::Header headers[kMaxHeaders];
    int header_count = 0;
    bool include = false;
    const char* cacert = nullptr;
    bool insecure = false;
    long timeout_ms = 60000;
    long max_redirects = 5;
    bool parallel = false;
    long max_conns = 0;
    long max_per_origin = 0;
    const char* urls[kMaxUrls];
    int url_count = 0;
};

int usage(FILE* to) {
    std::fprintf(to,
                 "usage: fetch [-X METHOD] [-d DATA] [-H 'Name: value']... [-i] [--cacert FILE] [--insecure]\n"
                 "             [--timeout-ms N] [--max-redirects N] [--parallel] [--max-conns N]\n"
                 "             [--max-per-origin N] URL...\n"
                 "  -X METHOD          request method (default GET, or POST with -d)\n"
                 "  -d DATA            request body\n"
                 "  -H 'Name: value'   extra request header (repeatable)\n"
                 "  -i                 write the status line and headers before the body\n"
                 "  --cacert FILE      trust the CA certificates in FILE (PEM) instead of the system store\n"
                 "  --insecure         do not verify the server's certificate\n"
                 "  --timeout-ms N     limit for each whole fetch, redirects included (default 60000)\n"
                 "  --max-redirects N  redirects to follow (default 5; 0 returns 3xx as they are)\n"
                 "  --parallel         fetch all URLs at once (pool caps and queue apply)\n"
                 "  --max-conns N      most open connections (default %u)\n"
                 "  --max-per-origin N most open connections to one scheme://host:port (default %u)\n",
                 unsigned(GUST_CLIENT_MAX_CONNECTIONS), unsigned(GUST_CLIENT_MAX_PER_ORIGIN));
    return to == stdout ? 0 : 2;
}

bool number(const char* text, long lo, long hi, long& out) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text, &end, 10);
    if (errno || !end || *end || end == text || v < lo || v > hi) return false;
    out = v;
    return true;
}

int parse_args(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        auto need = [&](const char* what) {
            if (!v) std::fprintf(stderr, "fetch: %s needs a value\n", what);
            return v != nullptr;
        };
        if (arg == "--help" || arg == "-h") return usage(stdout) - 1;  // -1: exit 0
        if (arg == "-i" || arg == "--include") a.include = true;
        else if (arg == "--insecure" || arg == "-k") a.insecure = true;
        else if (arg == "--parallel" || arg == "-Z") a.parallel = true;
        else if (arg == "-X" || arg == "--request") {
            if (!need("-X")) return 2;
            a.method = argv[++i];
        } else if (arg == "-d" || arg == "--data") {
            if (!need("-d")) return 2;
            a.data = argv[++i];
        } else if (arg == "-H" || arg == "--header") {
            if (!need("-H")) return 2;
            std::string_view h = argv[++i];
            size_t colon = h.find(':');
            if (colon == std::string_view::npos || colon == 0 || a.header_count == kMaxHeaders) {
                std::fprintf(stderr, "fetch: bad header '%s' (want 'Name: value', at most %d)\n", argv[i], kMaxHeaders);
                return 2;
            }
            std::string_view value = h.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            a.headers[a.header_count++] = http::Header{h.substr(0, colon), value};
        } else if (arg == "--cacert") {
            if (!need("--cacert")) return 2;
            a.cacert = argv[++i];
        } else if (arg == "--timeout-ms" || arg == "--max-redirects" || arg == "--max-conns" ||
                   arg == "--max-per-origin") {
            if (!need(argv[i])) return 2;
            long* out = arg == "--timeout-ms" ? &a.timeout_ms
                        : arg == "--max-redirects" ? &a.max_redirects
                        : arg == "--max-conns" ? &a.max_conns : &a.max_per_origin;
            long lo = arg == "--max-redirects" ? 0 : 1;
            if (!number(argv[++i], lo, arg == "--timeout-ms" ? 86400000L : 100000L, *out)) {
                std::fprintf(stderr, "fetch: bad number for %s: '%s'\n", argv[i - 1], argv[i]);
                return 2;
            }
        } else if (!arg.empty() && arg[0] == '-') {
            std::fprintf(stderr, "fetch: unknown option '%s'\n", argv[i]);
            return usage(stderr);
        } else {
            if (a.url_count == kMaxUrls) {
                std::fprintf(stderr, "fetch: at most %d URLs\n", kMaxUrls);
                return 2;
            }
            a.urls[a.url_count++] = argv[i];
        }
    }
    if (a.url_count == 0) return usage(stderr);
    return 0;
}

void write_out(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, stdout) != n) {
        std::fprintf(stderr, "fetch: cannot write to stdout: %s\n", std::strerror(errno));
        std::exit(1);
    }
}

void write_head(http::Version v, uint16_t status, std::string_view reason, std::span<const http::Header> headers) {
    std::fprintf(stdout, "HTTP/1.%d %03u %.*s\r\n", v == http::Version::http10 ? 0 : 1, unsigned(status),
                 int(reason.size()), reason.data());
    for (const http::Header& h : headers)
        std::fprintf(stdout, "%.*s: %.*s\r\n", int(h.name.size()), h.name.data(), int(h.value.size()), h.value.data());
    std::fputs("\r\n", stdout);
}

void report(const char* url, const Error& e) {
    std::fprintf(stderr, "fetch: %s: %s (%s)\n", url, e.message, errc_name(e.code));
}

http::FetchOptions request_options(const Args& a) {
    http::FetchOptions o;
    if (a.method) o.method_name = a.method;
    else if (a.data) o.method = http::Method::post;
    if (a.data) o.body = a.data;
    o.headers = std::span<const http::Header>(a.headers, size_t(a.header_count));
    o.request_timeout = std::chrono::milliseconds(a.timeout_ms);
    o.connect_timeout = std::min<Duration>(o.connect_timeout, o.request_timeout);
    o.max_redirects = int(a.max_redirects);
    return o;
}

// One URL after another; each body streams to stdout as it arrives.
Task<int> fetch_each(http::Client& client, const Args& a) {
    int failures = 0;
    for (int i = 0; i < a.url_count; ++i) {
        http::FetchOptions o = request_options(a);
        const bool include = a.include;
        o.on_head = [include](const http::ResponseHead& h) {
            if (include) write_head(h.version, h.status, h.reason, h.headers);
            return Result<void>();
        };
        o.on_chunk = [](std::span<const uint8_t> d) {
            write_out(d.data(), d.size());
            return Result<void>();
        };
        auto r = co_await client.fetch(a.urls[i], std::move(o));
        std::fflush(stdout);
        if (!r) {
            report(a.urls[i], r.error());
            ++failures;
        }
    }
    co_return failures;
}

}  // namespace

int main(int argc, char** argv) {
    static Args args;  // large (URL and header tables): not on the stack
    if (int rc = parse_args(argc, argv, args); rc != 0) return rc < 0 ? 0 : rc;
    if (const char* level = std::getenv("FETCH_LOG")) {
        LogLevel l;
        if (parse_log_level(level, &l)) set_log_level(l);
    } else {
        set_log_level(LogLevel::error);  // our own one-line messages say what went wrong
    }

    Loop loop;
    if (!loop.status()) {
        std::fprintf(stderr, "fetch: %s\n", loop.status().error().message);
        return 1;
    }
    http::ClientOptions co;
    if (args.max_conns) co.max_connections = uint32_t(args.max_conns);
    if (args.max_per_origin) co.max_per_origin = uint32_t(args.max_per_origin);
    co.queue = uint32_t(args.url_count);
    co.tls.ca_file = args.cacert;
    co.tls.insecure = args.insecure;
    http::Client client(loop, co);
    if (!client.status()) {
        std::fprintf(stderr, "fetch: %s\n", client.status().error().message);
        return 1;
    }

    int failures = 0, finished = 0;
    if (!args.parallel) {
        auto started = spawn(loop, fetch_each(client, args), [&](Result<int> r) {
            failures = r ? *r : args.url_count;
            if (!r) std::fprintf(stderr, "fetch: %s\n", r.error().message);
            finished = args.url_count;
            loop.stop();
        });
        if (!started) {
            std::fprintf(stderr, "fetch: %s\n", started.error().message);
            return 1;
        }
    } else {
        for (int i = 0; i < args.url_count; ++i) {
            const char* u = args.urls[i];
            auto started = client.fetch(u, request_options(args)).then([&, u](Result<http::ClientResponse> r) {
                if (r) {
                    if (args.include) write_head(r->version(), r->status(), r->reason(), r->headers());
                    write_out(r->body().data(), r->body().size());
                } else {
                    report(u, r.error());
                    ++failures;
                }
                if (++finished == args.url_count) loop.stop();
            });
            if (!started) {
                report(u, started.error());
                ++failures;
                if (++finished == args.url_count) loop.stop();
            }
        }
    }
    if (finished < args.url_count) loop.run();
    std::fflush(stdout);
    return failures ? 1 : 0;
}
