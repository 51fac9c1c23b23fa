// The connection lifecycle: accept -> idle (no buffers, no coroutine) ->
// serving (a coroutine reads heads, runs handlers, writes responses, for as
// long as pipelined or keep-alive requests keep coming) -> idle or closed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <gust/cache.hpp>
#include <gust/frame_pool.hpp>
#include <gust/log.hpp>
#include <gust/sse.hpp>

#include "server_internal.hpp"

namespace gust::http {

const char* Server::Impl::date_header() {
    int64_t now = port::wall_clock_s();
    if (now != date_second) {
        constexpr std::string_view kPrefix = "Date: ";
        std::memcpy(date, kPrefix.data(), kPrefix.size());
        char* value = date + kPrefix.size();
        // Room for the value, then "\r\n" and the terminating NUL.
        std::string_view when = format_http_date(now, std::span<char>(value, sizeof date - kPrefix.size() - 2));
        std::memcpy(value + when.size(), "\r\n", 3);
        date_len = when.empty() ? 0 : kPrefix.size() + when.size() + 2;
        date_second = now;
    }
    return date;
}

int Server::Impl::busy_response(char* out, size_t size) {
    int n = std::snprintf(out, size,
                          "HTTP/1.1 503 Service Unavailable\r\n%sServer: %s\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 24\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
                          "503 Service Unavailable\n",
                          date_header(), options.server_name);
    ++stats.responses_5xx;
    return n > 0 && size_t(n) < size ? n : 0;
}

void Server::Impl::write_busy(int fd) {
    // One non-blocking write, best effort: a refused client gets no more of our time.
    char msg[256];
    int n = busy_response(msg, sizeof msg);
    if (n > 0) (void)port::write(fd, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg), size_t(n)));
}

// ---- Accepting -------------------------------------------------------------------

void Server::Impl::pause_accepting() {
    for (Listener& l : listeners)
        if (l.fd >= 0) (void)loop.on_readable(l.watch, nullptr);
}

void Server::Impl::resume_accepting() {
    for (Listener& l : listeners) {
        if (l.fd < 0) continue;
        if (l.tls) {
            tls_accept_paused = true;  // re-armed below, if the handshake cap allows
            update_tls_accepting();
        } else {
            (void)loop.on_readable(l.watch, [this, &l] { on_accept(l); });
        }
    }
}

void Server::Impl::update_tls_accepting() {
    // At the handshake cap, new TLS clients wait in the kernel's accept queue
    // (bounded by the listen backlog) instead of costing us memory and CPU.
    Listener& l = listeners[1];
    if (l.fd < 0 || draining || accept_backoff) return;
    bool pause = stats.tls_handshakes_active >= max_handshakes;
    if (pause == tls_accept_paused) return;
    tls_accept_paused = pause;
    if (pause)
        (void)loop.on_readable(l.watch, nullptr);
    else
        (void)loop.on_readable(l.watch, [this, &l] { on_accept(l); });
}

void Server::Impl::close_listeners() {
    for (Listener& l : listeners) {
        if (l.fd < 0) continue;
        loop.remove_watch(l.watch);
        port::close(l.fd);
        l.fd = -1;
    }
}

void Server::Impl::on_accept(Listener& l) {
    // Bounded per turn so a connection flood cannot starve the connections we have.
    for (int i = 0; i < 64; ++i) {
        port::Address peer;
        auto fd = port::tcp_accept(l.fd, &peer);
        if (!fd) {
            if (fd.error().code == Errc::again) return;
            if (fd.error().code == Errc::no_memory) {
                // Out of fds: stop accepting for a moment instead of spinning.
                log_warn("http: accept failed (%s); pausing accepts for 100 ms", fd.error().message);
                pause_accepting();
                auto t = loop.call_later(std::chrono::milliseconds(100), [this] {
                    accept_backoff = TimerId();
                    if (!draining) resume_accepting();
                });
                if (t) accept_backoff = *t;
                return;
            }
            log_warn("http: accept failed: %s", fd.error().message);
            return;
        }
        if (!open_connection(*fd, peer, l.tls)) {
            // Plain HTTP gets a 503 it can read; a TLS client would only see
            // garbage before its handshake, so it gets a bare close.
            if (!l.tls) write_busy(*fd);
            (void)port::shutdown_write(*fd);
            port::close(*fd);
        }
        if (l.tls && stats.tls_handshakes_active >= max_handshakes) {
            update_tls_accepting();
            return;
        }
    }
}

