#include <doctest/doctest.h>

#include <string>

#include <gust/url.hpp>

#include "guarded.hpp"

using namespace gust;
using namespace gust::http;

namespace {

std::string text(const Url& u) {
    char buf[512];
    size_t n = format_url(u, buf);
    return std::string(buf, n);
}

std::string resolved(std::string_view base, std::string_view ref) {
    auto b = parse_url(base);
    REQUIRE(b);
    char out[512];
    auto r = resolve_url(*b, ref, out);
    if (!r) return std::string("error: ") + r.error().message;
    return text(*r);
}

}  // namespace

TEST_CASE("url: parts of http and https URLs") {
    gust_test::Guarded g;
    auto u = parse_url(g.place_view("http://example.com/a/b?x=1&y"));
    REQUIRE(u);
    CHECK_FALSE(u->https);
    CHECK(u->host == "example.com");
    CHECK(u->port == 80);
    CHECK(u->default_port);
    CHECK(u->path == "/a/b");
    CHECK(u->has_query);
    CHECK(u->query == "x=1&y");

    u = parse_url(g.place_view("HTTPS://[::1]:8443"));
    REQUIRE(u);
    CHECK(u->https);
    CHECK(u->ipv6);
    CHECK(u->host == "::1");
    CHECK(u->port == 8443);
    CHECK_FALSE(u->default_port);
    CHECK(u->path == "/");
    CHECK_FALSE(u->has_query);

    u = parse_url(g.place_view("https://h:443/p#frag"));
    REQUIRE(u);
    CHECK(u->default_port);
    CHECK(u->path == "/p");
    CHECK(text(*u) == "https://h/p");

    u = parse_url(g.place_view("http://10.0.0.1:/?"));  // empty port: the default
    REQUIRE(u);
    CHECK(u->port == 80);
    CHECK(u->has_query);
    CHECK(u->query.empty());
    CHECK(text(*u) == "http://10.0.0.1/?");

    u = parse_url(g.place_view("http://h?q=1"));
    REQUIRE(u);
    CHECK(u->path == "/");
    CHECK(u->query == "q=1");

    char host[64];
    u = parse_url("http://[fe80::1]:8080/x");
    REQUIRE(u);
    CHECK(std::string(host, format_authority(*u, host)) == "[fe80::1]:8080");
    u = parse_url("http://Router.lan/x");
    REQUIRE(u);
    CHECK(std::string(host, format_authority(*u, host)) == "Router.lan");
}

TEST_CASE("url: malformed URLs and other schemes are refused") {
    struct Row {
        const char* url;
        Errc code;
    };
    const Row rows[] = {
        {"", Errc::invalid_argument},
        {"example.com/x", Errc::invalid_argument},
        {"/relative", Errc::invalid_argument},
        {"http:/x", Errc::invalid_argument},
        {"ftp://h/x", Errc::not_supported},
        {"ws://h/x", Errc::not_supported},
        {"http://", Errc::invalid_argument},
        {"http:///path", Errc::invalid_argument},
        {"http://user:pw@h/", Errc::invalid_argument},
        {"http://h:0/", Errc::invalid_argument},
        {"http://h:65536/", Errc::invalid_argument},
        {"http://h:123456/", Errc::invalid_argument},
        {"http://h:8x/", Errc::invalid_argument},
        {"http://:80/", Errc::invalid_argument},
        {"http://[::1/", Errc::invalid_argument},
        {"http://[]/", Errc::invalid_argument},
        {"http://[1.2.3.4]/", Errc::invalid_argument},
        {"http://[::1]x/", Errc::invalid_argument},
        {"http://[fe80::1%25eth0]/", Errc::invalid_argument},
        {"http://h%41/", Errc::invalid_argument},
        {"http://h/a b", Errc::invalid_argument},
        {"http://h/\x01", Errc::invalid_argument},
        {"http://h/caf\xc3\xa9", Errc::invalid_argument},
    };
    gust_test::Guarded g;
    for (const Row& r : rows) {
        CAPTURE(r.url);
        auto u = parse_url(g.place_view(r.url));
        REQUIRE_FALSE(u);
        CHECK(u.error().code == r.code);
    }
    std::string long_host = "http://" + std::string(256, 'a') + "/";
    CHECK_FALSE(parse_url(long_host));
}

TEST_CASE("url: references resolve as RFC 3986 §5.4 says (fragments dropped)") {
    const char* base = "http://a/b/c/d;p?q";
    struct Row {
        const char* ref;
        const char* want;
    };
    const Row rows[] = {
        {"g", "http://a/b/c/g"},          {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},        {"/g", "http://a/g"},
        {"//g", "http://g/"},             {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},      {"#s", "http://a/b/c/d;p?q"},
        {"g#s", "http://a/b/c/g"},        {"g?y#s", "http://a/b/c/g?y"},
        {";x", "http://a/b/c/;x"},        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y"}, {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},           {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},            {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},         {"../..", "http://a/"},
        {"../../", "http://a/"},          {"../../g", "http://a/g"},
        // §5.4.2, abnormal examples.
        {"../../../g", "http://a/g"},     {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},           {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},      {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},       {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},    {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"g#s/./x", "http://a/b/c/g"},
        // Absolute and scheme-relative references, other origins.
        {"https://x.test:8443/p/../q?z", "https://x.test:8443/q?z"},
        {"HTTP://X/", "http://X/"},
        {"//[::1]:81/v6", "http://[::1]:81/v6"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.ref);
        CHECK(resolved(base, r.ref) == r.want);
    }
    CHECK(resolved("https://h:8443/a/b", "c") == "https://h:8443/a/c");
    CHECK(resolved("https://h/", "//other/x") == "https://other/x");
    CHECK(resolved(base, "ftp://x/") == "error: only http and https URLs are supported");
    CHECK(resolved(base, "http://u@x/") == "error: credentials in URLs are not supported");
    CHECK(resolved(base, "/a b").rfind("error:", 0) == 0);

    auto b = parse_url(base);
    REQUIRE(b);
    char small[12];
    auto r = resolve_url(*b, "/a/long/path", small);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::too_large);
}

TEST_CASE("url: origins compare scheme, host (any case) and port") {
    auto a = parse_url("http://Example.com/x");
    auto b = parse_url("http://example.COM:80/y");
    auto c = parse_url("https://example.com/x");
    auto d = parse_url("http://example.com:8080/x");
    REQUIRE((a && b && c && d));
    CHECK(same_origin(*a, *b));
    CHECK_FALSE(same_origin(*a, *c));
    CHECK_FALSE(same_origin(*a, *d));
}
