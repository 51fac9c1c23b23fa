// libFuzzer harness for the client's parsers: gust::http::ResponseParser and
// the URL functions (parse_url, resolve_url, format_url).
// Response: the input (after its first byte, whose low bit says "answer to
// HEAD") is parsed whole and again as growing prefixes at 2-3 split points,
// each prefix in a fresh exact-size allocation. Invariants: both runs agree;
// every view lies inside the buffer; the framing follows the status (no body
// for 1xx/204/304/HEAD), content_length only with Content-Length framing, no
// keep-alive for a close-delimited body.
// URL: the whole input as a URL and as a reference against a fixed base.
// Invariants: views inside the text; a parsed URL formats to text that parses
// to the same parts; a resolved reference is absolute, dot-free in its path and
// stable when formatted and parsed again.
#include <gust/http_parser.hpp>
#include <gust/url.hpp>

#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_check.hpp"

using namespace gust::http;

namespace {

constexpr size_t kHeaders = 12;
constexpr size_t kMaxHead = 2048;

void check_head(const ResponseHead& h, bool head_request, const char* buf, size_t n) {
    FUZZ_CHECK(h.status >= 100 && h.status <= 599);
    FUZZ_CHECK(fuzz::inside(h.reason, buf, n));
    FUZZ_CHECK(h.headers.size() <= kHeaders);
    for (const Header& hd : h.headers) {
        FUZZ_CHECK(!hd.name.empty());
        FUZZ_CHECK(fuzz::inside(hd.name, buf, n));
        FUZZ_CHECK(fuzz::inside(hd.value, buf, n));
    }
    if (head_request || h.status < 200 || h.status == 204 || h.status == 304) FUZZ_CHECK(h.framing == Framing::none);
    if (h.framing != Framing::content_length) FUZZ_CHECK(h.content_length == 0);
    if (h.framing == Framing::until_close) FUZZ_CHECK(!h.keep_alive);
    if (h.connection_close) FUZZ_CHECK(!h.keep_alive);
}

bool same_url(const Url& a, const Url& b) {
    return a.https == b.https && a.host == b.host && a.ipv6 == b.ipv6 && a.port == b.port &&
           a.default_port == b.default_port && a.path == b.path && a.query == b.query && a.has_query == b.has_query;
}

void check_url(const Url& u, const char* text, size_t n) {
    FUZZ_CHECK(fuzz::inside(u.host, text, n));
    FUZZ_CHECK(fuzz::inside(u.path, text, n) || u.path == "/");
    FUZZ_CHECK(fuzz::inside(u.query, text, n));
    FUZZ_CHECK(!u.host.empty() && u.host.size() <= kMaxHostLength);
    FUZZ_CHECK(!u.path.empty() && u.path[0] == '/');
    FUZZ_CHECK(u.port != 0);
    char again[4096];
    size_t len = format_url(u, again);
    FUZZ_CHECK(len > 0);
    auto back = parse_url(std::string_view(again, len));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(same_url(u, *back) || (u.path == "/" && back->path == "/"));
}

void fuzz_response(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const bool head_request = data[0] & 1;
    const char* in = reinterpret_cast<const char*>(data + 1);
    const size_t n = size - 1;

    ResponseParser p1(kMaxHead, head_request);
    ResponseHead h1;
    Header hs1[kHeaders];
    ParseResult r1 = p1.parse(std::string_view(in, n), h1, hs1);
    FUZZ_CHECK(r1.consumed <= n);
    if (r1.complete()) {
        FUZZ_CHECK(r1.consumed > 0);
        check_head(h1, head_request, in, n);
    }
    if (r1.failed()) FUZZ_CHECK(r1.error.code != gust::Errc::ok);

    size_t splits[4];
    size_t count = 2 + (data[0] >> 1 & 1), k = 0;
    for (size_t i = 0; i < count; i++) {
        size_t b = i + 1 < size ? data[i + 1] : 0;
        splits[k++] = (b * 7919 + i * 131) % (n + 1);
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            if (splits[j] < splits[i]) std::swap(splits[i], splits[j]);
    splits[k++] = n;

    ResponseParser p2(kMaxHead, head_request);
    ResponseHead h2;
    Header hs2[kHeaders];
    ParseResult r2;
    std::unique_ptr<char[]> buf;
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        len = splits[i];
        buf.reset(new char[len ? len : 1]);  // stale views would trip ASan
        if (len) std::memcpy(buf.get(), in, len);
        r2 = p2.parse(std::string_view(buf.get(), len), h2, hs2);
        FUZZ_CHECK(r2.consumed <= len);
        if (!r2.incomplete()) break;
    }
    FUZZ_CHECK(r1.progress == r2.progress);
    if (r1.complete()) {
        check_head(h2, head_request, buf.get(), len);
        FUZZ_CHECK(r1.consumed == r2.consumed);
        FUZZ_CHECK(h1.status == h2.status && h1.framing == h2.framing && h1.keep_alive == h2.keep_alive);
        FUZZ_CHECK(h1.content_length == h2.content_length && h1.reason == h2.reason);
        FUZZ_CHECK(h1.headers.size() == h2.headers.size());
        for (size_t i = 0; i < h1.headers.size(); i++) {
            FUZZ_CHECK(h1.headers[i].name == h2.headers[i].name);
            FUZZ_CHECK(h1.headers[i].value == h2.headers[i].value);
        }
    } else if (r1.failed()) {
        FUZZ_CHECK(r1.error.code == r2.error.code);
    }
}

void fuzz_url(const uint8_t* data, size_t size) {
    const char* text = reinterpret_cast<const char*>(data);
    std::string_view s(text, size);
    if (auto u = parse_url(s)) check_url(*u, text, size);

    static const char kBase[] = "http://a.test:8080/b/c/d;p?q";
    auto base = parse_url(kBase);
    FUZZ_CHECK(base.ok());
    char out[512];
    auto r = resolve_url(*base, s, out);
    if (!r) return;
    check_url(*r, out, sizeof out);
    std::string_view path = r->path;
    FUZZ_CHECK(path.find("/./") == std::string_view::npos && path.find("/../") == std::string_view::npos);
    FUZZ_CHECK(!path.ends_with("/.") && !path.ends_with("/.."));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz_response(data, size);
    fuzz_url(data, size);
    return 0;
}