bool Server::Impl::open_connection(int fd, const port::Address& peer, bool tls) {
    if (free_conn == UINT32_MAX) {
        ++stats.connections_refused;
        return false;
    }
    TlsStream* ts = nullptr;
    if (tls) {
        if (tls_free_count == 0) {
            ++stats.tls_refused;
            log_debug("http: TLS connection refused at accept (%u open)", unsigned(stats.tls_connections_open));
            return false;
        }
        ts = tls_free[--tls_free_count];
    }
    Connection& c = conns[free_conn];
    c.io = ts ? static_cast<Stream*>(ts) : &c.tcp;
    (void)port::tcp_set_nodelay(fd, true);
    if (auto r = c.io->attach(loop, fd); !r) {
        log_warn("http: cannot watch a new connection: %s", r.error().message);
        if (ts) tls_free[tls_free_count++] = ts;
        c.io = &c.tcp;
        ++stats.connections_refused;
        return false;
    }
    if (ts) {
        if (auto r = ts->start_server(*options.tls); !r) {
            log_warn("http: cannot start TLS on a new connection: %s", r.error().message);
            ts->close();  // closes the fd too
            tls_free[tls_free_count++] = ts;
            c.io = &c.tcp;
            ++stats.tls_refused;
            return true;  // the fd is gone already
        }
    }
    free_conn = c.next_free;
    c.in_use = true;
    c.serving = false;
    c.close_after = false;
    c.peer = peer;
    c.tls = ts;
    ++stats.connections_accepted;
    if (++stats.connections_open > stats.connections_high_water) stats.connections_high_water = stats.connections_open;
    if (ts) {
        ++stats.tls_connections_open;
        ++stats.tls_handshakes_active;
        c.handshaking = true;
        c.handshake_deadline = loop.now() + options.handshake_timeout;
        go_idle(c, options.handshake_timeout);
    } else {
        go_idle(c, options.header_timeout);
    }
    return true;
}

void Server::Impl::close_connection(Connection& c) {
    if (!c.in_use) return;
    if (c.idle_timer) loop.cancel(c.idle_timer);
    c.idle_timer = TimerId();
    c.io->close();
    if (c.tls) {
        --stats.tls_connections_open;
        tls_free[tls_free_count++] = c.tls;
        c.tls = nullptr;
        if (c.handshaking) {
            --stats.tls_handshakes_active;
            c.handshaking = false;
            update_tls_accepting();
        }
    }
    c.handshaking = false;
    c.io = &c.tcp;
    c.in.reset();
    c.out.reset();
    c.json.reset();
    c.in_use = false;
    c.serving = false;
    c.upgrade = nullptr;
    c.ws = nullptr;
    c.events = nullptr;
    c.next_free = free_conn;
    free_conn = c.index;
    --stats.connections_open;
    if (draining) check_drained();
}

void Server::Impl::go_idle(Connection& c, Duration timeout) {
    c.serving = false;
    c.in.reset();
    c.out.reset();
    c.in_len = c.in_pos = c.body_base = 0;
    if (draining) {
        close_connection(c);
        return;
    }
    auto t = loop.call_later(timeout, [this, &c] {
        c.idle_timer = TimerId();
        if (c.handshaking) ++stats.tls_handshake_failures;  // never started: a silent client
        close_connection(c);
    });
    if (!t) {
        close_connection(c);
        return;
    }
    c.idle_timer = *t;
    (void)loop.on_readable(c.io->watch(), [this, &c] { start_serving(c); });
}

void Server::Impl::start_serving(Connection& c) {
    // This callback is destroyed by the next line: copy nothing from it after.
    Server::Impl* self = this;
    Connection* conn = &c;
    (void)self->loop.on_readable(conn->io->watch(), nullptr);
    if (conn->idle_timer) self->loop.cancel(conn->idle_timer);
    conn->idle_timer = TimerId();
    if (conn->task && !conn->task.done()) return;  // cannot happen: serving connections are not idle
    conn->task = self->serve(*conn);
    if (!conn->task) {
        log_warn("http: no coroutine frame for a request; answering 503");
        self->refuse_connection(*conn);
        return;
    }
    conn->serving = true;
    conn->task.start();
}

