#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include <gust/cache.hpp>
#include <gust/http.hpp>
#include <gust/testing.hpp>

#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

Task<> echo(Request& req, Response& res) {
    if (req.content_length() >= 0) res.content_length(uint64_t(req.content_length()));
    uint8_t chunk[100];  // small, so bodies take many reads
    for (;;) {
        auto n = co_await req.read(chunk);
        if (!n || *n == 0) break;
        if (!co_await res.write(std::span<const uint8_t>(chunk, *n))) co_return;
    }
    (void)co_await res.finish();
}

Task<> whole_body(Request& req, Response& res) {
    auto body = co_await req.body();
    if (!body) {
        res.status(413).text(body.error().message);
        co_return;
    }
    res.send(*body, "application/octet-stream");
}

std::string big(size_t n) {
    std::string s(n, 'x');
    for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7) % 26);
    return s;
}

TestOptions small_limits() {
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 32;
    return o;
}

}  // namespace

TEST_CASE("server: GET, HEAD, 404 and 405 with Allow") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    REQUIRE(app.put("/hello", hello));
    TestServer srv(app, small_limits());
    REQUIRE(srv.server().status());

    auto r = srv.get("/hello");
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, world!");
    CHECK(r.header("Content-Length") == "13");
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
    // An IMF-fixdate of now (the wall clock; the server's test kit runs a real clock).
    auto date = http::parse_http_date(r.header("Date"));
    REQUIRE(date);
    CHECK(std::llabs(*date - int64_t(::time(nullptr))) <= 2);
    CHECK(r.header("Date").size() == 29);
    CHECK(r.header("Server") == "gust");

    auto h = srv.head("/hello");
    CHECK(h.status == 200);
    CHECK(h.header("Content-Length") == "13");
    std::string raw = srv.raw("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(raw.find("Hello, world!") == std::string::npos);  // no body on the wire

    auto nf = srv.get("/nope");
    CHECK(nf.status == 404);
    CHECK(nf.header("Connection") == "close");  // the request asked for it
    CHECK(nf.error.empty());
    auto m = srv.request("DELETE", "/hello");
    CHECK(m.status == 405);
    CHECK(m.header("Allow") == "GET, HEAD, PUT");
}

TEST_CASE("server: JSON, headers and path parameters") {
    Router app;
    REQUIRE(app.get("/sensors/{id}", [](Request& req, Response& res) -> Task<> {
        std::string_view id = req.param("id");
        res.header("X-Sensor", id);
        res.json([&](JsonWriter& j) {
            j.kv("id", id);
            j.kv("celsius", 21.5);
        });
        co_return;
    }));
    TestServer srv(app, small_limits());
    auto r = srv.get("/sensors/t1");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"id":"t1","celsius":21.5})");
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("X-Sensor") == "t1");
}

