// The server side of WebSocket: the route, the handshake (a GET handler that
// answers 101 itself or refuses with 400/403/426), and the session that owns
// the connection afterwards. The serve coroutine ends after a 101 (its 4 KiB
// frame and buffers go back to their pools) and the session starts on the
// next turn (Server::Impl::upgrade_queue) in a frame of its own.
#include <cstdio>
#include <cstring>

#include <gust/log.hpp>
#include <gust/router.hpp>
#include <gust/websocket.hpp>

#include "server_internal.hpp"

namespace gust {

namespace http {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// The first protocol the client offers that the route accepts ("" when none).
std::string_view choose_subprotocol(std::string_view offered, std::string_view accepted) {
    while (!offered.empty()) {
        size_t comma = offered.find(',');
        std::string_view p = trim(offered.substr(0, comma));
        std::string_view list = accepted;
        while (!p.empty() && !list.empty()) {
            size_t c = list.find(',');
            std::string_view a = trim(list.substr(0, c));
            if (a == p) return a;  // a view into the route's options, which outlive the session
            if (c == std::string_view::npos) break;
            list.remove_prefix(c + 1);
        }
        if (comma == std::string_view::npos) break;
        offered.remove_prefix(comma + 1);
    }
    return {};
}

// Same origin: the Origin's host[:port] is the Host the request was sent to.
bool same_origin(const Request& req) {
    std::string_view origin = req.header("Origin");
    if (!origin.data()) return true;  // not a browser: nothing to protect
    for (std::string_view scheme : {"http://", "https://"}) {
        if (origin.size() > scheme.size() && iequals(origin.substr(0, scheme.size()), scheme))
            return iequals(origin.substr(scheme.size()), req.header("Host"));
    }
    return false;
}

}  // namespace

struct WebSocketAccess {
    static Task<> handshake(const Route& route, Request& req, Response& res);
};

Task<> WebSocketAccess::handshake(const Route& route, Request& req, Response& res) {
    Connection& c = *req.conn_;
    Server::Impl& s = *c.server;
    // A refused upgrade closes the connection: a client that asked to upgrade
    // may already be sending frames, which must not be read as HTTP.
    const bool close_anyway = c.close_after;
    c.close_after = true;
    std::string_view version = req.header("Sec-WebSocket-Version");
    std::string_view key = trim(req.header("Sec-WebSocket-Key"));
    if (version.data() && trim(version) != "13") {
        res.status(426).header("Sec-WebSocket-Version", "13").text("WebSocket version 13 only\n");
        co_return;
    }
    if (req.version() != Version::http11 || !version.data() || !has_token(req.header("Upgrade"), "websocket") ||
        !has_token(req.header("Connection"), "upgrade") || req.has_body()) {
        res.status(400).text("a WebSocket handshake needs HTTP/1.1 GET with Upgrade: websocket, Connection: Upgrade "
                             "and Sec-WebSocket-Version: 13\n");
        co_return;
    }
    if (!ws::valid_client_key(key)) {
        res.status(400).text("bad Sec-WebSocket-Key\n");
        co_return;
    }
    const WebSocketOptions& o = route.ws_options;
    if (o.check_origin ? !o.check_origin(req) : !same_origin(req)) {
        res.status(403).text("origin not allowed\n");
        co_return;
    }
    char accept_buf[32];
    auto accept = ws::accept_key(key, accept_buf);
    if (!accept) {
        res.status(500).text("handshake failed\n");
        co_return;
    }
    std::string_view protocol = o.subprotocols.empty() ? std::string_view()
                                                       : choose_subprotocol(req.header("Sec-WebSocket-Protocol"),
                                                                            o.subprotocols);
    char head[512];
    int n = std::snprintf(head, sizeof head,
                          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: %.*s\r\n%s%.*s%s%sServer: %s\r\n\r\n",
                          int(accept->size()), accept->data(), protocol.empty() ? "" : "Sec-WebSocket-Protocol: ",
                          int(protocol.size()), protocol.data(), protocol.empty() ? "" : "\r\n", s.date_header(),
                          s.options.server_name);
    // The response is ours from here: the server must not add one.
    res.head_sent_ = true;
    res.complete_ = true;
    c.close_after = close_anyway;
    if (n <= 0 || size_t(n) >= sizeof head) {
        c.close_after = true;
        co_return;
    }
    auto w = co_await c.io->write_all({reinterpret_cast<const uint8_t*>(head), size_t(n)}, s.options.write_timeout);
    if (!w) {
        c.close_after = true;
        co_return;
    }
    s.stats.bytes_out += size_t(n);
    ++s.stats.websockets_accepted;
    c.upgrade = &route;
    c.ws_subprotocol = protocol;
}

void Server::Impl::start_websocket(Connection& c) {
    const Route* route = c.upgrade;
    c.upgrade = nullptr;
    if (c.in_pos >= c.in_len) {
        c.in.reset();
        c.in_pos = c.in_len = 0;
    }
    ConnTask task = websocket_session(c, *route);
    if (!task.handle) {
        log_warn("http: no coroutine frame for a WebSocket session; closing it");
        close_connection(c);
        return;
    }
    start(c, task);
}

ConnTask Server::Impl::websocket_session(Connection& c, const Route& route) {
    ws::Transport t;
    t.loop = &loop;
    t.io = c.io;
    t.role = ws::Role::server;
    t.small = buffers;
    t.large = ws_buffers;
    uint64_t server_max = ws_buffers ? ws_buffers->buffer_size() : buffers->buffer_size();
    if (options.websocket_max_message < server_max) server_max = options.websocket_max_message;
    const WebSocketOptions& o = route.ws_options;
    t.max_message = o.max_message && o.max_message < server_max ? o.max_message : server_max;
    t.io_timeout = o.io_timeout;
    t.ping_interval = o.ping_interval;
    t.close_timeout = o.close_timeout;
    t.subprotocol = c.ws_subprotocol;
    {
        WebSocket ws(t);
        if (c.in) ws.carry(static_cast<Buffer&&>(c.in), c.in_pos, c.in_len);
        c.in_pos = c.in_len = 0;
        c.ws = &ws;
        ++stats.websockets_open;
        bool ran = false;
        {
            Task<> handler = route.ws(ws);
            if (!handler) {
                log_warn("http: no coroutine frame for a WebSocket handler; closing with 1011");
            } else {
                ran = true;
                (void)co_await handler;
            }
        }
        co_await ws.finish(!ran      ? ws::close_code::internal_error
                           : draining ? ws::close_code::going_away
                                      : ws::close_code::normal);
        c.ws = nullptr;
        --stats.websockets_open;
    }
    close_connection(c);
}

}  // namespace http

Result<void> Router::websocket(std::string_view pattern, WebSocketHandler handler, WebSocketOptions options) {
    if (!handler) return Error(Errc::invalid_argument, "Router::websocket: empty handler");
    // Added with a placeholder, then pointed at the handshake: routes never
    // move (fixed table, no copies), so the wrapper keeps a pointer to its own.
    auto placeholder = [](Request&, Response&) -> Task<> { co_return; };
    if (auto r = add(http::Method::get, pattern, placeholder); !r) return r;
    Route& route = routes_[count_ - 1];
    route.ws = static_cast<WebSocketHandler&&>(handler);
    route.ws_options = static_cast<WebSocketOptions&&>(options);
    const Route* self = &route;
    route.handler = [self](Request& req, Response& res) { return http::WebSocketAccess::handshake(*self, req, res); };
    return {};
}

}  // namespace gust