void Server::Impl::refuse_connection(Connection& c) {
    // Through the stream, so an HTTPS client reads it too; before a TLS
    // handshake there is nothing readable to say.
    if (!c.handshaking) {
        char msg[256];
        int n = busy_response(msg, sizeof msg);
        uint8_t need;
        if (n > 0) (void)c.io->try_write(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(msg), size_t(n)), need);
    }
    (void)c.io->shutdown();
    close_connection(c);
}

Task<Result<void>> Server::Impl::handshake(Connection& c) {
    Duration left = c.handshake_deadline - loop.now();
    if (left <= Duration(0)) left = Duration(1);
    auto r = co_await c.tls->handshake(left);
    stats.tls_handshake_ns += uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           c.tls->handshake_time()).count());
    c.handshaking = false;
    --stats.tls_handshakes_active;
    update_tls_accepting();
    if (!r) {
        ++stats.tls_handshake_failures;
        char who[64];
        port::format_address(c.peer, who);
        log_info("http: TLS handshake with %s failed: %s", who, r.error().message);
        co_return r.error();
    }
    ++stats.tls_handshakes;
    co_return Result<void>();
}

// ---- Serving -------------------------------------------------------------------------

Task<Result<void>> Server::Impl::read_head(Connection& c, RequestParser& parser, RequestHead& head,
                                           std::span<Header> headers, ParseResult& result) {
    TimePoint deadline = loop.now() + options.header_timeout;
    for (;;) {
        result = parser.parse(std::string_view(c.in.chars(), c.in_len), head, headers);
        if (!result.incomplete()) co_return Result<void>();
        if (c.in_len == c.in.size()) {
            result.progress = Progress::failed;
            result.status = 431;
            co_return Result<void>();
        }
        Duration left = deadline - loop.now();
        if (left <= Duration(0)) co_return Error(Errc::timeout, "http: request head timed out");
        auto n = co_await c.io->read(c.in.span().subspan(c.in_len), left);
        if (!n) co_return n.error();
        if (*n == 0) co_return Error(Errc::closed, "http: client closed");
        c.in_len += *n;
        stats.bytes_in += *n;
    }
}

Task<Result<void>> Server::Impl::discard_body(Connection& c, const RequestHead& head) {
    // Skips what the handler left unread so the next request can be parsed;
    // more than kMaxDiscard is cheaper to refuse by closing.
    constexpr uint64_t kMaxDiscard = 256u << 10;
    uint8_t sink[512];
    Request req;
    req.conn_ = &c;
    req.head_ = &head;
    uint64_t skipped = 0;
    while (!c.body_done && !c.close_after) {
        if (skipped > kMaxDiscard) co_return Error(Errc::too_large, "http: unread request body too large to skip");
        auto r = co_await req.read(std::span<uint8_t>(sink, sizeof sink));
        if (!r) co_return r.error();
        skipped += *r;
    }
    co_return Result<void>();
}

