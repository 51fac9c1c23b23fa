// statusd's routes (examples/statusd/routes.cpp, upload.cpp) served through the
// test kit: the same handlers the program runs, on an ephemeral port.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include <gust/executor.hpp>
#include <gust/http.hpp>
#include <gust/json.hpp>
#include <gust/testing.hpp>

#include "../../examples/statusd/routes.hpp"
#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

TestOptions small_limits() {
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 32;
    return o;
}

// The statusd routes on `app`, with the context pointing at `srv` once it exists.
struct Statusd {
    Router app;
    StatusdContext ctx;
    Statusd() { REQUIRE(add_statusd_routes(app, ctx)); }
};

uint64_t json_uint(std::string_view body, std::string_view key) {
    auto v = json_find(body, key);
    REQUIRE(v);
    auto n = v->as_uint64();
    REQUIRE(n);
    return *n;
}

std::string sha256_hex(std::string_view data) {
    uint8_t digest[32];
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    REQUIRE(mbedtls_sha256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest, 0) == 0);
#else
    REQUIRE(mbedtls_sha256_ret(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest, 0) == 0);
#endif
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : digest) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
    }
    return hex;
}

std::string pattern(size_t n) {
    std::string s(n, 0);
    for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + i / 256) & 0xff);  // every byte value
    return s;
}


bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

struct TempDir : gust_test::TempDir {
    TempDir() : gust_test::TempDir("gust-statusd") {}
};

}  // namespace

TEST_CASE("statusd: GET /hello") {
    Statusd d;
    TestServer srv(d.app, small_limits());
    REQUIRE(srv.server().status());
    d.ctx.server = &srv.server();
    auto r = srv.get("/hello");
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, world!");
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
    auto h = srv.head("/hello");
    CHECK(h.status == 200);
    CHECK(h.header("Content-Length") == "13");
}

TEST_CASE("statusd: a wrong method is 405 with the route's methods") {
    Statusd d;
    TestOptions o = small_limits();
    // The kit reads until the server closes: a 405 that ignored the request's
    // "Connection: close" would show up as a timeout here.
    o.timeout = std::chrono::seconds(5);
    TestServer srv(d.app, o);
    auto r = srv.request("DELETE", "/hello");
    CHECK(r.error.empty());
    CHECK(r.status == 405);
    CHECK(r.header("Connection") == "close");
    CHECK(r.header("Allow") == "GET, HEAD");
    CHECK(srv.request("DELETE", "/echo").header("Allow") == "POST, PUT");
}

TEST_CASE("statusd: /api/status is JSON with system and server figures") {
    Statusd d;
    TestServer srv(d.app, small_limits());
    d.ctx.server = &srv.server();
    CHECK(srv.get("/hello").status == 200);
    auto r = srv.get("/api/status");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    auto host = json_find(r.body, "hostname");
    REQUIRE(host);
    CHECK(host->token == JsonToken::string);
    CHECK(!host->text.empty());
    auto uptime = json_find(r.body, "uptime_s");
    REQUIRE(uptime);
    CHECK(uptime->token == JsonToken::number);
    auto server = json_find(r.body, "server");
    REQUIRE(server);
    REQUIRE(server->token == JsonToken::begin_object);
    // The /hello before and this request itself (counted when it starts).
    CHECK(json_uint(server->text, "requests") >= 1);
    CHECK(json_uint(server->text, "connections_accepted") >= 2);
}

TEST_CASE("statusd: /api/status without a server reports zero server figures") {
    Statusd d;  // ctx.server stays null: the route must not dereference it
    TestServer srv(d.app, small_limits());
    auto r = srv.get("/api/status");
    REQUIRE(r.status == 200);
    auto server = json_find(r.body, "server");
    REQUIRE(server);
    CHECK(json_uint(server->text, "requests") == 0);
}

TEST_CASE("statusd: /metrics is Prometheus text") {
    Statusd d;
    TestServer srv(d.app, small_limits());
    d.ctx.server = &srv.server();
    auto r = srv.get("/metrics");
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
    CHECK(r.body.find("gust_http_requests_total") != std::string::npos);
    CHECK(r.body.find("# TYPE gust_http_requests_total counter") != std::string::npos);
}

