// Memory rule 1 for the client: after warm-up, keep-alive fetches (GET, POST
// with a body, a chunked response streamed to on_chunk, a redirect) make no
// heap allocation at all, server side included, and every pool drains back.
#include <doctest/doctest.h>

#include <string>

#include <gust/client.hpp>
#include <gust/http.hpp>

#include "alloc_counter.hpp"
#include "test_client_support.hpp"

using namespace gust;
using namespace gust_test;

namespace {

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

Task<> echo(Request& req, Response& res) {
    auto body = co_await req.body();
    if (!body) co_return;
    res.send(*body, "application/octet-stream");
}

Task<> chunks(Request&, Response& res) {
    for (int i = 0; i < 3; ++i)
        if (!co_await res.write("0123456789")) co_return;
    (void)co_await res.finish();
}

Task<> moved(Request&, Response& res) {
    res.status(302).header("Location", "/hello").text("moved");
    co_return;
}

struct Tally {
    int ok = 0;
    int done = 0;
    uint64_t streamed = 0;
};

// `rounds` x (GET, POST, chunked stream, redirect) on one connection.
Task<> drive(http::Client& client, const std::string* urls, int rounds, Tally& t) {
    static const char kBody[] = "a request body of some length";
    for (int i = 0; i < rounds; ++i) {
        auto a = co_await client.fetch(urls[0]);
        t.ok += a && a->body() == "Hello, world!";
        auto b = co_await client.fetch(urls[1], {.method = http::Method::post, .body = kBody});
        t.ok += b && b->body() == kBody;
        http::FetchOptions o;
        o.on_chunk = [&t](std::span<const uint8_t> d) {
            t.streamed += d.size();
            return Result<void>();
        };
        auto c = co_await client.fetch(urls[2], std::move(o));
        t.ok += c && c->body_size() == 30;
        auto d = co_await client.fetch(urls[3]);
        t.ok += d && d->redirects() == 1 && d->body() == "Hello, world!";
        t.done += 4;
    }
}

}  // namespace

TEST_CASE("client: zero heap allocations over 1000 keep-alive fetches after warm-up") {
    Limits l = test_limits();
    l.max_connections = 16;
    Loop loop(l);
    Router app;
    REQUIRE(app.get("/hello", hello));
    REQUIRE(app.post("/echo", echo));
    REQUIRE(app.get("/chunks", chunks));
    REQUIRE(app.get("/moved", moved));
    http::Server server(loop, app, {.http = "127.0.0.1:0"});
    REQUIRE(server.status());
    http::Client client(loop);
    REQUIRE(client.status());
    const std::string urls[] = {url(server.port(), "/hello"), url(server.port(), "/echo"),
                                url(server.port(), "/chunks"), url(server.port(), "/moved")};

    Tally warm;
    Task<> w = drive(client, urls, 10, warm);
    w.start();
    REQUIRE(loop.run_until([&] { return w.done(); }, 20s));
    w = Task<>();
    REQUIRE(warm.ok == 40);

    Tally t;
    constexpr int kRounds = 250;  // 1000 fetches
    AllocationScope scope;
    const TimePoint t0 = Clock::now();
    Task<> run = drive(client, urls, kRounds, t);
    run.start();
    bool finished = loop.run_until([&] { return run.done(); }, 60s);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    run = Task<>();
    uint64_t allocations = scope.count();
    REQUIRE(finished);
    CHECK(t.done == 4 * kRounds);
    CHECK(t.ok == 4 * kRounds);
    CHECK(t.streamed == 30u * kRounds);
    MESSAGE("heap allocations over " << 4 * kRounds << " keep-alive fetches: " << allocations << "; "
            << int(4 * kRounds / seconds) << " fetches/s, client and server on one loop thread");
    CHECK(allocations == 0);
    CHECK(server.stats().connections_accepted == 1);
    http::ClientStats st = client.stats();
    CHECK(st.connections_opened == 1);
    CHECK(st.buffers_in_use == 0);
    CHECK(st.connections_idle == 1);
}
