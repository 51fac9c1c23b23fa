// Chunked decoder tests: one table row per case, each decoded whole (zero-copy
// and in place), split at every byte boundary, byte by byte, and into tiny
// output spans, with every input ending right before a PROT_NONE page.
#include <doctest/doctest.h>
#include <gust/http_parser.hpp>

#include "guarded.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

using namespace gust;
using namespace gust::http;

namespace {


struct Row {
    const char* name;
    std::string in;
    std::string body = "";  // the decoded body when valid
    uint16_t status = 0;  // 0: valid
    size_t rest = 0;      // bytes after the body that must stay unconsumed
    ChunkedLimits limits = {};
};

// "ok <body> rest=<n>" or "fail <status>": the comparable outcome of a whole decoding.
std::string ok(const std::string& body, size_t rest) { return "ok " + body + " rest=" + std::to_string(rest); }
std::string failed(const ChunkResult& r) {
    Errc want = r.status == 400 ? Errc::protocol : Errc::too_large;
    CHECK(r.error.code == want);
    return "fail " + std::to_string(r.status);
}

// Zero-copy: next() over the input fed in pieces of `step` bytes (0 = all at once).
std::string by_next(const Row& row, size_t step) {
    gust_test::Guarded g(row.in.size() + 1);
    ChunkedDecoder d(row.limits);
    std::string body;
    size_t pos = 0;
    while (pos < row.in.size()) {
        size_t n = step ? std::min(step, row.in.size() - pos) : row.in.size() - pos;
        std::span<char> piece = g.place(std::string_view(row.in).substr(pos, n));
        std::string_view in(piece.data(), piece.size());
        while (!in.empty()) {
            ChunkResult r = d.next(in);
            if (r.failed()) return failed(r);
            CHECK(r.decoded == r.data.size());
            body += r.data;
            in.remove_prefix(r.consumed);
            pos += r.consumed;
            if (r.complete()) return ok(body, row.in.size() - pos);
            if (r.consumed == 0) return "stuck";
        }
    }
    return "incomplete " + body;
}

// In place, as a server would: each read is appended after the still-undecoded bytes.
std::string in_place(const Row& row, size_t split) {
    gust_test::Guarded g(row.in.size() + 1);
    ChunkedDecoder d(row.limits);
    std::string body, pending;
    size_t parts[2] = {split, row.in.size() - split};
    size_t pos = 0;
    for (size_t part : parts) {
        pending += row.in.substr(pos, part);
        pos += part;
        std::span<char> buf = g.place(pending);
        ChunkResult r = d.decode_in_place(buf);
        if (r.failed()) return failed(r);
        CHECK(r.decoded <= r.consumed);
        body.append(buf.data(), r.decoded);
        pending.erase(0, r.consumed);
        if (r.complete()) {
            CHECK(d.done());
            CHECK(d.total() == body.size());
            return ok(body, pending.size() + (row.in.size() - pos));
        }
        CHECK(pending.empty());
    }
    return "incomplete " + body;
}

// Into a caller's span of `room` bytes at a time.
std::string into_span(const Row& row, size_t room) {
    gust_test::Guarded g(row.in.size() + 1), o(room);
    ChunkedDecoder d(row.limits);
    std::span<char> in = g.place(row.in);
    std::span<char> out = o.place(std::string(room, '\0'));
    std::string body;
    size_t pos = 0;
    for (int guard = 0; guard < 100000; ++guard) {
        ChunkResult r = d.decode(std::string_view(in.data() + pos, in.size() - pos), out);
        if (r.failed()) return failed(r);
        body.append(out.data(), r.decoded);
        pos += r.consumed;
        if (r.complete()) return ok(body, row.in.size() - pos);
        if (pos == row.in.size()) break;
    }
    return "incomplete " + body;
}

void run_row(const Row& row) {
    INFO(row.name);
    std::string expect = row.status ? "fail " + std::to_string(row.status) : ok(row.body, row.rest);
    CHECK(by_next(row, 0) == expect);
    CHECK(by_next(row, 1) == expect);
    CHECK(by_next(row, 3) == expect);
    CHECK(into_span(row, 1) == expect);
    CHECK(into_span(row, 7) == expect);
    for (size_t k = 0; k <= row.in.size(); ++k) {
        std::string got = in_place(row, k);
        CHECK_MESSAGE(got == expect, "split at ", k);
        if (got != expect) break;
    }
}

}  // namespace