TEST_CASE("statusd: /echo returns the body and its Content-Type") {
    Statusd d;
    TestServer srv(d.app, small_limits());
    std::string body = pattern(20000);  // larger than a buffer: streamed in pieces
    auto r = srv.post("/echo", body, "application/x-test");
    CHECK(r.status == 200);
    CHECK(r.body == body);
    CHECK(r.header("Content-Type") == "application/x-test");
    auto p = srv.request("PUT", "/echo", "abc");  // no Content-Type: octet-stream
    CHECK(p.status == 200);
    CHECK(p.body == "abc");
    CHECK(p.header("Content-Type") == "application/octet-stream");
    auto e = srv.post("/echo", "", "text/plain");
    CHECK(e.status == 200);
    CHECK(e.body.empty());
}

TEST_CASE("statusd: /api/slow sleeps on the loop clock, not in real time") {
    Statusd d;
    TestOptions o = small_limits();
    o.fake_clock = true;
    TestServer srv(d.app, o);
    TimePoint start = srv.loop().now();
    auto real_start = std::chrono::steady_clock::now();
    auto r = srv.get("/api/slow?ms=300");
    auto real = std::chrono::steady_clock::now() - real_start;
    CHECK(r.status == 200);
    CHECK(r.body == "slept\n");
    CHECK(srv.loop().now() - start >= std::chrono::milliseconds(300));
    CHECK(real < std::chrono::milliseconds(250));  // the fake clock jumped; nobody waited

    for (const char* bad : {"/api/slow?ms=abc", "/api/slow", "/api/slow?ms=", "/api/slow?ms=-1",
                            "/api/slow?ms=10001", "/api/slow?ms=5x", "/api/slow?ms=99999999999999999999"}) {
        CAPTURE(bad);
        auto b = srv.get(bad);
        CHECK(b.status == 400);
        CHECK(b.body == "ms must be an integer from 0 to 10000\n");
    }
}

TEST_CASE("statusd: upload stores the body with its SHA-256") {
    TempDir dir;
    Statusd d;
    d.ctx.upload_dir = dir.path;
    TestServer srv(d.app, small_limits());
    Executor exec(srv.loop(), 1, 4);  // the upload writes through run_blocking()
    REQUIRE(exec.status());
    std::string body = pattern(100 * 1024);
    std::string sha = sha256_hex(body);
    std::string file = std::string(dir.path) + "/fw.bin";

    SUBCASE("201 with name, bytes and sha256; the file holds the body") {
        auto r = srv.request("PUT", "/api/upload/fw.bin", body, {"X-Expected-SHA256: " + sha});
        REQUIRE(r.status == 201);
        CHECK(r.header("Content-Type") == "application/json");
        auto name = json_find(r.body, "name");
        REQUIRE(name);
        CHECK(name->text == "fw.bin");
        CHECK(json_uint(r.body, "bytes") == body.size());
        auto got = json_find(r.body, "sha256");
        REQUIRE(got);
        CHECK(got->text == sha);
        CHECK(gust_test::read_file(file) == body);
    }
    SUBCASE("without X-Expected-SHA256 the digest is reported, not checked") {
        auto r = srv.request("PUT", "/api/upload/fw.bin", body);
        REQUIRE(r.status == 201);
        CHECK(json_find(r.body, "sha256")->text == sha);
    }
    SUBCASE("a bad name is 400 and writes nothing") {
        for (const char* target : {"/api/upload/a%2Fb", "/api/upload/a%20b", "/api/upload/..x%00"}) {
            CAPTURE(target);
            CHECK(srv.request("PUT", target, "abc").status == 400);
        }
        CHECK(srv.request("PUT", ("/api/upload/" + std::string(129, 'a')).c_str(), "abc").status == 400);
    }
    SUBCASE("a SHA-256 mismatch is 422 and the file is gone") {
        std::string wrong = sha;
        wrong[0] = wrong[0] == '0' ? '1' : '0';
        auto r = srv.request("PUT", "/api/upload/bad.bin", body, {"X-Expected-SHA256: " + wrong});
        CHECK(r.status == 422);
        CHECK(!exists(std::string(dir.path) + "/bad.bin"));
        // Upper-case hex of the right digest is a match.
        std::string upper = sha;
        for (char& c : upper)
            if (c >= 'a' && c <= 'f') c = char(c - 32);
        CHECK(srv.request("PUT", "/api/upload/fw.bin", body, {"X-Expected-SHA256: " + upper}).status == 201);
    }
    SUBCASE("only PUT") {
        auto r = srv.post("/api/upload/fw.bin", "abc");
        CHECK(r.status == 405);
        CHECK(r.header("Allow") == "PUT");
    }
    srv.loop().run_once(std::chrono::milliseconds(0));
    CHECK(srv.server().stats().buffers_in_use == 0);
}
