// Static files: ETag and If-None-Match, ranges (206, 416, If-Range), gzip
// forms with Vary, content types, security headers, and directory serving
// that never leaves its root.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gust/http.hpp>
#include <gust/static_files.hpp>
#include <gust/testing.hpp>

#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

const uint8_t kHtml[] = "<!doctype html><title>t</title>hello";
const uint8_t kGz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 'g', 'z'};  // stands in for a gzip form
std::string big_text() {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += char('a' + i % 26);
    return s;
}
const std::string kBig = big_text();

const StaticFile kFiles[] = {
    {"/index.html", {kHtml, sizeof kHtml - 1}, {kGz, sizeof kGz}, "\"abc\"", "\"abc-gz\""},
    {"/big.txt", {reinterpret_cast<const uint8_t*>(kBig.data()), kBig.size()}, {}, "\"big\"", ""},
};
const StaticBundle kBundle{kFiles, 2, "/index.html"};

TestOptions small_limits() {
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 32;
    return o;
}

}  // namespace

TEST_CASE("static: bundle files, ETag and 304, gzip with Vary, security headers") {
    Router app;
    REQUIRE(add_static(app, kBundle));
    TestServer srv(app, small_limits());
    auto r = srv.get("/");
    CHECK(r.status == 200);
    CHECK(r.body == std::string(reinterpret_cast<const char*>(kHtml)));
    CHECK(r.header("Content-Type") == "text/html; charset=utf-8");
    CHECK(r.header("ETag") == "\"abc\"");
    CHECK(r.header("Vary") == "Accept-Encoding");
    CHECK(r.header("X-Content-Type-Options") == "nosniff");
    CHECK(r.header("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
    CHECK(!r.has_header("Content-Encoding"));
    auto gz = srv.request("GET", "/index.html", {}, {"Accept-Encoding: br, gzip;q=0.8"});
    CHECK(gz.status == 200);
    CHECK(gz.header("Content-Encoding") == "gzip");
    CHECK(gz.header("ETag") == "\"abc-gz\"");
    CHECK(gz.body == std::string(reinterpret_cast<const char*>(kGz), sizeof kGz));
    auto refused = srv.request("GET", "/index.html", {}, {"Accept-Encoding: gzip;q=0"});
    CHECK(!refused.has_header("Content-Encoding"));
    for (const char* tag : {"\"abc\"", "\"abc-gz\"", "W/\"abc\"", "\"x\", \"abc\"", "*"}) {
        CAPTURE(tag);
        auto nm = srv.request("GET", "/index.html", {}, {std::string("If-None-Match: ") + tag});
        CHECK(nm.status == 304);
        CHECK(nm.body.empty());
        CHECK(nm.has_header("ETag"));
    }
    CHECK(srv.request("GET", "/index.html", {}, {"If-None-Match: \"other\""}).status == 200);
    CHECK(srv.get("/nope.js").status == 404);
    auto head = srv.head("/big.txt");
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == std::to_string(kBig.size()));
    CHECK(head.body.empty());
    auto whole = srv.get("/big.txt");  // larger than a response buffer: streamed
    CHECK((whole.body == kBig));
    CHECK(whole.header("Content-Type") == "text/plain; charset=utf-8");
}

TEST_CASE("static: one byte range, 416 past the end, If-Range") {
    Router app;
    REQUIRE(add_static(app, kBundle));
    TestServer srv(app, small_limits());
    struct Case {
        const char* range;
        int status;
        std::string content_range;
        std::string body;
    };
    const std::string n = std::to_string(kBig.size());
    const Case cases[] = {
        {"bytes=0-9", 206, "bytes 0-9/" + n, kBig.substr(0, 10)},
        {"bytes=19990-", 206, "bytes 19990-19999/" + n, kBig.substr(19990)},
        {"bytes=-5", 206, "bytes 19995-19999/" + n, kBig.substr(19995)},
        {"bytes=100-99999", 206, "bytes 100-19999/" + n, kBig.substr(100)},
        {"bytes=20000-", 416, "bytes */" + n, ""},
        {"bytes=-0", 416, "bytes */" + n, ""},
        {"bytes=0-1,5-6", 200, "", kBig},  // several ranges: the whole file
        {"items=0-1", 200, "", kBig},
        {"bytes=9-3", 200, "", kBig},
    };
    for (const Case& c : cases) {
        CAPTURE(c.range);
        auto r = srv.request("GET", "/big.txt", {}, {std::string("Range: ") + c.range});
        CHECK(r.status == c.status);
        CHECK(r.header("Content-Range") == c.content_range);
        CHECK((r.body == c.body));
    }
    CHECK(srv.request("GET", "/big.txt", {}, {"Range: bytes=0-0", "If-Range: \"big\""}).status == 206);
    CHECK(srv.request("GET", "/big.txt", {}, {"Range: bytes=0-0", "If-Range: \"old\""}).status == 200);
    // A range is served from the plain form even when gzip is accepted.
    auto r = srv.request("GET", "/index.html", {}, {"Range: bytes=0-1", "Accept-Encoding: gzip"});
    CHECK(r.status == 206);
    CHECK(r.body == "<!");
    CHECK(!r.has_header("Content-Encoding"));
}

TEST_CASE("static: a directory, its .gz forms, index.html, and no way out of the root") {
    char tmpl[] = "/tmp/gust-static-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string root = tmpl;
    auto write = [](const std::string& path, const std::string& body) {
        FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        std::fwrite(body.data(), 1, body.size(), f);
        std::fclose(f);
    };
    REQUIRE(::mkdir((root + "/www").c_str(), 0755) == 0);
    REQUIRE(::mkdir((root + "/www/css").c_str(), 0755) == 0);
    write(root + "/secret.txt", "top secret");
    write(root + "/www/index.html", "<p>home</p>");
    write(root + "/www/css/site.css", "body{}");
    write(root + "/www/css/site.css.gz", "GZ");
    write(root + "/www/.hidden", "no");
    write(root + "/www/data.bin", kBig);

    Router app;
    std::string www = root + "/www";  // StaticDir keeps the pointer
    StaticDir dir(www.c_str(), "/files");
    REQUIRE(add_static(app, dir));
    TestServer srv(app, small_limits());
    auto idx = srv.get("/files");
    CHECK(idx.status == 200);
    CHECK(idx.body == "<p>home</p>");
    auto css = srv.get("/files/css/site.css");
    CHECK(css.body == "body{}");
    CHECK(css.header("Content-Type") == "text/css; charset=utf-8");
    CHECK(css.header("Vary") == "Accept-Encoding");
    auto cgz = srv.request("GET", "/files/css/site.css", {}, {"Accept-Encoding: gzip"});
    CHECK(cgz.body == "GZ");
    CHECK(cgz.header("Content-Encoding") == "gzip");
    CHECK(cgz.header("ETag") != css.header("ETag"));
    CHECK(srv.request("GET", "/files/css/site.css", {}, {"If-None-Match: " + css.header("ETag")}).status == 304);
    CHECK((srv.get("/files/data.bin").body == kBig));
    auto part = srv.request("GET", "/files/data.bin", {}, {"Range: bytes=10000-10009"});
    CHECK(part.status == 206);
    CHECK(part.body == kBig.substr(10000, 10));
    CHECK(srv.get("/files/css/").status == 404);  // a directory without index.html
    for (const char* bad : {"/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/css/..%2f..%2fsecret.txt",
                            "/files/.hidden", "/files/%2ehidden", "/files/css%2f..%2f..%2fsecret.txt",
                            "/files/a%00b", "/files/..%5csecret.txt", "/files/missing.html"}) {
        CAPTURE(bad);
        auto r = srv.get(bad);
        CHECK(r.status == 404);
        CHECK(r.body.find("top secret") == std::string::npos);
    }
    std::string cmd = "rm -rf '" + root + "'";
    CHECK(std::system(cmd.c_str()) == 0);
}

TEST_CASE("static: content types by extension") {
    CHECK(content_type_for("/a/b.js") == "text/javascript; charset=utf-8");
    CHECK(content_type_for("x.SVG") == "image/svg+xml");
    CHECK(content_type_for("/style.css") == "text/css; charset=utf-8");
    CHECK(content_type_for("/noext") == "application/octet-stream");
    CHECK(content_type_for("/dir.d/file") == "application/octet-stream");
    CHECK(content_type_for("/f.wasm") == "application/wasm");
}
