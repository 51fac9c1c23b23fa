// The response-head parser: table rows, each parsed whole against a guard
// page, at every truncation point (never complete early), and fed one byte at
// a time to one parser over a buffer that moves between calls.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <gust/http_parser.hpp>

#include "guarded.hpp"

using namespace gust;
using namespace gust::http;

namespace {

struct Row {
    const char* text;
    bool complete;        // else failed
    Errc code = Errc::ok;  // when failed
    uint16_t status = 0;
    Framing framing = Framing::none;
    uint64_t length = 0;
    bool keep_alive = false;
    bool head = false;    // the request was HEAD
};

const Row kRows[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, Errc::ok, 200, Framing::content_length, 5, true},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, Errc::ok, 200, Framing::chunked, 0, true},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n", true, Errc::ok, 200,
     Framing::chunked, 0, false},
    {"HTTP/1.1 200 OK\r\n\r\n", true, Errc::ok, 200, Framing::until_close, 0, false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", true, Errc::ok, 200, Framing::content_length, 3, false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n", true, Errc::ok, 200,
     Framing::content_length, 3, true},
    {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", true, Errc::ok, 204, Framing::none, 0, true},
    {"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", true, Errc::ok, 304, Framing::none, 0, true},
    {"HTTP/1.1 100 Continue\r\n\r\n", true, Errc::ok, 100, Framing::none, 0, true},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, Errc::ok, 200, Framing::none, 0, true, true},
    {"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", true, Errc::ok, 404, Framing::content_length, 0, true},
    {"HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n", true, Errc::ok, 500, Framing::content_length, 0, true},
    {"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\ncontent-length: 7\r\n\r\n", true, Errc::ok, 200,
     Framing::content_length, 7, true},
    {"HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nX-Obs: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", true, Errc::ok, 200,
     Framing::content_length, 0, true},
    {"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", true, Errc::ok, 200, Framing::content_length, 0, true},
    // Rejected.
    {"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 2000 OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 20 OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 099 OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 600 Nope\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1  200 OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1\r\n\r\n", false, Errc::protocol},
    {"HTTP/11 200 OK\r\n\r\n", false, Errc::protocol},
    {"http/1.1 200 OK\r\n\r\n", false, Errc::protocol},
    {"ICY 200 OK\r\n\r\n", false, Errc::protocol},
    {"HTTP/2.0 200 OK\r\n\r\n", false, Errc::not_supported},
    {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\n: x\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, Errc::protocol},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, Errc::not_supported},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, Errc::not_supported},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", false, Errc::not_supported},
};

constexpr size_t kHeaders = 8;

ParseResult parse_once(std::string_view in, ResponseHead& h, Header (&hs)[kHeaders], bool head, size_t max = 8192) {
    ResponseParser p(max, head);
    return p.parse(in, h, hs);
}

}  // namespace

TEST_CASE("response parser: table rows whole, at every truncation point, and byte by byte") {
    gust_test::Guarded g(8192);
    for (const Row& row : kRows) {
        std::string_view text = row.text;
        CAPTURE(text);
        ResponseHead h;
        Header hs[kHeaders];
        ParseResult r = parse_once(g.place_view(text), h, hs, row.head);
        if (row.complete) {
            REQUIRE(r.complete());
            CHECK(r.consumed == text.size());
            CHECK(h.status == row.status);
            CHECK(h.framing == row.framing);
            CHECK(h.content_length == row.length);
            CHECK(h.keep_alive == row.keep_alive);
        } else {
            REQUIRE(r.failed());
            CHECK(r.error.code == row.code);
        }
        // No prefix completes, and none fails when the whole succeeds.
        for (size_t n = 0; n < text.size(); ++n) {
            ResponseHead hp;
            Header hsp[kHeaders];
            ParseResult rp = parse_once(g.place_view(text.substr(0, n)), hp, hsp, row.head);
            CHECK_FALSE(rp.complete());
            if (row.complete) CHECK(rp.incomplete());
        }
        // One parser, one more byte per call, in a buffer that moves each time.
        ResponseParser p(8192, row.head);
        ResponseHead hb;
        Header hsb[kHeaders];
        ParseResult rb;
        std::vector<std::string> copies;
        for (size_t n = 1; n <= text.size(); ++n) {
            copies.emplace_back(text.substr(0, n));
            rb = p.parse(copies.back(), hb, hsb);
            if (!rb.incomplete()) break;
        }
        CHECK(rb.progress == r.progress);
        if (row.complete) {
            r = parse_once(g.place_view(text), h, hs, row.head);  // the prefixes overwrote the guarded copy
            CHECK(hb.status == h.status);
            CHECK(hb.framing == h.framing);
            CHECK(hb.headers.size() == h.headers.size());
            for (size_t i = 0; i < h.headers.size(); ++i) {
                CHECK(hb.headers[i].name == h.headers[i].name);
                CHECK(hb.headers[i].value == h.headers[i].value);
                // The views point into the last (live) copy.
                CHECK(hb.headers[i].name.data() >= copies.back().data());
                CHECK(hb.headers[i].name.data() < copies.back().data() + copies.back().size());
            }
            CHECK(hb.reason == h.reason);
        }
    }
}

TEST_CASE("response parser: views, reason and header lookup") {
    gust_test::Guarded g;
    ResponseHead h;
    Header hs[kHeaders];
    auto in = g.place_view("HTTP/1.1 301 Moved Permanently\r\nLocation:  /new  \r\nX-Empty:\r\n\r\nBODY");
    ParseResult r = parse_once(in, h, hs, false);
    REQUIRE(r.complete());
    CHECK(r.consumed == in.size() - 4);
    CHECK(h.reason == "Moved Permanently");
    CHECK(h.header("location") == "/new");
    CHECK(h.header("x-empty").empty());
    CHECK(h.header("x-empty").data() != nullptr);
    CHECK(h.header("missing").data() == nullptr);
    CHECK(h.version == Version::http11);
}

TEST_CASE("response parser: head size and header count limits") {
    ResponseHead h;
    Header hs[kHeaders];
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (size_t i = 0; i <= kHeaders; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    many += "\r\n";
    ParseResult r = parse_once(many, h, hs, false);
    REQUIRE(r.failed());
    CHECK(r.error.code == Errc::too_large);

    std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200, 'x') + "\r\n\r\n";
    r = parse_once(big, h, hs, false, 100);
    REQUIRE(r.failed());
    CHECK(r.error.code == Errc::too_large);
    // A head that never ends is refused once max_head bytes have come.
    r = parse_once(std::string(100, 'x'), h, hs, false, 100);
    CHECK(r.failed());
    r = parse_once(big, h, hs, false, big.size());
    CHECK(r.complete());
}
