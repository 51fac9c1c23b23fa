// statusd's live routes: WebSockets, Server-Sent Events and the dashboard.
//
//   GET /ws/echo     WebSocket: every text and binary message back, same opcode
//   GET /ws/status   WebSocket: the status JSON (as /api/status) once a second
//   GET /events      Server-Sent Events: the same JSON as "status" events
//   GET /            the dashboard (embedded at build time from web/), and its files
//
// One Hub carries the status to every /ws/status and /events client: the JSON
// is rendered once a second and written to each socket from the hub's slots.
#pragma once

#include <gust/hub.hpp>
#include <gust/loop.hpp>
#include <gust/router.hpp>
#include <gust/static_files.hpp>

#include "routes.hpp"

struct LiveContext {
    StatusdContext* status = nullptr;
    gust::Hub* hub = nullptr;                      // the status feed; HubOptions: max_message >= kStatusJsonBufferSize
    const gust::StaticBundle* web = nullptr;       // the dashboard's files; nullptr: no dashboard
    gust::Duration ping_interval = std::chrono::seconds(30);  // for /ws/* clients
    gust::Duration sse_heartbeat = std::chrono::seconds(15);  // for /events clients
};

// Registers the routes above; the handlers keep a pointer to `ctx`.
gust::Result<void> add_live_routes(gust::Router& app, LiveContext& ctx);

// Renders the status JSON and publishes it on ctx.hub (one "status" event).
gust::Result<void> publish_status(LiveContext& ctx);

// The dashboard bundle built from examples/statusd/web/ (generated file).
extern const gust::StaticBundle statusd_web;
