#include "live.hpp"

#include <cstdio>

#include <gust/sse.hpp>
#include <gust/status.hpp>
#include <gust/websocket.hpp>

using namespace gust;

namespace {

Task<> ws_echo(WebSocket& ws) {
    for (;;) {
        auto m = co_await ws.receive();
        if (!m || m->is_close()) co_return;
        if (!co_await ws.send(m->type, m->data)) co_return;
    }
}

// The hub writes the status; the handler only answers pings and waits for the close.
Task<> ws_status(WebSocket& ws, LiveContext& ctx) {
    if (!ctx.hub->subscribe(ws, true)) co_return;
    for (;;) {
        auto m = co_await ws.receive();
        if (!m || m->is_close()) co_return;
    }
}

Task<> events(Request&, Response& res, LiveContext& ctx) {
    EventStream stream = res.event_stream({.heartbeat = ctx.sse_heartbeat, .retry = std::chrono::seconds(2)});
    if (!ctx.hub->subscribe(stream, true)) co_return;
    (void)co_await stream.run();
}

}  // namespace

Result<void> publish_status(LiveContext& ctx) {
    static char json[kStatusJsonBufferSize];
    static uint64_t sequence = 0;
    auto text = render_status_json(*ctx.status, json);
    if (!text) return text.error();
    char id[24];
    int n = std::snprintf(id, sizeof id, "%llu", static_cast<unsigned long long>(++sequence));
    return ctx.hub->publish("status", *text, std::string_view(id, size_t(n)));
}

Result<void> add_live_routes(Router& app, LiveContext& ctx) {
    LiveContext* c = &ctx;
    Result<void> r;
    auto add = [&r](Result<void> step) {
        if (r && !step) r = step;
    };
    add(app.websocket("/ws/echo", ws_echo, {.ping_interval = ctx.ping_interval}));
    add(app.websocket("/ws/status", [c](WebSocket& ws) { return ws_status(ws, *c); },
                      {.ping_interval = ctx.ping_interval}));
    add(app.get("/events", [c](Request& req, Response& res) { return events(req, res, *c); }));
    if (ctx.web) add(add_static(app, *ctx.web));
    return r;
}
