#include "upstream.hpp"

#include <gust/http.hpp>
#include <gust/json.hpp>
#include <gust/when.hpp>

using namespace gust;

namespace {

struct Probe {
    uint16_t status = 0;  // 0: no response
    uint64_t bytes = 0;
    int64_t ms = 0;
    const char* error = nullptr;  // static message
};

// One upstream; slots past ctx.count finish at once, so one when_all of
// kMaxUpstreams covers any count.
Task<Probe> probe(const UpstreamContext& ctx, int i) {
    Probe p;
    if (i >= ctx.count || !ctx.client) co_return p;
    const TimePoint t0 = Clock::now();
    http::FetchOptions o;
    o.request_timeout = ctx.timeout;
    o.connect_timeout = ctx.timeout;
    uint64_t* bytes = &p.bytes;
    o.on_chunk = [bytes](std::span<const uint8_t> d) {
        *bytes += d.size();
        return Result<void>();
    };
    auto r = co_await ctx.client->fetch(ctx.urls[i], std::move(o));
    p.ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    if (r) p.status = r->status();
    else p.error = r.error().message;
    co_return p;
}

Task<> api_upstream(Request&, Response& res, const UpstreamContext& ctx) {
    static_assert(kMaxUpstreams == 8, "one when_all argument per upstream slot");
    auto [r0, r1, r2, r3, r4, r5, r6, r7] = co_await when_all(probe(ctx, 0), probe(ctx, 1), probe(ctx, 2),
                                                                probe(ctx, 3), probe(ctx, 4), probe(ctx, 5),
                                                                probe(ctx, 6), probe(ctx, 7));
    const Result<Probe>* all[kMaxUpstreams] = {&r0, &r1, &r2, &r3, &r4, &r5, &r6, &r7};
    // Rendered and copied out without a suspension in between, so one static
    // buffer serves every request and the frame stays small.
    static char text[16384];
    JsonWriter j(text);
    j.begin_array();
    for (int i = 0; i < ctx.count; ++i) {
        const Result<Probe>& r = *all[i];
        j.begin_object();
        j.kv("url", ctx.urls[i]);
        j.key("status");
        if (r && r->status) j.value(int(r->status));
        else j.value(nullptr);
        j.kv("bytes", r ? r->bytes : uint64_t(0));
        j.kv("ms", r ? r->ms : int64_t(0));
        const char* error = r ? r->error : r.error().message;
        if (error) j.kv("error", error);
        j.end_object();
    }
    j.end_array();
    auto body = j.result();
    if (!body) {
        res.status(500).text("upstream summary too large");
        co_return;
    }
    res.send(*body, "application/json");
}

}  // namespace

Result<void> add_upstream_route(Router& app, UpstreamContext& ctx) {
    UpstreamContext* c = &ctx;
    return app.get("/api/upstream", [c](Request& req, Response& res) { return api_upstream(req, res, *c); });
}
