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
    // The wall clock is read once per second of loop time, not per response:
    // until the loop passes the next wall-clock second the line stands. (The
    // fake clock of tests may stand still while real seconds pass: read it always.)
    const TimePoint turn = loop.now();
    if (turn < date_until && !port::fake_clock_enabled()) return date;
    const int64_t wall_ns = port::wall_clock_ns();
    date_until = turn + std::chrono::nanoseconds(1000000000 - wall_ns % 1000000000);
    int64_t now = wall_ns / 1000000000;
    if (now != date_second) {
        constexpr std::string_view kPrefix = "Date: ";
        std::memcpy(date, kPrefix.data(), kPrefix.size());
        char* value = date + kPrefix.size();
        // Room for the value, then "\r\n" and the terminating NUL.
        std::string_view when = format_http_date(now, std::span<char>(value, sizeof date - kPrefix.size() - 2));
        std::memcpy(value + when.size(), "\r\n", 3);
        date_len = when.empty() ? 0 : kPrefix.size() + when.size() + 2;
        date_second = now;
        std::memcpy(fixed, date, date_len);
        std::string_view name = options.server_name ? options.server_name : "";
        size_t room = sizeof fixed - date_len - 10;  // "Server: " and CRLF
        if (name.size() > room) name = name.substr(0, room);
        std::memcpy(fixed + date_len, "Server: ", 8);
        std::memcpy(fixed + date_len + 8, name.data(), name.size());
        std::memcpy(fixed + date_len + 8 + name.size(), "\r\n", 2);
        fixed_len = date_len + 10 + name.size();
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
    if (free_conn == UINT32_MAX && conns_made < max_conns) {
        // Slots are built on first use: pages no connection has reached stay untouched.
        Connection* c = new (&conns[conns_made]) Connection();
        c->server = this;
        c->index = conns_made++;
        free_conn = c->index;
    }
    if (free_conn == UINT32_MAX) {
        ++stats.connections_refused;
        return false;
    }
    TlsStream* ts = nullptr;
    if (tls) {
        if (tls_free_count == 0 && tls_made < max_tls) tls_free[tls_free_count++] = new (&tls_streams[tls_made++]) TlsStream();
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
    c.idle_callback = 0;
    c.peer = peer;
    c.tls = ts;
    ++stats.connections_accepted;
    if (++stats.connections_open > stats.connections_high_water) stats.connections_high_water = stats.connections_open;
    if (ts) {
        ++stats.tls_connections_open;
        ++stats.tls_handshakes_active;
        c.handshaking = true;
        c.handshake_deadline = loop.now() + options.handshake_timeout;
        go_idle(c, handshake_queue);
    } else {
        go_idle(c, header_queue);
    }
    return true;
}

void Server::Impl::close_connection(Connection& c) {
    if (!c.in_use) return;
    TimeoutQueue::remove(c);
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

void Server::Impl::start_upgraded(TimeoutEntry& e, void* self) {
    static_cast<Server::Impl*>(self)->start_websocket(static_cast<Connection&>(e));
}

void Server::Impl::expire(TimeoutEntry& e, void* self) {
    Server::Impl& s = *static_cast<Server::Impl*>(self);
    Connection& c = static_cast<Connection&>(e);
    if (c.handshaking) ++s.stats.tls_handshake_failures;  // never started: a silent client
    s.close_connection(c);
}

void Server::Impl::go_idle(Connection& c, TimeoutQueue& queue) {
    c.serving = false;
    c.in.reset();
    c.in_len = c.in_pos = c.body_base = 0;
    if (draining || !queue.add(c)) {
        close_connection(c);
        return;
    }
    // Usually still installed from the last time: start_serving leaves it in
    // place, and only a read that had to wait (or a stream change) replaced it.
    const WatchId watch = c.io->watch();
    if (loop.readable_version(watch) == c.idle_callback) return;
    (void)loop.on_readable(watch, [this, &c] { start_serving(c); });
    c.idle_callback = loop.readable_version(watch);
}

void Server::Impl::start_serving(Connection& c) {
    if (c.serving) {
        // Bytes arrived while a handler runs: stop hearing about them (the
        // watch is level-triggered) until the serve coroutine reads or idles.
        // This callback is destroyed by the next line: nothing may follow it.
        (void)loop.on_readable(c.io->watch(), nullptr);
        return;
    }
    TimeoutQueue::remove(c);
    ConnTask task = serve(c);
    if (!task.handle) {
        log_warn("http: no coroutine frame for a request; answering 503");
        refuse_connection(c);
        return;
    }
    start(c, task);
}

void Server::Impl::start(Connection& c, ConnTask task) {
    c.serving = true;
    c.running = task.handle;
    task.handle.resume();  // may finish (and free its frame) before returning
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

Task<Result<void>> Server::Impl::discard_body(Connection& c, const RequestHead& head) {
    // Skips what the handler left unread so the next request can be parsed;
    // more than kMaxDiscard is cheaper to refuse by closing.
    constexpr uint64_t kMaxDiscard = 256u << 10;
    uint8_t sink[512];
    Request req;
    req.conn_ = &c;
    req.head_ = &head;
    uint64_t skipped = 0;
    while (!c.ex->body_done && !c.close_after) {
        if (skipped > kMaxDiscard) co_return Error(Errc::too_large, "http: unread request body too large to skip");
        auto r = co_await req.read(std::span<uint8_t>(sink, sizeof sink));
        if (!r) co_return r.error();
        skipped += *r;
    }
    co_return Result<void>();
}

ConnTask Server::Impl::serve(Connection& c) {
    if (c.handshaking) {
        auto hs = co_await handshake(c);
        if (!hs) {
            close_connection(c);
            co_return;
        }
        if (!c.tls->has_buffered()) {
            // Nothing sent yet: wait without a buffer, like any idle connection.
            go_idle(c, header_queue);
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
    // Unwritten until the parser fills them: it never reads an entry it did not store.
    union HeaderSlots {
        HeaderSlots() {}
        Header items[GUST_HTTP_MAX_HEADERS];
    } headers;
    for (;;) {
        // Pipelined bytes left by the previous request move to the front.
        if (c.in_pos > 0) {
            std::memmove(c.in.data(), c.in.data() + c.in_pos, c.in_len - c.in_pos);
            c.in_len -= c.in_pos;
            c.in_pos = 0;
        }
        Exchange ex(c);
        parser.reset();
        RequestHead head;
        ParseResult parsed;
        // The head: parse what is buffered, read while it is incomplete. Inline
        // rather than a coroutine of its own: one frame less per request.
        Error failed;
        const TimePoint deadline = loop.now() + options.header_timeout;
        for (;;) {
            if (c.in_len > 0) {
                parsed = parser.parse(std::string_view(c.in.chars(), c.in_len), head, headers.items);
                if (!parsed.incomplete()) break;
                if (c.in_len == c.in.size()) {
                    parsed.progress = Progress::failed;
                    parsed.status = 431;
                    break;
                }
            }
            // The watch said readable, so the bytes are usually there: one
            // attempt before building an awaiter (and its timer) to wait.
            uint8_t need;
            Result<size_t> n = c.io->try_read(c.in.span().subspan(c.in_len), need);
            if (!n && n.error().code == Errc::again) {
                Duration left = deadline - loop.now();
                if (left <= Duration(0)) {
                    failed = Error(Errc::timeout, "http: request head timed out");
                    break;
                }
                n = co_await c.io->read(c.in.span().subspan(c.in_len), left);
            }
            if (!n || *n == 0) {
                failed = n ? Error(Errc::closed, "http: client closed") : n.error();
                break;
            }
            c.in_len += *n;
            stats.bytes_in += *n;
        }
        if (failed.code != Errc::ok) {
            if (failed.code == Errc::timeout && c.in_len > 0) {
                c.close_after = true;
                (void)co_await send_error(c, 408);
            }
            break;
        }
        ++stats.requests;
        ex.head_only = head.method == Method::head;
        ex.version = head.version;
        c.close_after = false;
        c.body_base = c.in_pos = parsed.consumed;
        ex.framing = head.framing;
        ex.body_left = head.framing == Framing::content_length ? head.content_length : 0;
        ex.body_done = head.framing == Framing::none || (head.framing == Framing::content_length && ex.body_left == 0);
        ex.expect_continue = head.expect_continue && !ex.body_done;
        if (parsed.failed()) {
            ex.body_done = false;  // the framing cannot be trusted: close after answering
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
        ex.request = &req;
        ex.response = &res;

        if (match.status) {
            (void)co_await send_error(c, match.status, match.status == 405 ? match.allow : nullptr);
        } else {
            const Route& route = *match.route;
            ex.max_body = route.options.max_body ? route.options.max_body : options.max_body;
            ex.body_timeout = route.options.body_timeout != Duration(0) ? route.options.body_timeout
                                                                          : options.body_timeout;
            if (ex.framing == Framing::chunked) ex.chunked = ChunkedDecoder(ChunkedLimits{ex.max_body, 1024, 4096});
            if (check_body_limit(head, ex.max_body)) {
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
                if (ex.body_error_status) {
                    // A broken or oversized body: answer it, or, when the head is
                    // already out, cut the response so it cannot pass as complete.
                    if (!res.head_sent()) {
                        ex.out.reset();
                        (void)co_await send_error(c, ex.body_error_status);
                    }
                    c.close_after = true;
                } else if (!done || res.failed_) {
                    if (!res.head_sent()) {
                        ex.out.reset();
                        bool exhausted = ex.out_exhausted || (!done && done.error().code == Errc::no_memory);
                        (void)co_await send_error(c, exhausted ? 503 : 500);
                    } else {
                        c.close_after = true;  // the head is out: all we can do is cut the response
                    }
                } else if (!res.head_sent()) {
                    if (!res.complete()) res.send({}, {});  // the handler set nothing: an empty body
                    if (res.failed_) {
                        ex.out.reset();
                        (void)co_await send_error(c, ex.out_exhausted ? 503 : 500);
                    } else {
                        // The staged response usually leaves in one write, with
                        // no coroutine frame for the wait that is not needed.
                        res.head_sent_ = true;
                        Result<bool> sent = try_flush(c);
                        if (sent && !*sent) {
                            auto r = co_await flush(c);
                            if (!r) sent = r.error();
                        }
                        if (!sent) c.close_after = true;
                    }
                } else if (!res.complete()) {
                    auto r = co_await res.finish();
                    if (!r) c.close_after = true;
                }
            }
        }
        ex.json.reset();
        ex.out.reset();
        ex.request = nullptr;
        ex.response = nullptr;
        if (c.upgrade) {
            // A WebSocket handshake succeeded: this coroutine ends (its frame
            // goes back to the pool) and the session starts on the next turn
            // in a frame of its own, owning the connection from then on.
            if (!upgrade_queue.add(c)) {
                log_warn("http: no timer to start a WebSocket session; closing it");
                c.upgrade = nullptr;
                break;
            }
            co_return;
        }
        if (!ex.body_done && !c.close_after) {
            auto r = co_await discard_body(c, head);
            if (!r) c.close_after = true;
        }
        if (c.close_after || draining) break;
        // A pipelined request is waiting, in our buffer or inside a TLS record.
        if (c.in_pos < c.in_len || c.io->has_buffered()) continue;
        // Idle: give the buffers back and end this coroutine.
        go_idle(c, idle_queue);
        co_return;
    }
    if (c.io->is_open()) (void)c.io->shutdown();
    close_connection(c);
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
    for (uint32_t i = 0; i < s.conns_made; ++i) {
        if (s.conns[i].in_use && !s.conns[i].serving) s.close_connection(s.conns[i]);
        else if (s.conns[i].ws) s.conns[i].ws->go_away();  // 1001; the client's answer ends the session
        else if (s.conns[i].events) s.conns[i].events->end();  // an event stream never ends by itself
    }
    auto t = s.loop.call_later(s.options.drain_timeout, [&s] {
        s.drain_timer = TimerId();
        log_warn("http: drain deadline passed; closing %u connection(s)", unsigned(s.stats.connections_open));
        for (uint32_t i = 0; i < s.conns_made; ++i) {
            Connection& c = s.conns[i];
            if (!c.in_use) continue;
            if (c.running) c.running.destroy();  // cancels the handler where it waits
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
    // Start-up only: connection slots, TLS streams and buffers are reserved
    // once, as raw memory; slots and streams are built on first use.
    s.conns = static_cast<Connection*>(std::malloc(sizeof(Connection) * (s.max_conns ? s.max_conns : 1)));
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
        s.tls_streams = static_cast<TlsStream*>(std::malloc(sizeof(TlsStream) * s.max_tls));
        s.tls_free = static_cast<TlsStream**>(std::malloc(sizeof(TlsStream*) * s.max_tls));
    }
    if (!s.conns || !s.buffers || s.buffers->capacity() != nbuf || (s.max_tls && (!s.tls_streams || !s.tls_free))) {
        s.error = Error(Errc::no_memory, "http: cannot reserve connections and buffers");
        return;
    }
    s.stats.buffers_capacity = nbuf;
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
    for (uint32_t i = 0; i < s.conns_made; ++i)
        if (s.conns[i].running) s.conns[i].running.destroy();
    s.draining = false;
    for (uint32_t i = 0; i < s.conns_made; ++i) s.close_connection(s.conns[i]);
    s.close_listeners();
    if (s.accept_backoff) s.loop.cancel(s.accept_backoff);
    if (s.drain_timer) s.loop.cancel(s.drain_timer);
    for (uint32_t i = 0; i < s.conns_made; ++i) s.conns[i].~Connection();
    for (uint32_t i = 0; i < s.tls_made; ++i) s.tls_streams[i].~TlsStream();
    std::free(s.conns);
    std::free(s.tls_streams);
    std::free(s.tls_free);
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
