// gust::Router: maps a method and a path to a coroutine handler, with path
// parameters ("/sensors/{id}"), 404 for unknown paths and 405 (with the Allow
// list) for a known path and a wrong method. Routes live in a fixed table;
// patterns (and extension method names) are kept as views, so pass string
// literals (or strings that outlive the router). HEAD is answered by the GET
// handler when no HEAD route matches the path.
//
// Matching rules:
//  - Paths compare segment by segment, raw (not percent-decoded), case-sensitive;
//    "{name}" captures one non-empty segment; "/a" and "/a/" are different paths.
//  - Among the routes for the request's method that match the path, the most
//    specific wins: at the first segment where two patterns differ, a literal
//    beats a parameter ("/sensors/list" beats "/sensors/{id}"), whatever the
//    registration order. Patterns of the same shape ("/a/{x}" and "/a/{y}") for
//    one method are duplicates and rejected by add().
//  - 405 when some route matches the path but none for the method; Allow lists
//    the methods of every route matching the path in the order GET, HEAD, POST,
//    PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE, then extension methods in
//    registration order (HEAD whenever GET). Names that do not fit in
//    RouteMatch::allow are left out.
//  - 404 otherwise, and for paths that are not origin-form or hold a "." or
//    ".." segment.
//
//   Router app;
//   app.get("/hello", hello);                           // Task<> hello(Request&, Response&)
//   app.put("/api/upload/{name}", upload, {.max_body = 64 << 20});
//   app.route<SensorHandler>("/sensors/{id}");           // class with get/put/... methods
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include <gust/clock.hpp>
#include <gust/function.hpp>
#include <gust/http_parser.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>
#include <gust/websocket.hpp>

#ifndef GUST_MAX_ROUTES
#define GUST_MAX_ROUTES 64
#endif
#ifndef GUST_MAX_PATH_PARAMS
#define GUST_MAX_PATH_PARAMS 8
#endif

namespace gust {

class Request;
class Response;
class Cache;
class Auth;

// A request handler: a coroutine taking the request and the response. The
// callable may capture up to GUST_CALLBACK_CAPACITY bytes (pointers to app state).
using Handler = InplaceFunction<Task<>(Request&, Response&)>;

// Response caching for a GET route (the rules are in <gust/cache.hpp>, http::serve_cached);
// with Router::route<H>, for H::get only.
struct RouteCache {
    Cache* store = nullptr;      // where responses are kept; nullptr: not cached
    Duration ttl{0};             // how long a response stays fresh (a handler's max-age wins); 0: only concurrent requests share one
    std::string_view vary{};     // request headers that select a different response, "Accept, Accept-Language" (kept as a view)
    bool authenticated = false;  // also answer requests carrying Authorization from the cache
};

// Per-route overrides of the server's limits; zero keeps the server's value.
struct RouteOptions {
    uint64_t max_body = 0;       // largest accepted request body (413 above)
    Duration body_timeout{0};    // longest pause while the body arrives
    RouteCache cache{};          // GET routes only: serve through a Cache
    Auth* auth = nullptr;        // checked before the handler and the cache (<gust/auth.hpp>); must outlive the server
};

// Path parameters captured by a match: names are views into the pattern,
// values views into the request path (raw, not percent-decoded).
struct PathParams {
    struct Param {
        std::string_view name, value;
    };
    PathParams() {}
    // Only items[0, count) are set: the rest stay unwritten (the server makes one per request).
    union {
        Param items[GUST_MAX_PATH_PARAMS];
    };
    size_t count = 0;
    // The value of parameter `name`, or an empty view with data()==nullptr.
    std::string_view get(std::string_view name) const;
};

struct Route {
    std::string_view pattern;
    bool literal = true;           // no "{name}" segment: matches only the path equal to it
    http::Method method = http::Method::get;
    std::string_view method_name;  // for Method::other routes
    Handler handler;
    RouteOptions options;
    Handler inner;  // with options.cache: the application's handler, which `handler` wraps
    WebSocketHandler ws;         // a WebSocket route: runs after the handshake `handler` performs
    WebSocketOptions ws_options;
};

// The outcome of Router::match.
struct RouteMatch {
    const Route* route = nullptr;  // null when status != 0
    uint16_t status = 0;           // 404 or 405 when no route serves the request
    char allow[96];                // for 405: "GET, HEAD, PUT" (NUL-terminated); "" otherwise
};

class Router {
public:
    Router() = default;
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    // Adds a route; Errc::no_memory past GUST_MAX_ROUTES, Errc::invalid_argument for a bad
    // pattern (must start with '/'; "{name}" with name [A-Za-z0-9_]+ must fill a whole segment;
    // no repeated names; at most GUST_MAX_PATH_PARAMS; no empty segment except the last; no "."
    // or ".." segment; no '?', '#', space, control or non-ASCII byte), for an empty handler,
    // for Method::other (use the name overload), for a (method, pattern shape) already added, and
    // for options.cache.store on a method other than GET.
    Result<void> add(http::Method method, std::string_view pattern, Handler handler, RouteOptions options = {});
    // Adds a route for an extension method (e.g. "PROPFIND"; a token, case-sensitive).
    // Standard names ("GET", ...) register the standard method.
    Result<void> add(std::string_view method_name, std::string_view pattern, Handler handler, RouteOptions options = {});
    Result<void> get(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::get, p, static_cast<Handler&&>(h), o); }
    Result<void> head(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::head, p, static_cast<Handler&&>(h), o); }
    Result<void> post(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::post, p, static_cast<Handler&&>(h), o); }
    Result<void> put(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::put, p, static_cast<Handler&&>(h), o); }
    Result<void> patch(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::patch, p, static_cast<Handler&&>(h), o); }
    Result<void> del(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::delete_, p, static_cast<Handler&&>(h), o); }
    Result<void> options(std::string_view p, Handler h, RouteOptions o = {}) { return add(http::Method::options, p, static_cast<Handler&&>(h), o); }
    // A WebSocket endpoint (<gust/websocket.hpp>): GET `pattern` performs the
    // handshake, then `handler` owns the connection. Same pattern rules as add().
    Result<void> websocket(std::string_view pattern, WebSocketHandler handler, WebSocketOptions options = {});

    // Tornado's RequestHandler: registers every method H defines among get, post,
    // put, patch, del, head and options. A fresh H is made per request (in the
    // request's coroutine frame), so members are per-request state. All or nothing;
    // Errc::invalid_argument when H defines none of them.
    template <typename H>
    Result<void> route(std::string_view pattern, RouteOptions o = {});

    // Finds the route for `method` and `path`, filling `params`.
    // `method_name` is only read when method is Method::other. params.count is 0 unless a route matched.
    RouteMatch match(http::Method method, std::string_view method_name, std::string_view path,
                     PathParams& params) const;

    // Number of routes registered.
    size_t size() const { return count_; }
    // Puts every route added so far under `auth`, except those whose pattern is
    // listed in `except` (compared as written: "/hello"); returns how many.
    // Routes added later are not protected.
    size_t protect(Auth& auth, std::initializer_list<std::string_view> except = {});