Task<> Server::Impl::serve(Connection& c) {
    if (c.handshaking) {
        auto hs = co_await handshake(c);
        if (!hs) {
            reap_later(c);
            close_connection(c);
            co_return;
        }
        if (!c.tls->has_buffered()) {
            // Nothing sent yet: wait without a buffer, like any idle connection.
            reap_later(c);
            go_idle(c, options.header_timeout);
            co_return;
        }
    }
    c.in = buffers->acquire();
    if (!c.in) {
        log_warn("http: all %zu buffers in use; answering 503", buffers->capacity());
        refuse_connection(c);
        co_return;
    }
    ParserLimits limits;
    limits.max_target = options.max_target;
    limits.max_head = c.in.size();
    RequestParser parser(limits);
    Header headers[GUST_HTTP_MAX_HEADERS];
    for (;;) {
        // Pipelined bytes left by the previous request move to the front.
        if (c.in_pos > 0) {
            std::memmove(c.in.data(), c.in.data() + c.in_pos, c.in_len - c.in_pos);
            c.in_len -= c.in_pos;
            c.in_pos = 0;
        }
        parser.reset();
        RequestHead head;
        ParseResult parsed;
        auto got = co_await read_head(c, parser, head, headers, parsed);
        if (!got) {
            if (got.error().code == Errc::timeout && c.in_len > 0) {
                c.close_after = true;
                (void)co_await send_error(c, 408);
            }
            break;
        }
        ++stats.requests;
        c.head_only = head.method == Method::head;
        c.version = head.version;
        c.close_after = false;
        c.out_exhausted = false;
        c.body_base = c.in_pos = parsed.consumed;
        c.framing = head.framing;
        c.body_left = head.framing == Framing::content_length ? head.content_length : 0;
        c.body_read = 0;
        c.body_done = head.framing == Framing::none || (head.framing == Framing::content_length && c.body_left == 0);
        c.body_error_status = 0;
        c.expect_continue = head.expect_continue && !c.body_done;
        if (parsed.failed()) {
            c.body_done = false;  // the framing cannot be trusted: close after answering
            c.close_after = true;
            (void)co_await send_error(c, parsed.status);
            break;
        }

        PathParams params;
        RouteMatch match = router.match(head.method, head.method_name, head.path, params);
        Request req;
        req.conn_ = &c;
        req.head_ = &head;
        req.params_ = &params;
        Response res;
        res.conn_ = &c;
        c.request = &req;
        c.response = &res;

        if (match.status) {
            (void)co_await send_error(c, match.status, match.status == 405 ? match.allow : nullptr);
        } else {
            const Route& route = *match.route;
            c.max_body = route.options.max_body ? route.options.max_body : options.max_body;
            c.body_timeout = route.options.body_timeout != Duration(0) ? route.options.body_timeout
                                                                         : options.body_timeout;
            c.chunked = ChunkedDecoder(ChunkedLimits{c.max_body, 1024, 4096});
            if (check_body_limit(head, c.max_body)) {
                c.close_after = true;
                (void)co_await send_error(c, 413);
                break;
            }
            Task<> handler = route.options.auth ? serve_authorized(c, route, req, res) : route.handler(req, res);
            if (!handler) {
                log_warn("http: no coroutine frame for %.*s; answering 503", int(head.path.size()), head.path.data());
                (void)co_await send_error(c, 503);
            } else {
                auto done = co_await handler;
                handler = Task<>();  // free the handler's frame before writing
                if (c.body_error_status) {
                    // A broken or oversized body: answer it, or, when the head is
                    // already out, cut the response so it cannot pass as complete.
                    if (!res.head_sent()) {
                        c.out.reset();
                        (void)co_await send_error(c, c.body_error_status);
                    }
                    c.close_after = true;
                } else if (!done || res.failed_) {
                    if (!res.head_sent()) {
                        c.out.reset();
                        bool exhausted = c.out_exhausted || (!done && done.error().code == Errc::no_memory);
                        (void)co_await send_error(c, exhausted ? 503 : 500);
                    } else {
                        c.close_after = true;  // the head is out: all we can do is cut the response
                    }
                } else if (!res.head_sent()) {
                    if (!res.complete()) res.send({}, {});  // the handler set nothing: an empty body
                    if (res.failed_) {
                        c.out.reset();
                        (void)co_await send_error(c, c.out_exhausted ? 503 : 500);
                    } else {
                        res.head_sent_ = true;
                        auto r = co_await flush(c);
                        if (!r) c.close_after = true;
                    }
                } else if (!res.complete()) {
                    auto r = co_await res.finish();
                    if (!r) c.close_after = true;
                }
            }
        }
        c.json.reset();
        c.out.reset();
        c.request = nullptr;
        c.response = nullptr;
        if (c.upgrade) {
            // A WebSocket handshake succeeded: this coroutine ends and the
            // reaper starts the session, which owns the connection from now on.
            reap_later(c);
            co_return;
        }
        if (!c.body_done && !c.close_after) {
            auto r = co_await discard_body(c, head);
            if (!r) c.close_after = true;
        }
        if (c.close_after || draining) break;
        // A pipelined request is waiting, in our buffer or inside a TLS record.
        if (c.in_pos < c.in_len || c.io->has_buffered()) continue;
        // Idle: give the buffers back and end this coroutine.
        reap_later(c);
        go_idle(c, options.idle_timeout);
        co_return;
    }
    reap_later(c);
    if (c.io->is_open()) (void)c.io->shutdown();
    close_connection(c);
}