TEST_CASE("server: request bodies by Content-Length and chunked, streamed back") {
    Router app;
    REQUIRE(app.post("/echo", echo));
    REQUIRE(app.post("/whole", whole_body));
    TestServer srv(app, small_limits());
    for (size_t n : {0, 1, 99, 100, 101, 5000, 100000}) {
        CAPTURE(n);
        std::string body = big(n);
        auto r = srv.post("/echo", body);
        CHECK(r.status == 200);
        CHECK(r.body == body);
        CHECK(r.header("Content-Length") == std::to_string(n));
    }
    // Chunked in, chunked out (no length known in advance).
    std::string raw = srv.raw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
    auto r = TestServer::parse(raw);
    CHECK(r.status == 200);
    CHECK(r.header("Transfer-Encoding") == "chunked");
    CHECK(r.body == "hello world");
    // body(): the whole body as one view when it fits the input buffer.
    auto w = srv.post("/whole", "abc");
    CHECK(w.body == "abc");
    auto wc = TestServer::parse(srv.raw("POST /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    CHECK(wc.body == "abcde");
    CHECK(srv.post("/whole", big(20000)).status == 413);  // larger than the 8 KiB buffer
}

TEST_CASE("server: body over the limit is 413, per-route limits apply") {
    Router app;
    REQUIRE(app.post("/small", echo));
    REQUIRE(app.post("/large", echo, RouteOptions{.max_body = 200000}));
    TestOptions o = small_limits();
    o.server.max_body = 1000;
    TestServer srv(app, o);
    CHECK(srv.post("/small", big(1000)).status == 200);
    CHECK(srv.post("/small", big(1001)).status == 413);
    CHECK(srv.post("/large", big(150000)).status == 200);
    // Chunked bodies are checked as they arrive.
    std::string chunked = "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + big(2000) +
                          "\r\n0\r\n\r\n";
    auto r = TestServer::parse(srv.raw(chunked));
    CHECK(r.status == 413);
}

TEST_CASE("server: pipelined requests are answered in order") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    REQUIRE(app.post("/echo", echo));
    TestServer srv(app, small_limits());
    std::string raw = srv.raw(
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    size_t at = 0;
    int statuses[5] = {};
    for (int i = 0; i < 5; ++i) {
        at = raw.find("HTTP/1.1 ", at);
        REQUIRE(at != std::string::npos);
        statuses[i] = std::stoi(raw.substr(at + 9, 3));
        at += 9;
    }
    CHECK(statuses[0] == 200);
    CHECK(statuses[1] == 200);
    CHECK(statuses[2] == 200);
    CHECK(statuses[3] == 404);
    CHECK(statuses[4] == 200);
    CHECK(raw.find("abc") < raw.find("HTTP/1.1 200", raw.find("abc")));
}

TEST_CASE("server: Expect 100-continue is answered before the body is read") {
    Router app;
    REQUIRE(app.post("/echo", echo));
    TestServer srv(app, small_limits());
    std::string raw = srv.raw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    CHECK(raw.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
    auto r = TestServer::parse(raw);
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
}

TEST_CASE("server: malformed requests get their status and the server keeps serving") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    TestServer srv(app, small_limits());
    struct Case {
        const char* raw;
        int status;
    } cases[] = {
        {"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"GET /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"GET /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET /hello HTTP/1.1\r\n\r\n", 400},
        {"GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400},
    };
    for (auto& c : cases) {
        CAPTURE(c.raw);
        auto r = TestServer::parse(srv.raw(c.raw));
        CHECK(r.status == c.status);
        CHECK(r.header("Connection") == "close");
    }
    std::string long_target = "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(TestServer::parse(srv.raw(long_target)).status == 414);
    std::string many = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 40; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
    CHECK(TestServer::parse(srv.raw(many + "\r\n")).status == 431);
    CHECK(srv.get("/hello").status == 200);
}

TEST_CASE("server: no coroutine frame for a request is 503 with Retry-After") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    TestOptions o = small_limits();
    for (auto& count : o.limits.frame_counts) count = 0;  // no request can start
    TestServer srv(app, o);
    // A blocking client on its own thread: the test kit's client would need a frame too.
    std::atomic<bool> done{false};
    std::string reply;
    std::thread client([&] {
        int fd = gust_test::connect_loopback(srv.port());
        if (fd >= 0) {
            const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
            (void)::send(fd, req, sizeof req - 1, 0);
            char buf[512];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, size_t(n));
        }
        if (fd >= 0) ::close(fd);
        done = true;
    });
    srv.loop().run_until([&] { return done.load(); }, std::chrono::seconds(10));
    client.join();
    auto r = TestServer::parse(reply);
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "1");
    CHECK(srv.server().stats().responses_5xx == 1);
}

TEST_CASE("server: a request that arrives while a handler waits is served after it, without a busy loop") {
    // The watch is level-triggered: bytes that arrive while the serve
    // coroutine is inside a handler must not wake the loop on every turn.
    Router app;
    REQUIRE(app.get("/slow", [](Request&, Response& res) -> Task<> {
        co_await sleep(std::chrono::milliseconds(300));
        res.text("slow");
    }));
    REQUIRE(app.get("/hello", hello));
    TestServer srv(app, small_limits());
    std::atomic<bool> done{false};
    std::string reply;
    std::thread client([&] {
        int fd = gust_test::connect_loopback(srv.port());
        if (fd >= 0) {
            const char first[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
            const char second[] = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            (void)::send(fd, first, sizeof first - 1, 0);
            ::usleep(50 * 1000);  // well inside the handler's sleep
            (void)::send(fd, second, sizeof second - 1, 0);
            char buf[512];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, size_t(n));
        }
        if (fd >= 0) ::close(fd);
        done = true;
    });
    int turns = 0;
    TimePoint end = srv.loop().now() + std::chrono::seconds(10);
    while (!done.load() && srv.loop().now() < end) {
        srv.loop().run_once(std::chrono::milliseconds(10));
        ++turns;
    }
    client.join();
    size_t slow = reply.find("slow");
    size_t hello_at = reply.find("Hello, world!");
    CHECK(slow != std::string::npos);
    CHECK(hello_at != std::string::npos);
    CHECK(slow < hello_at);
    // About 30 wake-ups of 10 ms cover the 300 ms; a loop woken by the unread
    // bytes would turn thousands of times.
    CHECK(turns < 200);
}

TEST_CASE("server: handler failures are 500 without details") {
    Router app;
    REQUIRE(app.get("/bad-header", [](Request&, Response& res) -> Task<> {
        res.header("X-Bad", "line\r\nbreak");
        res.text("never sent");
        co_return;
    }));
    REQUIRE(app.get("/too-big", [](Request&, Response& res) -> Task<> {
        res.text(std::string_view(std::string(20000, 'x')));
        co_return;
    }));
    TestServer srv(app, small_limits());
    auto r = srv.get("/bad-header");
    CHECK(r.status == 500);
    CHECK(r.body.find("never") == std::string::npos);
    CHECK(srv.get("/too-big").status == 500);
}

