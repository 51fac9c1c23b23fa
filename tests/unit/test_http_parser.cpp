// RequestHead-head parser tests: one table row per case, each fed whole, split at
// every byte boundary, and byte by byte (in a growing buffer and in a buffer
// that moves every call), always with the input's last byte right before a
// PROT_NONE page so any over-read faults at once. Fed whole, a head takes the
// parser's one-pass path (its unbounded loops when the bytes end in LF, its
// bounded ones when a body follows); every split hands a truncated head to
// that path first and the rest to the byte-by-byte one, so each row checks
// the two against each other at every byte.
#include <doctest/doctest.h>
#include <gust/http_parser.hpp>

#include "guarded.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

using namespace gust;
using namespace gust::http;

namespace {


struct Row {
    const char* name;
    std::string in;
    uint16_t status = 0;  // 0: a complete head is expected
    size_t consumed = 0;  // 0: the whole input
    Method method = Method::get;
    std::string path = "/";
    std::string query = "";
    Version version = Version::http11;
    Framing framing = Framing::none;
    uint64_t length = 0;
    bool keep_alive = true;
    std::string host = "h";
    size_t nheaders = 1;
    size_t cap = 8;
    size_t max_target = 64;
    size_t max_head = 512;
};

const char* kGet = "GET / HTTP/1.1\r\nHost: h\r\n";

// Every field of a parsed request, as text, so two parses compare in one CHECK.
std::string describe(const RequestHead& r) {
    std::string s;
    auto add = [&](const char* k, std::string_view v) { s += k; s += '='; s += v; s += '|'; };
    add("method", r.method_name);
    s += std::to_string(int(r.method)) + "|";
    add("target", r.target);
    add("path", r.path);
    add("query", r.query);
    add("host", r.host);
    add("upgrade", r.upgrade);
    s += std::to_string(int(r.form)) + std::to_string(int(r.version)) + std::to_string(int(r.framing)) + "|";
    s += std::to_string(r.content_length) + "|" + std::to_string(r.keep_alive) + std::to_string(r.expect_continue) +
         std::to_string(r.connection_close) + std::to_string(r.connection_upgrade) + "|";
    for (const Header& h : r.headers) add(std::string(h.name).c_str(), h.value);
    return s;
}

bool inside(std::string_view v, std::string_view buf) {
    return v.empty() || (v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size());
}

// The outcome of a parse in comparable form: "ok <consumed> <fields>" or "fail <status>".
std::string outcome(const ParseResult& res, const RequestHead& r, std::string_view buf) {
    if (res.failed()) {
        Errc want = res.status == 400 ? Errc::protocol : res.status >= 500 ? Errc::not_supported : Errc::too_large;
        CHECK(res.error.code == want);
        return "fail " + std::to_string(res.status);
    }
    if (res.incomplete()) return "incomplete";
    for (std::string_view v : {r.method_name, r.target, r.query, r.host, r.upgrade}) CHECK(inside(v, buf));
    for (const Header& h : r.headers) CHECK((inside(h.name, buf) && inside(h.value, buf)));
    return "ok " + std::to_string(res.consumed) + " " + describe(r);
}

std::string parse_whole(const Row& row, std::string_view buf) {
    std::vector<Header> hs(row.cap);
    RequestHead r;
    RequestParser p({row.max_target, row.max_head});
    return outcome(p.parse(buf, r, hs), r, buf);
}

void run_row(const Row& row) {
    INFO(row.name);
    gust_test::Guarded ga(row.in.size() + 1), gb(row.in.size() + 1);
    std::string_view whole = ga.place_view(row.in);
    std::string expect = parse_whole(row, whole);
    ParserLimits lim{row.max_target, row.max_head};

    // Every split into two calls: the first part against the guard, then the whole input moved.
    for (size_t k = 1; k < row.in.size(); ++k) {
        std::vector<Header> hs(row.cap);
        RequestHead r;
        RequestParser p(lim);
        std::string_view part = gb.place_view(std::string_view(row.in).substr(0, k));
        ParseResult first = p.parse(part, r, hs);
        std::string got = first.incomplete() ? outcome(p.parse(whole, r, hs), r, whole) : outcome(first, r, part);
        CHECK_MESSAGE(got == expect, "split at ", k);
        if (got != expect) break;
    }
    // Byte by byte in one growing buffer, and byte by byte with the buffer moving every call.
    for (int moving = 0; moving < 2; ++moving) {
        std::vector<Header> hs(row.cap);
        RequestHead r;
        RequestParser p(lim);
        std::string got;
        for (size_t k = 1; k <= row.in.size(); ++k) {
            std::string_view buf = moving ? gb.place_view(std::string_view(row.in).substr(0, k)) : whole.substr(0, k);
            got = outcome(p.parse(buf, r, hs), r, buf);
            if (got != "incomplete") break;
        }
        CHECK_MESSAGE(got == expect, "byte by byte, moving=", moving);
    }

    if (row.status) {
        CHECK(expect == "fail " + std::to_string(row.status));
        return;
    }
    std::vector<Header> hs(row.cap);
    RequestHead r;
    RequestParser p(lim);
    ParseResult res = p.parse(whole, r, hs);
    REQUIRE(res.complete());
    CHECK(res.consumed == (row.consumed ? row.consumed : row.in.size()));
    CHECK(r.method == row.method);
    CHECK(r.path == row.path);
    CHECK(r.query == row.query);
    CHECK(r.version == row.version);
    CHECK(r.framing == row.framing);
    CHECK(r.content_length == row.length);
    CHECK(r.keep_alive == row.keep_alive);
    CHECK(r.host == row.host);
    CHECK(r.headers.size() == row.nheaders);
}

std::string get_with(const std::string& fields) { return std::string(kGet) + fields + "\r\n"; }

std::string repeat(const char* s, int n) {
    std::string out;
    while (n-- > 0) out += s;
    return out;
}

}  // namespace