void Server::Impl::reap_later(Connection& c) {
    // The coroutine cannot destroy its own frame; the loop does it next turn.
    c.reap.run = [](ReadyNode* n) {
        Connection* conn = static_cast<Connection::Reaper*>(n)->conn;
        if (conn->task.done()) {
            conn->task = Task<>();
            if (conn->upgrade) conn->server->start_websocket(*conn);
        }
    };
    loop.schedule(c.reap);
}

// ---- Shutdown ------------------------------------------------------------------------

void Server::Impl::check_drained() {
    if (!draining || stats.connections_open != 0 || !drain_done) return;
    if (drain_timer) loop.cancel(drain_timer);
    drain_timer = TimerId();
    Callback done = static_cast<Callback&&>(drain_done);
    done();
}

void Server::shutdown(Callback done) {
    Impl& s = *impl_;
    if (s.draining) return;
    s.draining = true;
    s.drain_done = static_cast<Callback&&>(done);
    s.close_listeners();
    if (s.accept_backoff) s.loop.cancel(s.accept_backoff);
    log_info("http: draining %u connection(s)", unsigned(s.stats.connections_open));
    for (uint32_t i = 0; i < s.max_conns; ++i) {
        if (s.conns[i].in_use && !s.conns[i].serving) s.close_connection(s.conns[i]);
        else if (s.conns[i].ws) s.conns[i].ws->go_away();  // 1001; the client's answer ends the session
        else if (s.conns[i].events) s.conns[i].events->end();  // an event stream never ends by itself
    }
    auto t = s.loop.call_later(s.options.drain_timeout, [&s] {
        s.drain_timer = TimerId();
        log_warn("http: drain deadline passed; closing %u connection(s)", unsigned(s.stats.connections_open));
        for (uint32_t i = 0; i < s.max_conns; ++i) {
            Connection& c = s.conns[i];
            if (!c.in_use) continue;
            c.task = Task<>();  // cancels the handler where it waits
            s.close_connection(c);
        }
        s.check_drained();
    });
    if (t) s.drain_timer = *t;
    s.check_drained();
}

// ---- Construction --------------------------------------------------------------------

Server::Server(Loop& loop, Router& router, const ServerOptions& options)
    : impl_(new (std::nothrow) Impl(loop, router, options)) {
    if (!impl_) return;
    Impl& s = *impl_;
    if (!options.http && !options.https) {
        s.error = Error(Errc::invalid_argument, "http: ServerOptions::http or ::https (ADDR:PORT) is required");
        return;
    }
    if (options.https && (!options.tls || !options.tls->ready())) {
        s.error = Error(Errc::invalid_argument, "http: ServerOptions::https needs a TlsServerConfig with a certificate");
        log_error("%s", s.error.message);
        return;
    }
    const Limits& limits = loop.limits();
    s.max_conns = options.max_connections ? options.max_connections : limits.max_connections;
    uint32_t nbuf = options.buffers ? options.buffers : (2 * s.max_conns < 2048 ? 2 * s.max_conns : 2048);
    if (options.https) {
        s.max_tls = options.max_tls_connections ? options.max_tls_connections : limits.max_tls_connections;
        if (s.max_tls > s.max_conns) s.max_tls = s.max_conns;
        s.max_handshakes = options.max_tls_handshakes ? options.max_tls_handshakes : limits.max_tls_handshakes;
    }
    // Start-up only: connection slots, TLS streams and buffers are reserved once.
    s.conns = new (std::nothrow) Connection[s.max_conns];
    s.buffers = new (std::nothrow) BufferPool(nbuf, options.buffer_size);
    if (options.websocket_buffers && options.websocket_max_message > options.buffer_size)
        s.ws_buffers = new (std::nothrow) BufferPool(options.websocket_buffers, size_t(options.websocket_max_message));
    if (s.ws_buffers && s.ws_buffers->capacity() != options.websocket_buffers) {
        log_warn("http: cannot reserve WebSocket message buffers; messages over %u bytes will be refused",
                 unsigned(options.buffer_size));
        delete s.ws_buffers;
        s.ws_buffers = nullptr;
    }
    if (s.max_tls) {
        s.tls_streams = new (std::nothrow) TlsStream[s.max_tls];
        s.tls_free = new (std::nothrow) TlsStream*[s.max_tls];
    }
    if (!s.conns || !s.buffers || s.buffers->capacity() != nbuf || (s.max_tls && (!s.tls_streams || !s.tls_free))) {
        s.error = Error(Errc::no_memory, "http: cannot reserve connections and buffers");
        return;
    }
    for (uint32_t i = 0; i < s.max_tls; ++i) s.tls_free[i] = &s.tls_streams[s.max_tls - 1 - i];
    s.tls_free_count = s.max_tls;
    s.stats.buffers_capacity = nbuf;
    for (uint32_t i = 0; i < s.max_conns; ++i) {
        s.conns[i].server = &s;
        s.conns[i].index = i;
        s.conns[i].reap.conn = &s.conns[i];
        s.conns[i].next_free = i + 1 < s.max_conns ? i + 1 : UINT32_MAX;
    }
    s.free_conn = s.max_conns ? 0 : UINT32_MAX;
    // Each request in flight holds one 4 KiB coroutine frame; say so at start
    // rather than with 503s under load.
    uint32_t big_frames = FramePool::local().capacity_from(kRequestFrameClass);
    if (big_frames < s.max_conns)
        log_warn("http: %u connections but only %u coroutine frames of 4 KiB or more: requests beyond %u at "
                 "once get 503 (raise Limits::frame_counts[%d])",
                 unsigned(s.max_conns), unsigned(big_frames), unsigned(big_frames), kRequestFrameClass);
    if (options.http) {
        if (auto r = s.listen(s.listeners[0], options.http, false); !r) return;
    }
    if (options.https) {
        if (auto r = s.listen(s.listeners[1], options.https, true); !r) return;
    }
    s.resume_accepting();
}