TEST_CASE("chunked: valid bodies, split anywhere") {
    const std::string big(4096, 'z');
    const Row rows[] = {
        {.name = "one chunk", .in = "5\r\nhello\r\n0\r\n\r\n", .body = "hello"},
        {.name = "two chunks", .in = "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", .body = "hello world"},
        {.name = "empty body", .in = "0\r\n\r\n", .body = ""},
        {.name = "hex sizes", .in = "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", .body = "0123456789abcdefghijk"},
        {.name = "leading zeros", .in = "0005\r\nhello\r\n000\r\n\r\n", .body = "hello"},
        {.name = "extensions", .in = "5;name=value\r\nhello\r\n0;last\r\n\r\n", .body = "hello"},
        {.name = "quoted extension", .in = "5;a=\"b; c\";d\r\nhello\r\n0\r\n\r\n", .body = "hello"},
        {.name = "whitespace before extension", .in = "5 \t;a = b\r\nhello\r\n0\r\n\r\n", .body = "hello"},
        {.name = "trailers", .in = "5\r\nhello\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", .body = "hello"},
        {.name = "bytes after the body stay", .in = "5\r\nhello\r\n0\r\n\r\nGET", .body = "hello", .rest = 3},
        {.name = "CRLF data", .in = "4\r\n\r\n\r\n\r\n0\r\n\r\n", .body = "\r\n\r\n"},
        {.name = "big chunk", .in = "1000\r\n" + big + "\r\n0\r\n\r\n", .body = big},
        {.name = "body at the limit", .in = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", .body = "helloworld", .limits = {.max_body = 10}},
        {.name = "trailer at the limit", .in = "0\r\nA: 1\r\n\r\n", .body = "", .limits = {.max_trailer = 8}},
    };
    for (const Row& row : rows) run_row(row);
}

TEST_CASE("chunked: every rejection has its status") {
    const Row rows[] = {
        {.name = "bad hex", .in = "z\r\nabc", .status = 400},
        {.name = "no size", .in = "\r\nabc", .status = 400},
        {.name = "negative size", .in = "-5\r\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "junk after size", .in = "5x\r\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "whitespace without extension", .in = "5 \r\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "0x prefix", .in = "0x5\r\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "size overflows", .in = "10000000000000000\r\n", .status = 400},
        {.name = "size overflows later", .in = "5\r\nhello\r\nfffffffffffffffff\r\n", .status = 400},
        {.name = "missing CRLF after data", .in = "5\r\nhelloX\r\n0\r\n\r\n", .status = 400},
        {.name = "LF only after data", .in = "5\r\nhello\n0\r\n\r\n", .status = 400},
        {.name = "bare LF after size", .in = "5\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "bare CR after size", .in = "5\rhello\r\n0\r\n\r\n", .status = 400},
        {.name = "control char in extension", .in = "5;a\x01\r\nhello\r\n0\r\n\r\n", .status = 400},
        {.name = "NUL in extension", .in = std::string("5;a\0\r\nhello\r\n0\r\n\r\n", 19), .status = 400},
        {.name = "size line too long", .in = "5;" + std::string(40, 'x') + "\r\nhello\r\n0\r\n\r\n", .status = 400, .limits = {.max_line = 32}},
        {.name = "leading zeros too long", .in = std::string(40, '0') + "5\r\nhello\r\n0\r\n\r\n", .status = 400, .limits = {.max_line = 32}},
        {.name = "chunk over the body limit", .in = "b\r\nhello world\r\n0\r\n\r\n", .status = 413, .limits = {.max_body = 10}},
        {.name = "sum over the body limit", .in = "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", .status = 413, .limits = {.max_body = 10}},
        {.name = "trailer too large", .in = "0\r\nA: 123456789\r\n\r\n", .status = 431, .limits = {.max_trailer = 8}},
        {.name = "trailer obs-fold", .in = "0\r\nA: 1\r\n 2\r\n\r\n", .status = 400},
        {.name = "trailer without colon", .in = "0\r\nabc\r\n\r\n", .status = 400},
        {.name = "trailer space in name", .in = "0\r\nA B: 1\r\n\r\n", .status = 400},
        {.name = "trailer control char", .in = "0\r\nA: \x02\r\n\r\n", .status = 400},
        {.name = "trailer bare LF", .in = "0\r\nA: 1\n\r\n", .status = 400},
        {.name = "end bare LF", .in = "0\r\n\n", .status = 400},
        {.name = "end bare CR", .in = "0\r\n\rX", .status = 400},
    };
    for (const Row& row : rows) run_row(row);
}

TEST_CASE("chunked: a failed or finished decoder stays so until reset") {
    ChunkedDecoder d({.max_body = 4});
    ChunkResult r = d.next("5\r\nhello\r\n");
    CHECK(r.failed());
    CHECK(r.status == 413);
    CHECK(d.next("0\r\n\r\n").status == 413);
    d.reset();
    r = d.next("4\r\nhell\r\n0\r\n\r\nrest");
    CHECK(r.data == "hell");
    CHECK(r.complete());
    CHECK(r.consumed == 14);
    CHECK(d.next("more").complete());
    CHECK(d.next("more").consumed == 0);
    CHECK(d.total() == 4);
}