TEST_CASE("http parser: valid request heads") {
    const std::string big(480, 'a');
    const Row rows[] = {
        {.name = "simple", .in = get_with("")},
        {.name = "path and query", .in = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n", .path = "/a/b", .query = "x=1&y=2"},
        {.name = "empty query", .in = "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", .path = "/a"},
        {.name = "HTTP/1.0 closes", .in = "GET / HTTP/1.0\r\n\r\n", .version = Version::http10, .keep_alive = false, .host = "", .nheaders = 0},
        {.name = "HTTP/1.0 keep-alive", .in = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .version = Version::http10, .host = "", .nheaders = 1},
        {.name = "HTTP/1.1 close", .in = get_with("Connection: foo, close\r\n"), .keep_alive = false, .nheaders = 2},
        {.name = "leading empty lines", .in = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {.name = "content-length with body after", .in = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", .consumed = 48, .method = Method::post, .path = "/u", .framing = Framing::content_length, .length = 5, .nheaders = 2},
        {.name = "content-length list of equal values", .in = get_with("Content-Length: 5, 5\r\n"), .framing = Framing::content_length, .length = 5, .nheaders = 2},
        {.name = "content-length repeated equal", .in = get_with("Content-Length: 7\r\ncontent-length: 7\r\n"), .framing = Framing::content_length, .length = 7, .nheaders = 3},
        {.name = "content-length max", .in = get_with("Content-Length: 18446744073709551615\r\n"), .framing = Framing::content_length, .length = UINT64_MAX, .nheaders = 2},
        {.name = "chunked", .in = "PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nHost: h\r\n\r\n", .method = Method::put, .path = "/x", .framing = Framing::chunked, .nheaders = 2},
        {.name = "chunked with empty list elements", .in = get_with("Transfer-Encoding: ,chunked,\r\n"), .framing = Framing::chunked, .nheaders = 2},
        {.name = "OWS trimmed", .in = get_with("X:  \t v  a \t \r\nY:\r\nZ: \t\r\n"), .nheaders = 4},
        {.name = "obs-text in value", .in = get_with("X: caf\xc3\xa9\r\n"), .nheaders = 2},
        {.name = "HTTP/1.2 is 1.1", .in = "GET / HTTP/1.2\r\nHost: h\r\n\r\n"},
        {.name = "HEAD", .in = "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::head},
        {.name = "DELETE", .in = "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::delete_},
        {.name = "PATCH", .in = "PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::patch},
        {.name = "other method", .in = "PURGE / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::other},
        {.name = "methods are case-sensitive", .in = "get / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::other},
        {.name = "OPTIONS *", .in = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::options, .path = ""},
        {.name = "CONNECT authority", .in = "CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n", .method = Method::connect, .path = "", .host = "ex.com:443"},
        {.name = "absolute-form", .in = "GET http://ex.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n", .path = "/p", .query = "q", .host = "ex.com"},
        {.name = "absolute-form no path", .in = "GET https://ex.com:8443 HTTP/1.1\r\nHost: o\r\n\r\n", .host = "ex.com:8443"},
        {.name = "ipv6 host", .in = "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", .host = "[::1]:8080"},
        {.name = "empty host", .in = "GET / HTTP/1.1\r\nHost:\r\n\r\n", .host = ""},
        {.name = "token chars in name", .in = get_with("X-a_b!#$%&'*+.^`|~9: v\r\n"), .nheaders = 2},
        {.name = "pipelined", .in = std::string(kGet) + "\r\n" + kGet + "\r\n", .consumed = 27},
        {.name = "headers fill the array", .in = get_with("A: 1\r\nB: 2\r\n"), .nheaders = 3, .cap = 3},
        {.name = "target at the limit", .in = "GET /" + std::string(63, 'x') + " HTTP/1.1\r\nHost: h\r\n\r\n", .path = "/" + std::string(63, 'x')},
        {.name = "head at the limit", .in = get_with("X: " + big.substr(0, 512 - 27 - 5) + "\r\n"), .nheaders = 2},
        {.name = "Host in any case", .in = "GET / HTTP/1.1\r\nhOsT: h\r\n\r\n"},
        {.name = "Host with OWS around it", .in = "GET / HTTP/1.1\r\nHost: \t h \t\r\n\r\n"},
        {.name = "long Host", .in = "GET / HTTP/1.1\r\nHost: a-long.host-name.example.com:8080\r\n\r\n", .host = "a-long.host-name.example.com:8080"},
        {.name = "names as long as the framing ones", .in = get_with("Accept: a\r\nReferer: r\r\nUser-Agent: u\r\nSec-Fetch-Mode: m\r\nIf-Modified-Since: s\r\nHosts: x\r\nHast: x\r\nConnectiox: y\r\nContent-Lengthy: 1\r\n"), .nheaders = 10, .cap = 10},
        {.name = "Connection keep-alive with OWS", .in = "GET / HTTP/1.0\r\nConnection:  KEEP-alive \t\r\n\r\n", .version = Version::http10, .host = "", .nheaders = 1},
        {.name = "Connection close alone", .in = get_with("Connection: Close\r\n"), .keep_alive = false, .nheaders = 2},
        {.name = "long values a word at a time", .in = get_with("X: 0123456\t89abcdef\tx\x80\xff" "0123456789abcdef 0123456789 \t \r\nY: 0123456789abcdefg\r\n"), .nheaders = 3},
        {.name = "query with more question marks", .in = "GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n", .path = "/a", .query = "b?c"},
        {.name = "method that starts like GET", .in = "GETX / HTTP/1.1\r\nHost: h\r\n\r\n", .method = Method::other},
    };
    for (const Row& row : rows) run_row(row);
}

TEST_CASE("http parser: every rejection has its status") {
    const Row rows[] = {
        {.name = "CL with TE", .in = get_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), .status = 400},
        {.name = "differing CL list", .in = get_with("Content-Length: 5, 6\r\n"), .status = 400},
        {.name = "differing CL lines", .in = get_with("Content-Length: 5\r\nContent-Length: 6\r\n"), .status = 400},
        {.name = "non-numeric CL", .in = get_with("Content-Length: abc\r\n"), .status = 400},
        {.name = "signed CL", .in = get_with("Content-Length: +5\r\n"), .status = 400},
        {.name = "negative CL", .in = get_with("Content-Length: -1\r\n"), .status = 400},
        {.name = "empty CL", .in = get_with("Content-Length: \r\n"), .status = 400},
        {.name = "empty CL list element", .in = get_with("Content-Length: 5,,5\r\n"), .status = 400},
        {.name = "overflowing CL", .in = get_with("Content-Length: 18446744073709551616\r\n"), .status = 400},
        {.name = "TE final not chunked", .in = get_with("Transfer-Encoding: chunked, gzip\r\n"), .status = 400},
        {.name = "TE gzip only", .in = get_with("Transfer-Encoding: gzip\r\n"), .status = 400},
        {.name = "TE chunked twice", .in = get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), .status = 400},
        {.name = "TE empty", .in = get_with("Transfer-Encoding: \r\n"), .status = 400},
        {.name = "TE unknown", .in = get_with("Transfer-Encoding: foo, chunked\r\n"), .status = 501},
        {.name = "TE unknown alone", .in = get_with("Transfer-Encoding: identity\r\n"), .status = 501},
        {.name = "TE gzip then chunked", .in = get_with("Transfer-Encoding: gzip, chunked\r\n"), .status = 501},
        {.name = "TE in HTTP/1.0", .in = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .status = 400},
        {.name = "obs-fold", .in = get_with("X: a\r\n b\r\n"), .status = 400},
        {.name = "obs-fold tab", .in = get_with("X: a\r\n\tb\r\n"), .status = 400},
        {.name = "whitespace before first field", .in = "GET / HTTP/1.1\r\n Host: h\r\n\r\n", .status = 400},
        {.name = "space before colon", .in = get_with("X : a\r\n"), .status = 400},
        {.name = "tab before colon", .in = get_with("X\t: a\r\n"), .status = 400},
        {.name = "NUL in method", .in = std::string("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n", 27), .status = 400},
        {.name = "NUL in target", .in = std::string("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", 28), .status = 400},
        {.name = "NUL in name", .in = get_with(std::string("a\0b: c\r\n", 8)), .status = 400},
        {.name = "NUL in value", .in = get_with(std::string("ab: c\0d\r\n", 9)), .status = 400},
        {.name = "control char in value", .in = get_with("X: a\x01" "b\r\n"), .status = 400},
        {.name = "DEL in value", .in = get_with("X: a\x7f\r\n"), .status = 400},
        {.name = "DEL in target", .in = "GET /\x7fx HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "high byte in target", .in = "GET /\xa0 HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "fragment in target", .in = "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "tab in method", .in = "G\tT / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "bad token in method", .in = "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "bad token in name", .in = get_with("X@Y: a\r\n"), .status = 400},
        {.name = "empty field name", .in = get_with(":a\r\n"), .status = 400},
        {.name = "leading space", .in = " GET / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "double space", .in = "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "trailing space", .in = "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", .status = 400},
        {.name = "HTTP/0.9 line", .in = "GET /\r\n\r\n", .status = 400},
        {.name = "lowercase version", .in = "GET / http/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "two-digit minor", .in = "GET / HTTP/1.10\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "two-digit major", .in = "GET / HTTP/11.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "no minor", .in = "GET / HTTP/1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "target too long", .in = "GET /" + std::string(64, 'x') + " HTTP/1.1\r\nHost: h\r\n\r\n", .status = 414},
        {.name = "head too large", .in = get_with("X: " + std::string(512 - 27 - 4, 'a') + "\r\n"), .status = 431},
        {.name = "head too large, incomplete", .in = get_with("X: " + std::string(600, 'a')).substr(0, 520), .status = 431},
        {.name = "endless empty lines", .in = repeat("\r\n", 300), .status = 431},
        {.name = "too many fields", .in = get_with("A: 1\r\nB: 2\r\n"), .status = 431, .cap = 2},
        {.name = "HTTP/2.0", .in = "GET / HTTP/2.0\r\nHost: h\r\n\r\n", .status = 505},
        {.name = "HTTP/0.9 version", .in = "GET / HTTP/0.9\r\nHost: h\r\n\r\n", .status = 505},
        {.name = "h2 preface", .in = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .status = 505},
        {.name = "missing Host", .in = "GET / HTTP/1.1\r\nX: y\r\n\r\n", .status = 400},
        {.name = "two Hosts", .in = get_with("Host: h\r\n"), .status = 400},
        {.name = "two Hosts in HTTP/1.0", .in = "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", .status = 400},
        {.name = "bad Host", .in = "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .status = 400},
        {.name = "Host with path", .in = "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .status = 400},
        {.name = "bare LF line ends", .in = "GET / HTTP/1.1\nHost: h\n\n", .status = 400},
        {.name = "bare LF in fields", .in = "GET / HTTP/1.1\r\nHost: h\n\r\n", .status = 400},
        {.name = "bare LF at the end", .in = "GET / HTTP/1.1\r\nHost: h\r\n\n", .status = 400},
        {.name = "leading bare LF", .in = "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "bare CR", .in = "GET / HTTP/1.1\rHost: h\r\n\r\n", .status = 400},
        {.name = "asterisk for GET", .in = "GET * HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "asterisk with more", .in = "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "no form", .in = "GET ex.com HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "CONNECT origin-form", .in = "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "CONNECT without port", .in = "CONNECT ex.com HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "absolute-form userinfo", .in = "GET http://u@ex.com/ HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "absolute-form no authority", .in = "GET http:/x HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "CTL late in a long value", .in = get_with("X: 0123456789abcdef0123\x01" "456789\r\n"), .status = 400},
        {.name = "DEL late in a long value", .in = get_with("X: 0123456789abcdef0123\x7f" "456789\r\n"), .status = 400},
        {.name = "NUL late in a long value", .in = get_with(std::string("X: 0123456789abcdef0123\0" "456789\r\n", 31)), .status = 400},
        {.name = "bare LF after a long value", .in = get_with("X: 0123456789abcdef0123\nY: 1\r\n"), .status = 400},
        {.name = "bad Host character late", .in = "GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n", .status = 400},
        {.name = "bad Host before a good one", .in = "GET / HTTP/1.1\r\nHost: a b\r\nHost: h\r\n\r\n", .status = 400},
        {.name = "target too long in its query", .in = "GET /?" + std::string(63, 'x') + " HTTP/1.1\r\nHost: h\r\n\r\n", .status = 414},
        {.name = "head too large at a line end", .in = std::string(kGet) + "X: " + std::string(512 - 25 - 5, 'a') + "\r\nY: 1\r\n\r\n", .status = 431},
        {.name = "CONNECT with an origin-form target", .in = "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400},
    };
    for (const Row& row : rows) run_row(row);
}

TEST_CASE("http parser: header lookup, body limit, repeat and reset") {
    std::string in = "POST /p HTTP/1.1\r\nhost: h\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
                     "Connection: Upgrade\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    gust_test::Guarded g(in.size());
    std::string_view buf = g.place_view(in);
    Header hs[8];
    RequestHead r;
    RequestParser p;
    ParseResult res = p.parse(buf, r, hs);
    REQUIRE(res.complete());
    CHECK(r.header("content-type") == "text/plain");
    CHECK(r.header("CONTENT-TYPE") == "text/plain");
    CHECK(r.has_header("Host"));
    CHECK(!r.has_header("Cookie"));
    CHECK(r.header("Cookie").data() == nullptr);
    CHECK(find_header(r.headers, "upgrade") == "websocket");
    CHECK(r.connection_upgrade);
    CHECK(r.upgrade == "websocket");
    CHECK(r.expect_continue);
    CHECK(check_body_limit(r, 100) == 0);
    CHECK(check_body_limit(r, 99) == 413);
    CHECK(p.parse(buf, r, hs).consumed == res.consumed);  // done until reset()

    p.reset();
    RequestHead r2;
    ParseResult res2 = p.parse(buf.substr(res.consumed), r2, hs);
    REQUIRE(res2.complete());
    CHECK(r2.version == Version::http10);
    CHECK(!r2.keep_alive);
    CHECK(res.consumed + res2.consumed == in.size());

    // Expect: 100-continue means nothing in HTTP/1.0.
    RequestParser p3;
    RequestHead r3;
    REQUIRE(p3.parse("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", r3, hs).complete());
    CHECK(!r3.expect_continue);
    RequestParser p4;
    RequestHead r4;
    REQUIRE(p4.parse("GET / HTTP/1.1\r\nHost:h \r\nX:  \t v  a \t \r\nY: \t\r\n\r\n", r4, hs).complete());
    CHECK(r4.host == "h");
    CHECK(r4.header("x") == "v  a");
    CHECK(r4.header("y") == "");
    CHECK(r4.header("y").data() != nullptr);
    CHECK(method_from("OPTIONS") == Method::options);
    CHECK(method_from("TRACE") == Method::trace);
    CHECK(iequals("Keep-Alive", "keep-alive"));
    CHECK(!iequals("Keep-Alive", "keep-alivf"));
}

TEST_CASE("http parser: a new header array restarts the parse cleanly") {
    std::string in = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
    Header a[4], b[4];
    RequestHead r;
    RequestParser p;
    CHECK(p.parse(std::string_view(in).substr(0, 30), r, a).incomplete());
    ParseResult res = p.parse(in, r, b);
    REQUIRE(res.complete());
    CHECK(r.headers.data() == b);
    CHECK(r.headers.size() == 2);
    CHECK(r.header("a") == "1");
}

TEST_CASE("http parser: a call with no bytes, and no room for any") {
    Header hs[4];
    RequestHead r;
    RequestParser p;
    // The server asks once before its first read.
    CHECK(p.parse(std::string_view(), r, hs).incomplete());
    CHECK(p.parse("", r, hs).incomplete());
    REQUIRE(p.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", r, hs).complete());
    CHECK(r.host == "h");

    RequestParser none({64, 0});
    ParseResult res = none.parse("", r, hs);
    CHECK(res.failed());
    CHECK(res.status == 431);
    RequestParser none2({64, 0});
    CHECK(none2.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", r, hs).status == 431);
}

TEST_CASE("http parser: a reused head gets every field, a rejected head none") {
    const std::string first = "POST http://ex.com/p?q HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n"
                              "Connection: Upgrade, close\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\n";
    const std::string second = "GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n";
    Header hs[8];
    RequestHead r;
    RequestParser p;
    REQUIRE(p.parse(first, r, hs).complete());
    CHECK(r.form == TargetForm::absolute);
    CHECK(r.framing == Framing::chunked);
    CHECK(r.connection_upgrade);
    CHECK(r.expect_continue);
    CHECK(!r.upgrade.empty());

    // The same head object again, for a request that takes the short finish.
    p.reset();
    REQUIRE(p.parse(second, r, hs).complete());
    Header fresh_hs[8];
    RequestHead fresh;
    RequestParser p2;
    REQUIRE(p2.parse(second, fresh, fresh_hs).complete());
    CHECK(describe(r) == describe(fresh));
    CHECK(r.form == TargetForm::origin);
    CHECK(r.query.data() == nullptr);
    CHECK(r.upgrade.data() == nullptr);
    CHECK(r.framing == Framing::none);
    CHECK(r.content_length == 0);
    CHECK(!r.expect_continue);
    CHECK(!r.connection_upgrade);
    CHECK(!r.connection_close);

    // A rejected head leaves what the caller had (its own array of fields
    // here: the parser fills the array as it goes).
    const std::string before = describe(r);
    for (const char* bad : {"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
                            "HEAD / HTTP/1.1\r\nHost: a b\r\n\r\n", "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n"}) {
        Header scratch[8];
        p.reset();
        CHECK(p.parse(bad, r, scratch).failed());
        CHECK(describe(r) == before);
    }
}