TEST_CASE("server: timers run on the fake clock; slow handlers block nobody") {
    Router app;
    REQUIRE(app.get("/slow", [](Request&, Response& res) -> Task<> {
        co_await sleep(std::chrono::seconds(5));
        res.text("done");
    }));
    TestOptions o = small_limits();
    o.fake_clock = true;
    TestServer srv(app, o);
    TimePoint start = srv.loop().now();
    auto r = srv.get("/slow");
    CHECK(r.status == 200);
    CHECK(r.body == "done");
    CHECK(srv.loop().now() - start >= std::chrono::seconds(5));
}

TEST_CASE("server: a request head that never completes gets 408 at the header timeout") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    TestOptions o = small_limits();
    o.fake_clock = true;
    o.server.header_timeout = std::chrono::seconds(3);
    TestServer srv(app, o);
    TimePoint start = srv.loop().now();
    std::string raw = srv.raw("GET /hello HTTP/1.1\r\nHost: x\r\n");  // no final CRLF
    CHECK(TestServer::parse(raw).status == 408);
    CHECK(srv.loop().now() - start >= std::chrono::seconds(3));
}

TEST_CASE("server: idle keep-alive and silent connections close at their timeouts; a request restarts the idle one") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    TestOptions o = small_limits();
    o.fake_clock = true;
    o.server.idle_timeout = std::chrono::seconds(20);
    o.server.header_timeout = std::chrono::seconds(3);
    TestServer srv(app, o);
    Loop& loop = srv.loop();
    auto open_now = [&] { return srv.server().stats().connections_open; };
    auto request = [&](int fd) {
        const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
        REQUIRE(::send(fd, req, sizeof req - 1, 0) == ssize_t(sizeof req - 1));
        uint64_t before = srv.server().stats().requests;
        REQUIRE(loop.run_until([&] { return srv.server().stats().requests > before; }, std::chrono::seconds(1)));
        loop.run_once(Duration(0));
        char buf[512];
        CHECK(::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0);
    };

    int silent = gust_test::connect_loopback(srv.port());
    int kept = gust_test::connect_loopback(srv.port());
    REQUIRE(silent >= 0);
    REQUIRE(kept >= 0);
    REQUIRE(loop.run_until([&] { return open_now() == 2; }, std::chrono::seconds(1)));
    const TimePoint start = loop.now();
    request(kept);
    // The silent one goes at the header timeout; the kept one stays.
    REQUIRE(loop.run_until([&] { return open_now() == 1; }, std::chrono::seconds(60)));
    CHECK(loop.now() - start >= std::chrono::seconds(3));
    CHECK(loop.now() - start < std::chrono::seconds(4));
    // Fifteen seconds idle, then a request: its idle timeout starts again.
    loop.run_until([] { return false; }, std::chrono::seconds(15));
    CHECK(open_now() == 1);
    const TimePoint again = loop.now();
    request(kept);
    REQUIRE(loop.run_until([&] { return open_now() == 0; }, std::chrono::seconds(60)));
    CHECK(loop.now() - again >= std::chrono::seconds(20));
    CHECK(loop.now() - again < std::chrono::seconds(21));
    char buf[16];
    CHECK(::recv(kept, buf, sizeof buf, 0) == 0);  // closed by the server
    CHECK(::recv(silent, buf, sizeof buf, 0) == 0);
    ::close(kept);
    ::close(silent);
}

namespace {
struct Counter {
    Task<> get(Request&, Response& res) {
        res.text("counter");
        co_return;
    }
    Task<> post(Request&, Response& res) {
        res.status(201).text("made");
        co_return;
    }
};
}  // namespace

TEST_CASE("server: class handlers register the methods they define") {
    Router app;
    REQUIRE(app.route<Counter>("/counter"));
    TestServer srv(app, small_limits());
    CHECK(srv.get("/counter").body == "counter");
    CHECK(srv.post("/counter", "").status == 201);
    auto r = srv.request("PUT", "/counter", "x");
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, HEAD, POST");
}

TEST_CASE("server: finished requests return every frame and buffer") {
    Router app;
    REQUIRE(app.get("/hello", hello));
    REQUIRE(app.post("/echo", echo));
    TestServer srv(app, small_limits());
    CHECK(srv.get("/hello").status == 200);
    srv.loop().run_once(std::chrono::milliseconds(0));  // the loop reaps finished connections
    uint32_t frames = FramePool::local().in_use();
    for (int i = 0; i < 20; ++i) {
        CHECK(srv.get("/hello").status == 200);
        CHECK(srv.post("/echo", big(3000)).body.size() == 3000);
    }
    srv.loop().run_once(std::chrono::milliseconds(0));
    CHECK(FramePool::local().in_use() == frames);
    CHECK(srv.server().stats().buffers_in_use == 0);
    CHECK(srv.server().stats().connections_open == 0);
    CHECK(srv.server().stats().requests == 41);
}
