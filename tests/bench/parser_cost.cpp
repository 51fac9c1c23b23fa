// make bench-parser: what the parser costs the server per keep-alive request,
// counted by callgrind over N requests so the figure holds no timing noise.
// Each request is what serve() does: reset(), a fresh RequestHead, and one
// parse() of the head that the first read brought, whole.
//
//   parser_cost KIND [N]    KIND: bench, wrk, curl, browser or post; N: 10000
//
// The Makefile runs it under callgrind counting only inside
// RequestParser::parse and ::reset, and divides by N.
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
    // curl's POST of a small JSON body, which arrives with its head.
    {"post",
     "POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
     "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"a\": \"hello\"}"},
};

size_t parse_requests(RequestParser& parser, std::string_view head, long n, Header* headers) {
    size_t consumed = 0;
    for (long i = 0; i < n; ++i) {
        // As the server does: reset, then a parse of the head the read brought
        // (serve() does not parse an empty buffer).
        parser.reset();
        RequestHead out;
        std::span<Header> array(headers, GUST_HTTP_MAX_HEADERS);
        ParseResult r = parser.parse(head, out, array);
        if (!r.complete() || out.headers.empty()) std::abort();
        consumed += r.consumed;
        // The server reads the head next; keep the compiler from dropping it.
        asm volatile("" : : "r"(out.path.data()), "r"(out.host.data()) : "memory");
    }
    return consumed;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: parser_cost bench|wrk|curl|browser|post [N]\n");
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
