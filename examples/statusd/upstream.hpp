// GET /api/upstream: statusd as a client. Every URL given with --upstream is
// fetched at once (when_all, Tornado's gen.multi) and the answer summarises
// them as a JSON array, in the order given:
//   [{"url": "...", "status": 200, "bytes": 1234, "ms": 12}, {"url": "...", "status": null, "bytes": 0,
//     "ms": 3, "error": "client: connection refused"}]
// Bodies are counted as they stream past, never held, so their size is not bounded.
#pragma once

#include <gust/client.hpp>
#include <gust/router.hpp>

// Most --upstream URLs.
inline constexpr int kMaxUpstreams = 8;

struct UpstreamContext {
    gust::http::Client* client = nullptr;  // null when no upstream is configured
    const char* urls[kMaxUpstreams] = {};  // must outlive the Router
    int count = 0;
    gust::Duration timeout = std::chrono::seconds(5);  // per upstream fetch
};

// Registers GET /api/upstream on `app`; the handler keeps a pointer to `ctx`.
gust::Result<void> add_upstream_route(gust::Router& app, UpstreamContext& ctx);
