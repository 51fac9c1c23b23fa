// make bench-parser: what the server pays, per keep-alive request, to parse a
// request head (reset, a fresh RequestHead, one parse() of a head that arrived
// whole), counted by callgrind over N repetitions so the figure holds no
// timing noise.
//
//   parser_cost KIND [N]    KIND: bench, wrk, curl or browser; N: 10000
//
// The Makefile runs it under `valgrind --tool=callgrind
// --toggle-collect=parse_requests` and divides the instructions by N.
#include <gust/http.hpp>
#include <gust/http_parser.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

using namespace gust::http;

namespace {

struct Kind {
    const char* name;
    std::string_view head;
};

// What each client sends for GET /hello: make bench's own request, wrk's,
// curl 7.88's, and a browser's navigation (Chromium's header set, 10 fields).
constexpr Kind kKinds[] = {
    {"bench", "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
    {"wrk", "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
    {"curl", "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"},
    {"browser",
     "GET /hello HTTP/1.1\r\n"
     "Host: 127.0.0.1:8080\r\n"
     "Connection: keep-alive\r\n"
     "Cache-Control: max-age=0\r\n"
     "Upgrade-Insecure-Requests: 1\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
     "Sec-Fetch-Site: none\r\n"
     "Sec-Fetch-Mode: navigate\r\n"
     "Accept-Encoding: gzip, deflate, br\r\n"
     "Accept-Language: en-GB,en;q=0.9\r\n"
     "\r\n"},
};

}  // namespace

// The counted region (callgrind --toggle-collect): the server's per-request
// parser work, from reset() to the parsed head. extern "C" so the name to
// toggle on is plain; noinline so it stays one function to count.
extern "C" __attribute__((noinline)) size_t parse_requests(RequestParser& parser, std::string_view head, long n,
                                                           Header* headers) {
    size_t consumed = 0;
    for (long i = 0; i < n; ++i) {
        parser.reset();
        RequestHead out;
        ParseResult r = parser.parse(head, out, std::span<Header>(headers, GUST_HTTP_MAX_HEADERS));
        if (!r.complete() || out.method != Method::get) std::abort();
        consumed += r.consumed;
        // The server reads the head next; keep the compiler from dropping it.
        asm volatile("" : : "r"(out.path.data()), "r"(out.host.data()) : "memory");
    }
    return consumed;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: parser_cost bench|wrk|curl|browser [N]\n");
        return 2;
    }
    long n = argc > 2 ? std::atol(argv[2]) : 10000;
    for (const Kind& k : kKinds) {
        if (std::strcmp(k.name, argv[1]) != 0) continue;
        // The head in a buffer of its own, as it would sit in a connection's input buffer.
        static char buf[1024];
        std::memcpy(buf, k.head.data(), k.head.size());
        static Header headers[GUST_HTTP_MAX_HEADERS];
        RequestParser parser;
        size_t consumed = parse_requests(parser, std::string_view(buf, k.head.size()), n, headers);
        std::printf("%s: %zu bytes, %ld parses\n", k.name, consumed / size_t(n), n);
        return 0;
    }
    std::fprintf(stderr, "parser_cost: unknown kind %s\n", argv[1]);
    return 2;
}
