// The WebSocket client: a connection from the http::Client's pool (its caps,
// resolver and TLS trust), an upgrade request, the 101 checked against our
// key, then the connection belongs to the WebSocket until it closes.
#include <cstdio>
#include <cstring>

#include <gust/log.hpp>
#include <gust/websocket.hpp>

#include "client_internal.hpp"

namespace gust {

namespace {

bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view t = value.substr(0, comma);
        while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
        while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
        if (http::iequals(t, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// Appends to out[at..) when it fits.
bool put(std::span<char> out, size_t& at, std::string_view s) {
    if (s.size() > out.size() - at) return false;
    std::memcpy(out.data() + at, s.data(), s.size());
    at += s.size();
    return true;
}

}  // namespace

WebSocketClient::~WebSocketClient() { drop(); }

void WebSocketClient::drop() {
    ws_.reset();  // before the stream it uses goes back
    if (conn_) {
        client_.impl()->release(*conn_, false);  // closes it: never pooled again
        conn_ = nullptr;
    }
    connected_ = false;
}

Task<Result<void>> WebSocketClient::connect(std::string_view url, const WebSocketConnectOptions& options) {
    drop();
    status_ = 0;
    http::Client::Impl& impl = *client_.impl();
    // ws:// and wss:// are http:// and https:// for everything up to the upgrade.
    char text[2048];
    size_t at = 0;
    if (url.substr(0, 5) == "ws://") {
        std::memcpy(text, "http://", 7);
        at = 7;
        url.remove_prefix(5);
    } else if (url.substr(0, 6) == "wss://") {
        std::memcpy(text, "https://", 8);
        at = 8;
        url.remove_prefix(6);
    } else {
        co_return Error(Errc::invalid_argument, "websocket: the URL must start with ws:// or wss://");
    }
    if (url.size() > sizeof text - at) co_return Error(Errc::too_large, "websocket: URL too long");
    std::memcpy(text + at, url.data(), url.size());
    auto parsed = http::parse_url(std::string_view(text, at + url.size()));
    if (!parsed) co_return parsed.error();
    const http::Url& u = *parsed;
    TimePoint deadline = http::deadline_after(impl.loop.now(), options.connect_timeout);

    const http::Origin origin{u.https, u.host, u.port};
    bool fresh = false;
    http::Conn* conn = impl.try_acquire(origin, fresh);
    if (!conn) {
        http::Waiter w(impl, origin, deadline);
        co_await w;
        if (w.error.code != Errc::ok) co_return w.error;
        conn = w.granted;
        w.granted = nullptr;
        fresh = w.fresh;
    }
    conn_ = conn;  // ours until drop(): a failure below closes it
    if (fresh) {
        auto r = co_await impl.connect(*conn, u, deadline, options.connect_timeout);
        if (!r) {
            drop();
            co_return r.error();
        }
    }
    ++impl.stats.requests;
    Stream& s = conn->stream();
    Buffer buf = impl.buffers->acquire();
    if (!buf) {
        drop();
        co_return Error(Errc::no_memory, "websocket: no buffer for the handshake");
    }
    char key_text[32];
    auto key = ws::make_client_key(key_text);
    if (!key) {
        drop();
        co_return key.error();
    }
    // The request.
    std::span<char> out(buf.chars(), buf.size());
    size_t n = 0;
    char port_text[8];
    int pn = std::snprintf(port_text, sizeof port_text, ":%u", unsigned(u.port));
    bool ok = put(out, n, "GET ") && put(out, n, u.path) && (!u.has_query || (put(out, n, "?") && put(out, n, u.query))) &&
              put(out, n, " HTTP/1.1\r\nHost: ") && (!u.ipv6 || put(out, n, "[")) && put(out, n, u.host) &&
              (!u.ipv6 || put(out, n, "]")) && (u.default_port || put(out, n, std::string_view(port_text, size_t(pn)))) &&
              put(out, n, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ") &&
              put(out, n, *key) && put(out, n, "\r\n");
    if (ok && !options.subprotocols.empty())
        ok = put(out, n, "Sec-WebSocket-Protocol: ") && put(out, n, options.subprotocols) && put(out, n, "\r\n");
    for (const http::Header& h : options.headers) {
        if (!ok) break;
        ok = put(out, n, h.name) && put(out, n, ": ") && put(out, n, h.value) && put(out, n, "\r\n");
    }
    if (ok && impl.options.user_agent && *impl.options.user_agent)
        ok = put(out, n, "User-Agent: ") && put(out, n, impl.options.user_agent) && put(out, n, "\r\n");
    ok = ok && put(out, n, "\r\n");
    if (!ok) {
        drop();
        co_return Error(Errc::too_large, "websocket: handshake request larger than a buffer");
    }
    auto w = co_await s.write_all({buf.data(), n}, deadline - impl.loop.now());
    if (!w) {
        drop();
        co_return w.error();
    }
    // The answer: a 101 head, maybe followed by the first frames.
    http::Header headers[GUST_CLIENT_MAX_HEADERS];
    http::ResponseParser parser(buf.size());
    http::ResponseHead head;
    size_t len = 0;
    http::ParseResult pr;
    for (;;) {
        pr = parser.parse(std::string_view(buf.chars(), len), head, headers);
        if (!pr.incomplete()) break;
        Duration left = deadline - impl.loop.now();
        if (left <= Duration(0) || len == buf.size()) {
            drop();
            co_return Error(left <= Duration(0) ? Errc::timeout : Errc::too_large, "websocket: no handshake answer");
        }
        auto r = co_await s.read(buf.span().subspan(len), left);
        if (!r || *r == 0) {
            drop();
            co_return r ? Error(Errc::closed, "websocket: the server closed during the handshake") : r.error();
        }
        len += *r;
    }
    if (pr.failed()) {
        drop();
        co_return pr.error;
    }
    status_ = head.status;
    char expect_text[32];
    auto expect = ws::accept_key(*key, expect_text);
    std::string_view protocol = head.header("Sec-WebSocket-Protocol");
    if (head.status != 101 || !has_token(head.header("Upgrade"), "websocket") ||
        !has_token(head.header("Connection"), "upgrade") || !expect || head.header("Sec-WebSocket-Accept") != *expect ||
        (protocol.data() && (options.subprotocols.empty() || !has_token(options.subprotocols, protocol) ||
                             protocol.size() >= sizeof subprotocol_))) {
        drop();
        co_return Error(Errc::protocol, head.status == 101 ? "websocket: the server's handshake answer is wrong"
                                                           : "websocket: the server refused the upgrade");
    }
    if (protocol.data()) std::memcpy(subprotocol_, protocol.data(), protocol.size());
    subprotocol_[protocol.data() ? protocol.size() : 0] = 0;

    ws::Transport t;
    t.loop = &impl.loop;
    t.io = &s;
    t.role = ws::Role::client;
    t.small = impl.buffers;
    t.large = options.message_buffers;
    uint64_t cap = impl.buffers->buffer_size();
    if (options.message_buffers && options.message_buffers->buffer_size() > cap) cap = options.message_buffers->buffer_size();
    t.max_message = options.max_message && options.max_message < cap ? options.max_message : cap;
    t.io_timeout = options.io_timeout;
    t.ping_interval = options.ping_interval;
    t.close_timeout = options.close_timeout;
    t.subprotocol = subprotocol_;
    ws_.emplace(t);
    ws_.get().carry(static_cast<Buffer&&>(buf), pr.consumed, len);
    connected_ = true;
    co_return Result<void>();
}

Task<> WebSocketClient::close(uint16_t code) {
    if (ws_.full()) co_await ws_.get().finish(code);
    drop();
}

}  // namespace gust
