// A test kit for handlers, like tornado.testing.AsyncHTTPTestCase: serve a
// Router on an ephemeral 127.0.0.1 port inside a test and issue real HTTP
// requests to it over loopback, on the same loop, from the same thread.
//
//   Router app;  app.get("/hello", hello);
//   testing::TestServer srv(app);
//   auto r = srv.get("/hello");   CHECK(r.status == 200);  CHECK(r.body == "Hello, world!");
//
// With {.fake_clock = true} the loop's clock jumps to the next timer whenever
// nothing else can happen, so handlers that sleep or time out finish at once
// and deterministically. Host-side test code: it allocates freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gust/http.hpp>
#include <gust/loop.hpp>

namespace gust::testing {

struct TestResponse {
    int status = 0;  // 0 when no response arrived (see error)
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // de-chunked
    std::string error;  // transport or parse failure, empty on success
    // The first header named `name` (case-insensitive), or "" when absent.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
};

struct TestOptions {
    bool fake_clock = false;        // drive timers with the fake clock
    Limits limits = Limits();       // the loop's limits
    http::ServerOptions server;     // .http is set to 127.0.0.1:0
    Duration timeout = std::chrono::seconds(30);  // per request (loop clock)
};

class TestServer {
public:
    explicit TestServer(Router& app, TestOptions options = {});
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    Loop& loop() { return *loop_; }
    http::Server& server() { return *server_; }
    uint16_t port() const { return server_->port(); }

    // Sends `raw` bytes as they are and returns what came back until the server
    // closed the connection (or `timeout`). For protocol tests.
    std::string raw(std::string_view raw_request);
    // A request with the given method, target, extra header lines ("Name: value"), body.
    TestResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                         const std::vector<std::string>& headers = {});
    TestResponse get(std::string_view target) { return request("GET", target); }
    TestResponse head(std::string_view target) { return request("HEAD", target); }
    TestResponse post(std::string_view target, std::string_view body, std::string_view content_type = "text/plain") {
        return request("POST", target, body, {"Content-Type: " + std::string(content_type)});
    }

    // Parses a complete HTTP/1.1 response (Content-Length, chunked or close-delimited).
    static TestResponse parse(std::string_view raw, bool head_request = false);

private:
    TestOptions options_;
    Loop* loop_ = nullptr;
    http::Server* server_ = nullptr;
};

}  // namespace gust::testing
