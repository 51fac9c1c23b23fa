// libFuzzer harness for gust::http::RequestParser.
// The input is parsed whole and again fed as growing prefixes at 2-3 split
// points derived from its first bytes, each prefix in a fresh exact-size
// allocation (the parser must cope with a buffer that moves between calls).
// Invariants: both runs agree (progress, status, consumed, parsed head), every
// view of a complete head lies inside the buffer, consumed <= size.
#include <gust/http_parser.hpp>

#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_check.hpp"

using namespace gust::http;

namespace {

constexpr size_t kHeaders = 12;
constexpr ParserLimits kLimits{512, 2048};

void check_views(const RequestHead& h, const char* buf, size_t n) {
    FUZZ_CHECK(fuzz::inside(h.method_name, buf, n));
    FUZZ_CHECK(!h.method_name.empty());
    FUZZ_CHECK(fuzz::inside(h.target, buf, n));
    FUZZ_CHECK(fuzz::inside(h.path, buf, n) || h.path == "/");
    FUZZ_CHECK(fuzz::inside(h.query, buf, n));
    FUZZ_CHECK(fuzz::inside(h.upgrade, buf, n));
    FUZZ_CHECK(fuzz::inside(h.host, buf, n));
    FUZZ_CHECK(h.headers.size() <= kHeaders);
    for (const Header& hd : h.headers) {
        FUZZ_CHECK(fuzz::inside(hd.name, buf, n));
        FUZZ_CHECK(fuzz::inside(hd.value, buf, n));
        FUZZ_CHECK(!hd.name.empty());
    }
    if (h.framing != Framing::content_length) FUZZ_CHECK(h.content_length == 0);
}

bool same_result(const ParseResult& a, const ParseResult& b) {
    return a.progress == b.progress && a.status == b.status &&
           (a.progress != Progress::complete || a.consumed == b.consumed);
}

// Offset of `v` from `base`, or SIZE_MAX for an empty view (static "/" etc. compare by text).
size_t off(std::string_view v, const char* base) {
    return v.empty() ? SIZE_MAX : size_t(v.data() - base);
}

bool same_view(std::string_view a, const char* ba, std::string_view b, const char* bb) {
    if (a != b) return false;
    if (a.empty()) return true;
    // Either both point at the same offset of their buffers, or both are the static "/".
    return off(a, ba) == off(b, bb) || (a == "/" && b == "/");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* in = reinterpret_cast<const char*>(data);
    std::string_view whole(in, size);

    // 1. The whole input at once.
    RequestParser p1(kLimits);
    RequestHead h1;
    Header hs1[kHeaders];
    ParseResult r1 = p1.parse(whole, h1, hs1);
    FUZZ_CHECK(r1.consumed <= size);
    if (r1.complete()) {
        FUZZ_CHECK(r1.consumed > 0);
        check_views(h1, in, size);
    }
    if (r1.failed()) FUZZ_CHECK(r1.status >= 400 && r1.status <= 505);
    // The same answer again until reset().
    ParseResult again = p1.parse(whole, h1, hs1);
    FUZZ_CHECK(same_result(r1, again));

    // 2. Growing prefixes at 2-3 split points from the first bytes.
    size_t splits[4];
    size_t nsplits = 0;
    size_t count = size > 0 ? 2 + (data[0] & 1) : 0;
    for (size_t i = 0; i < count; i++) {
        size_t b = i + 1 < size ? data[i + 1] : 0;
        splits[nsplits++] = size ? (b * 7919 + i * 131) % (size + 1) : 0;
    }
    // Sort ascending (prefixes only grow).
    for (size_t i = 0; i < nsplits; i++)
        for (size_t j = i + 1; j < nsplits; j++)
            if (splits[j] < splits[i]) std::swap(splits[i], splits[j]);
    splits[nsplits++] = size;

    RequestParser p2(kLimits);
    RequestHead h2;
    Header hs2[kHeaders];
    ParseResult r2;
    std::unique_ptr<char[]> buf;
    size_t len = 0;
    for (size_t i = 0; i < nsplits; i++) {
        len = splits[i];
        // A fresh allocation each time: the old one is freed, so stale views would trip ASan.
        buf.reset(new char[len ? len : 1]);
        if (len) std::memcpy(buf.get(), in, len);
        r2 = p2.parse(std::string_view(buf.get(), len), h2, hs2);
        FUZZ_CHECK(r2.consumed <= len);
        if (!r2.incomplete()) break;
    }
    if (r2.complete()) check_views(h2, buf.get(), len);

    FUZZ_CHECK(same_result(r1, r2));
    if (r1.complete()) {
        FUZZ_CHECK(h1.method == h2.method);
        FUZZ_CHECK(same_view(h1.method_name, in, h2.method_name, buf.get()));
        FUZZ_CHECK(same_view(h1.target, in, h2.target, buf.get()));
        FUZZ_CHECK(same_view(h1.path, in, h2.path, buf.get()));
        FUZZ_CHECK(same_view(h1.query, in, h2.query, buf.get()));
        FUZZ_CHECK(same_view(h1.host, in, h2.host, buf.get()));
        FUZZ_CHECK(same_view(h1.upgrade, in, h2.upgrade, buf.get()));
        FUZZ_CHECK(h1.form == h2.form && h1.version == h2.version && h1.framing == h2.framing);
        FUZZ_CHECK(h1.content_length == h2.content_length && h1.keep_alive == h2.keep_alive);
        FUZZ_CHECK(h1.expect_continue == h2.expect_continue);
        FUZZ_CHECK(h1.connection_close == h2.connection_close);
        FUZZ_CHECK(h1.connection_upgrade == h2.connection_upgrade);
        FUZZ_CHECK(h1.headers.size() == h2.headers.size());
        for (size_t i = 0; i < h1.headers.size(); i++) {
            FUZZ_CHECK(same_view(h1.headers[i].name, in, h2.headers[i].name, buf.get()));
            FUZZ_CHECK(same_view(h1.headers[i].value, in, h2.headers[i].value, buf.get()));
        }
        // Helpers on the parsed head must stay in bounds too.
        FUZZ_CHECK(fuzz::inside(h1.header("host"), in, size));
        (void)check_body_limit(h1, 100);
    }
    return 0;
}