private:
    Result<void> add_route(http::Method method, std::string_view method_name, std::string_view pattern,
                           Handler handler, RouteOptions options);
    const Route* find(http::Method method, std::string_view method_name, std::string_view path) const;

    Route routes_[GUST_MAX_ROUTES];
    size_t count_ = 0;
};

namespace detail {
template <typename H, auto Member>
Task<> call_member(Request& req, Response& res) {
    H handler;
    (void)co_await (handler.*Member)(req, res);
}
}  // namespace detail

template <typename H>
Result<void> Router::route(std::string_view pattern, RouteOptions o) {
    // All or nothing: on failure the methods added so far are removed again.
    size_t before = count_;
    Result<void> r;
    auto add_if = [&](http::Method m, Task<> (*fn)(Request&, Response&)) {
        RouteOptions mo = o;
        if (m != http::Method::get) mo.cache = {};  // the cache applies to get only
        if (r) r = add(m, pattern, fn, mo);
    };
    if constexpr (requires(H h, Request& q, Response& s) { h.get(q, s); }) add_if(http::Method::get, &detail::call_member<H, &H::get>);
    if constexpr (requires(H h, Request& q, Response& s) { h.head(q, s); }) add_if(http::Method::head, &detail::call_member<H, &H::head>);
    if constexpr (requires(H h, Request& q, Response& s) { h.post(q, s); }) add_if(http::Method::post, &detail::call_member<H, &H::post>);
    if constexpr (requires(H h, Request& q, Response& s) { h.put(q, s); }) add_if(http::Method::put, &detail::call_member<H, &H::put>);
    if constexpr (requires(H h, Request& q, Response& s) { h.patch(q, s); }) add_if(http::Method::patch, &detail::call_member<H, &H::patch>);
    if constexpr (requires(H h, Request& q, Response& s) { h.del(q, s); }) add_if(http::Method::delete_, &detail::call_member<H, &H::del>);
    if constexpr (requires(H h, Request& q, Response& s) { h.options(q, s); }) add_if(http::Method::options, &detail::call_member<H, &H::options>);
    if (r && count_ == before) r = Error(Errc::invalid_argument, "route: H has none of get/head/post/put/patch/del/options");
    if (!r) {
        while (count_ > before) {
            --count_;
            routes_[count_] = Route();
        }
    }
    return r;
}

// ---- URL helpers ----------------------------------------------------------------

// Percent-decodes `in` into `out` ('+' stays '+' unless plus_is_space); returns the
// decoded view into `out`. Errc::protocol for a bad escape ("%", "%4", "%zz"; checked
// before the size), Errc::too_large if out is short. "%00" decodes to a NUL byte.
Result<std::string_view> percent_decode(std::string_view in, std::span<char> out, bool plus_is_space = false);

// The raw (still encoded) value of the first `name` in a query string "a=1&b=2"
// (a view into `query`), or an empty view with data()==nullptr when absent. Names
// compare after decoding ('+' as space); a pair without '=' ("a") has an empty,
// non-null value.
std::string_view query_raw(std::string_view query, std::string_view name);

// The decoded value of `name` ('+' means space) into `out`; Errc::not_found when absent,
// else as percent_decode.
Result<std::string_view> query_value(std::string_view query, std::string_view name, std::span<char> out);

// Calls fn(name, value) for each raw pair of a query string, in order.
template <typename F>
void for_each_query(std::string_view query, F&& fn) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        size_t eq = pair.find('=');
        if (!pair.empty()) fn(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
}

}  // namespace gust
