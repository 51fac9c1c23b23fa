// wscat: a WebSocket client on the command line, on gust's WebSocket client.
//
//   wscat ws://127.0.0.1:8080/ws/echo --send hello --send world --count 2
//   wscat wss://device.local:8443/ws/status --cacert state/cert.pem --count 3
//
// Sends each --send as a text message (--binary: binary), prints every
// message received on its own line (binary ones as hex), stops after --count
// messages (default: as many as were sent) or when the server closes, then
// closes with 1000. Exit status: 0, 1 on a connection or protocol error.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gust/client.hpp>
#include <gust/gust.hpp>

using namespace gust;

namespace {

constexpr int kMaxSends = 32;

struct Args {
    const char* url = nullptr;
    const char* sends[kMaxSends] = {};
    int nsend = 0;
    long count = -1;
    bool binary = false;
    const char* subprotocols = nullptr;
    const char* origin = nullptr;
    const char* cacert = nullptr;
    bool insecure = false;
    long timeout_ms = 10000;
};

int usage(FILE* to) {
    std::fprintf(to,
                 "usage: wscat URL [--send TEXT]... [--binary] [--count N] [--subprotocol LIST] [--origin O]\n"
                 "             [--cacert FILE | --insecure] [--timeout-ms N]\n"
                 "  URL              ws://host[:port]/path or wss://...\n"
                 "  --send TEXT      a message to send (repeatable, in order)\n"
                 "  --binary         send them as binary messages\n"
                 "  --count N        messages to receive before closing (default: one per --send)\n"
                 "  --subprotocol L  offered subprotocols, comma-separated\n"
                 "  --origin O       an Origin header\n"
                 "  --cacert FILE    trust this PEM bundle for wss:// (default: the system's)\n"
                 "  --insecure       do not verify the server's certificate\n"
                 "  --timeout-ms N   connect and per-message timeout (default 10000)\n");
    return to == stdout ? 0 : 2;
}

Task<int> run(http::Client& client, const Args& a) {
    WebSocketClient link(client);
    http::Header extra[1];
    size_t nextra = 0;
    if (a.origin) extra[nextra++] = {"Origin", a.origin};
    WebSocketConnectOptions o;
    o.subprotocols = a.subprotocols ? a.subprotocols : "";
    o.headers = std::span<const http::Header>(extra, nextra);
    o.connect_timeout = std::chrono::milliseconds(a.timeout_ms);
    o.io_timeout = std::chrono::milliseconds(a.timeout_ms);
    auto c = co_await link.connect(a.url, o);
    if (!c) {
        std::fprintf(stderr, "wscat: %s (status %u)\n", c.error().message, unsigned(link.status()));
        co_return 1;
    }
    WebSocket& ws = link.socket();
    if (!ws.subprotocol().empty())
        std::fprintf(stderr, "wscat: subprotocol %.*s\n", int(ws.subprotocol().size()), ws.subprotocol().data());
    for (int i = 0; i < a.nsend; ++i) {
        std::string_view m(a.sends[i]);
        auto r = a.binary ? co_await ws.send_binary({reinterpret_cast<const uint8_t*>(m.data()), m.size()})
                          : co_await ws.send_text(m);
        if (!r) {
            std::fprintf(stderr, "wscat: send failed: %s\n", r.error().message);
            co_return 1;
        }
    }
    long want = a.count >= 0 ? a.count : a.nsend;
    int status = 0;
    for (long got = 0; got < want;) {
        auto m = co_await with_timeout(std::chrono::milliseconds(a.timeout_ms), ws.receive());
        if (!m) {
            std::fprintf(stderr, "wscat: %s\n", m.error().message);
            status = 1;
            break;
        }
        if (m->is_close()) {
            std::fprintf(stderr, "wscat: closed by the server with %u\n", unsigned(m->close_code));
            break;
        }
        if (m->is_text()) {
            std::fwrite(m->data.data(), 1, m->data.size(), stdout);
        } else {
            for (uint8_t b : m->data) std::printf("%02x", b);
        }
        std::printf("\n");
        std::fflush(stdout);
        ++got;
    }
    co_await link.close(ws::close_code::normal);
    co_return status;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const char* s = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (std::strcmp(s, "--help") == 0) return usage(stdout);
        if (std::strcmp(s, "--binary") == 0) a.binary = true;
        else if (std::strcmp(s, "--insecure") == 0) a.insecure = true;
        else if (s[0] != '-' && !a.url) a.url = s;
        else if (!v) return usage(stderr);
        else {
            if (std::strcmp(s, "--send") == 0 && a.nsend < kMaxSends) a.sends[a.nsend++] = v;
            else if (std::strcmp(s, "--count") == 0) a.count = std::strtol(v, nullptr, 10);
            else if (std::strcmp(s, "--subprotocol") == 0) a.subprotocols = v;
            else if (std::strcmp(s, "--origin") == 0) a.origin = v;
            else if (std::strcmp(s, "--cacert") == 0) a.cacert = v;
            else if (std::strcmp(s, "--timeout-ms") == 0) a.timeout_ms = std::strtol(v, nullptr, 10);
            else return usage(stderr);
            ++i;
        }
    }
    if (!a.url || a.timeout_ms <= 0) return usage(stderr);
    Limits limits;
    limits.max_connections = 4;
    Loop loop(limits);
    if (!loop.status()) {
        std::fprintf(stderr, "wscat: %s\n", loop.status().error().message);
        return 1;
    }
    http::ClientOptions co;
    co.max_connections = 2;
    co.tls.ca_file = a.cacert;
    co.tls.insecure = a.insecure;
    http::Client client(loop, co);
    if (!client.status()) {
        std::fprintf(stderr, "wscat: %s\n", client.status().error().message);
        return 1;
    }
    int status = 1;
    auto started = run(client, a).then([&](Result<int> r) {
        status = r ? *r : 1;
        loop.stop();
    });
    if (!started) return 1;
    loop.run();
    return status;
}