Result<void> Server::Impl::listen(Listener& l, const char* address, bool tls) {
    auto addr = port::parse_address(address);
    if (!addr) {
        error = addr.error();
        log_error("http: bad listen address '%s': %s", address, addr.error().message);
        return error;
    }
    auto fd = port::tcp_listen(*addr, 511);
    if (!fd) {
        error = fd.error();
        log_error("http: cannot listen on %s: %s", address, fd.error().message);
        return error;
    }
    auto w = loop.add_watch(*fd);
    if (!w) {
        port::close(*fd);
        error = w.error();
        return error;
    }
    l.fd = *fd;
    l.watch = *w;
    l.tls = tls;
    auto local = port::local_address(l.fd);
    l.port = local ? local->port() : 0;
    return {};
}

Server::~Server() {
    if (!impl_) return;
    Impl& s = *impl_;
    // Handlers go first: their frames hold buffers and watch the streams.
    for (uint32_t i = 0; s.conns && i < s.max_conns; ++i) {
        s.conns[i].task = Task<>();
        s.loop.unschedule(s.conns[i].reap);
    }
    s.draining = false;
    for (uint32_t i = 0; s.conns && i < s.max_conns; ++i) s.close_connection(s.conns[i]);
    s.close_listeners();
    if (s.accept_backoff) s.loop.cancel(s.accept_backoff);
    if (s.drain_timer) s.loop.cancel(s.drain_timer);
    delete[] s.conns;
    delete[] s.tls_streams;
    delete[] s.tls_free;
    delete s.buffers;
    delete s.ws_buffers;
    delete impl_;
}

Result<void> Server::status() const {
    if (!impl_) return Error(Errc::no_memory, "http: cannot allocate the server");
    if (impl_->error.code != Errc::ok) return impl_->error;
    return {};
}

uint16_t Server::port() const { return impl_ ? impl_->listeners[0].port : 0; }

uint16_t Server::tls_port() const { return impl_ ? impl_->listeners[1].port : 0; }

ServerStats Server::stats() const {
    ServerStats st = impl_->stats;
    st.buffers_in_use = uint32_t(impl_->buffers ? impl_->buffers->in_use() : 0);
    st.buffers_high_water = uint32_t(impl_->buffers ? impl_->buffers->high_water() : 0);
    return st;
}

}  // namespace gust::http
