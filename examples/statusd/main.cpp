// statusd placeholder: starts the loop and answers every connection with a
// fixed "Hello, world!" until the HTTP server lands. Usage: statusd --http ADDR:PORT
#include <cstdio>
#include <cstring>

#include <gust/gust.hpp>

#include "port.hpp"

using namespace gust;

namespace {

const char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";

int usage() {
    std::fprintf(stderr, "usage: statusd --http ADDR:PORT\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const char* http = "127.0.0.1:8080";
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--http") == 0 && i + 1 < argc) http = argv[++i];
        else if (std::strcmp(argv[i], "--help") == 0) return usage(), 0;
        else return usage();
    }
    auto addr = port::parse_address(http);
    if (!addr) {
        std::fprintf(stderr, "statusd: bad --http address '%s': %s\n", http, addr.error().message);
        return 2;
    }
    Loop loop;
    if (!loop.status()) return 1;
    auto listener = port::tcp_listen(*addr, 128);
    if (!listener) {
        std::fprintf(stderr, "statusd: cannot listen on %s: %s\n", http, listener.error().message);
        return 1;
    }
    auto watch = loop.add_watch(*listener);
    if (!watch) return 1;
    (void)loop.on_readable(*watch, [fd = *listener] {
        for (;;) {
            auto c = port::tcp_accept(fd, nullptr);
            if (!c) return;
            (void)port::write(*c, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kResponse),
                                                           sizeof kResponse - 1));
            (void)port::shutdown_write(*c);
            port::close(*c);
        }
    });
    log_info("statusd (placeholder) listening on http://%s/ using %s", http, loop.poller_name());
    int rc = loop.run();
    loop.remove_watch(*watch);
    port::close(*listener);
    return rc;
}
