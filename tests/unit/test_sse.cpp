// Server-Sent Events: the event format, Last-Event-ID, heartbeats on the fake
// clock, hub messages as events, and a disconnect ending the handler at once.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include <gust/http.hpp>
#include <gust/hub.hpp>
#include <gust/sse.hpp>
#include <gust/testing.hpp>

#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

TestOptions small_limits(bool fake_clock = false) {
    TestOptions o;
    o.fake_clock = fake_clock;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 32;
    return o;
}

Task<> two_events(Request&, Response& res) {
    EventStream events = res.event_stream();
    // (Built before the co_await: GCC 12 mishandles temporaries in a co_await's conditional.)
    std::string id = events.last_event_id().empty() ? "" : "after-" + std::string(events.last_event_id());
    (void)co_await events.send("tick", "a", "1");
    (void)co_await events.send("", "line one\nline two\r\nline three", id);
    CHECK(events.events_sent() == 2);
    CHECK(!(co_await events.send("bad\nname", "x")));
}

}  // namespace

TEST_CASE("sse: event format, multi-line data, Last-Event-ID, no caching") {
    Router app;
    REQUIRE(app.get("/events", two_events));
    TestServer srv(app, small_limits());
    auto r = srv.get("/events");
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type") == "text/event-stream; charset=utf-8");
    CHECK(r.header("Cache-Control") == "no-cache");
    CHECK(r.header("Transfer-Encoding") == "chunked");
    CHECK(r.body == "event: tick\nid: 1\ndata: a\n\ndata: line one\ndata: line two\ndata: line three\n\n");
    auto again = srv.request("GET", "/events", {}, {"Last-Event-ID: 41"});
    CHECK(again.body.find("id: after-41\n") != std::string::npos);
}

TEST_CASE("sse: heartbeats while waiting, on the fake clock") {
    Router app;
    REQUIRE(app.get("/beat", [](Request&, Response& res) -> Task<> {
        EventStream events = res.event_stream({.heartbeat = std::chrono::milliseconds(30),
                                               .retry = std::chrono::milliseconds(1500)});
        CHECK(co_await events.wait(std::chrono::milliseconds(100)));
        (void)co_await events.send("", "done");
    }));
    TestServer srv(app, small_limits(true));
    auto r = srv.get("/beat");
    CHECK(r.status == 200);
    CHECK(r.body == "retry: 1500\n\n:\n\n:\n\n:\n\ndata: done\n\n");
}

TEST_CASE("sse: hub messages arrive as events; a disconnect ends the handler at once") {
    Router app;
    Hub hub({.backlog = 4, .max_message = 1024});
    Hub* h = &hub;
    std::atomic<int> ended{0};
    std::atomic<int>* endp = &ended;
    REQUIRE(app.get("/feed", [h, endp](Request&, Response& res) -> Task<> {
        EventStream events = res.event_stream();
        CHECK(h->subscribe(events));
        auto r = co_await events.run();
        CHECK(!r);  // only a disconnect ends it
        ++*endp;
    }));
    TestServer srv(app, small_limits());
    std::atomic<int> step{0};
    std::string got;
    std::thread client([&] {
        int fd = gust_test::connect_loopback(srv.port());
        if (fd >= 0) {
            const char req[] = "GET /feed HTTP/1.1\r\nHost: x\r\n\r\n";
            (void)::send(fd, req, sizeof req - 1, 0);
            char buf[4096];
            while (got.find("second") == std::string::npos) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
                got.append(buf, size_t(n));
                if (got.find("\r\n\r\n") != std::string::npos) step = 1;
            }
        }
        if (fd >= 0) ::close(fd);
        step = 2;
    });
    srv.loop().run_until([&] { return step.load() >= 1 && hub.stats().subscribers == 1; }, std::chrono::seconds(10));
    REQUIRE(hub.publish("status", "{\"n\":1}", "7"));
    REQUIRE(hub.publish("second"));
    srv.loop().run_until([&] { return step.load() == 2; }, std::chrono::seconds(10));
    client.join();
    srv.loop().run_until([&] { return ended.load() == 1; }, std::chrono::seconds(2));
    CHECK(ended.load() == 1);
    CHECK(got.find("event: status\nid: 7\ndata: {\"n\":1}\n\n") != std::string::npos);
    CHECK(got.find("data: second\n\n") != std::string::npos);
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(2));
    CHECK(srv.server().stats().connections_open == 0);
    CHECK(hub.stats().subscribers == 0);
    CHECK(srv.server().stats().buffers_in_use == 0);
}
