// The WebSocket client against the server on one loop: echo, a subprotocol,
// a large message through the caller's message buffers, a refused upgrade,
// and the connection returned to nobody (closed) afterwards.
#include <doctest/doctest.h>

#include <string>

#include <gust/client.hpp>
#include <gust/http.hpp>
#include <gust/testing.hpp>
#include <gust/websocket.hpp>

#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

Task<> echo(WebSocket& ws) {
    for (;;) {
        auto m = co_await ws.receive();
        if (!m || m->is_close()) co_return;
        if (!co_await ws.send(m->type, m->data)) co_return;
    }
}

struct Outcome {
    bool done = false;
    std::string text, proto, big_ok, error;
    uint16_t refused_status = 0;
};

Task<> session(http::Client& client, uint16_t port, BufferPool& large, Outcome& out) {
    std::string base = "ws://127.0.0.1:" + std::to_string(port);
    {
        WebSocketClient link(client);
        std::string url = base + "/ws";
        auto c = co_await link.connect(url, {.subprotocols = "x.v2, x.v1", .message_buffers = &large});
        if (!c) {
            out.error = c.error().message;
            out.done = true;
            co_return;
        }
        out.proto = std::string(link.socket().subprotocol());
        (void)co_await link.socket().send_text("hi there");
        auto m = co_await link.socket().receive();
        if (m) out.text = std::string(m->text());
        std::string big(100000, 'q');
        (void)co_await link.socket().send_text(big);
        auto b = co_await link.socket().receive();
        out.big_ok = b && b->text() == big ? "yes" : "no";
        co_await link.close();
    }
    {
        WebSocketClient link(client);
        std::string url = base + "/plain";
        auto c = co_await link.connect(url);
        out.refused_status = c ? 0 : link.status();
    }
    out.done = true;
}

}  // namespace

TEST_CASE("websocket client: echo, subprotocol, large messages, refused upgrade") {
    Router app;
    REQUIRE(app.websocket("/ws", echo, {.subprotocols = "x.v1"}));
    REQUIRE(app.get("/plain", [](Request&, Response& res) -> Task<> {
        res.text("not a websocket");
        co_return;
    }));
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 16;
    o.server.websocket_max_message = 200000;
    TestServer srv(app, o);
    http::Client client(srv.loop(), {.max_connections = 4});
    REQUIRE(client.status());
    BufferPool large(2, 200000);
    Outcome out;
    REQUIRE(spawn(srv.loop(), session(client, srv.port(), large, out)));
    srv.loop().run_until([&] { return out.done; }, std::chrono::seconds(20));
    REQUIRE(out.done);
    CHECK(out.error == "");
    CHECK(out.text == "hi there");
    CHECK(out.proto == "x.v1");
    CHECK(out.big_ok == "yes");
    CHECK(out.refused_status == 200);
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(5));
    CHECK(client.stats().connections_open == 0);
    CHECK(large.in_use() == 0);
    CHECK(srv.server().stats().websockets_accepted == 1);
}
