// The client's connection pool: slots per origin within the caps, the FIFO
// of fetches waiting for one, idle keep-alive connections, and connecting
// (DNS, TCP, TLS). Every structure was sized by the Client's constructor.
#include <algorithm>
#include <cstring>
#include <new>

#include <gust/when.hpp>

#include "client_internal.hpp"

namespace gust::http {

// ---- Slots -----------------------------------------------------------------------

Conn* Client::Impl::try_acquire(const Origin& o, bool& fresh) {
    Conn* idle_same = nullptr;
    Conn* idle_other = nullptr;
    Conn* free_slot = nullptr;
    uint32_t same = 0, total = 0;
    for (uint32_t i = 0; i < options.max_connections; ++i) {
        Conn& c = conns[i];
        if (c.state == Conn::State::free) {
            if (!free_slot) free_slot = &c;
            continue;
        }
        ++total;
        if (c.matches(o)) {
            ++same;
            if (c.state == Conn::State::idle && !idle_same) idle_same = &c;
        } else if (c.state == Conn::State::idle && !idle_other) {
            idle_other = &c;
        }
    }
    if (idle_same) {
        Conn& c = *idle_same;
        if (c.idle_timer) loop.cancel(c.idle_timer);
        c.idle_timer = TimerId();
        (void)loop.on_readable(c.stream().watch(), nullptr);
        c.state = Conn::State::busy;
        --stats.connections_idle;
        fresh = false;
        return &c;
    }
    if (same >= options.max_per_origin) return nullptr;
    if (total >= options.max_connections) {
        if (!idle_other) return nullptr;
        close_conn(*idle_other);  // an idle connection elsewhere yields to a fetch that can use the slot
        free_slot = idle_other;
    }
    if (!free_slot) return nullptr;
    Conn& c = *free_slot;
    c.state = Conn::State::busy;
    c.https = o.https;
    c.port = o.port;
    c.host_len = uint16_t(o.host.size() <= kMaxHostLength ? o.host.size() : kMaxHostLength);
    std::memcpy(c.host, o.host.data(), c.host_len);
    c.requests = 0;
    if (++stats.connections_open > stats.connections_high_water) stats.connections_high_water = stats.connections_open;
    if (same + 1 > stats.per_origin_high_water) stats.per_origin_high_water = same + 1;
    fresh = true;
    return &c;
}

void Client::Impl::close_conn(Conn& c) {
    if (c.state == Conn::State::free) return;
    if (c.state == Conn::State::idle) --stats.connections_idle;
    if (c.idle_timer) loop.cancel(c.idle_timer);
    c.idle_timer = TimerId();
    c.tcp.close();
    c.tls.close();
    c.tls_active = false;
    c.state = Conn::State::free;
    --stats.connections_open;
}

void Client::Impl::make_idle(Conn& c) {
    c.state = Conn::State::idle;
    ++stats.connections_idle;
    auto t = loop.call_later(options.pool_idle_timeout, [this, &c] {
        c.idle_timer = TimerId();
        close_conn(c);
        dispatch();
    });
    auto w = loop.on_readable(c.stream().watch(), [this, &c] { on_idle_readable(c); });
    if (!t || !w) {
        if (t) loop.cancel(*t);
        close_conn(c);
        return;
    }
    c.idle_timer = *t;
}

void Client::Impl::on_idle_readable(Conn& c) {
    // Runs inside the watch callback that close_conn() destroys: use only locals.
    Client::Impl* self = this;
    Conn* conn = &c;
    if (conn->tls_active) {
        // A TLS record without application data (a late session ticket) leaves
        // the connection usable; anything else on an idle connection ends it.
        uint8_t scratch[64];
        uint8_t need = 0;
        auto r = conn->tls.try_read(scratch, need);
        if (!r && r.error().code == Errc::again && need == port::kReadable) return;
    }
    self->close_conn(*conn);
    self->dispatch();
}

void Client::Impl::release(Conn& c, bool reusable) {
    if (reusable && c.stream().is_open()) make_idle(c);
    else close_conn(c);
    dispatch();
}

void Client::close_idle() {
    if (!impl_ || !impl_->conns) return;
    for (uint32_t i = 0; i < impl_->options.max_connections; ++i)
        if (impl_->conns[i].state == Conn::State::idle) impl_->close_conn(impl_->conns[i]);
    impl_->dispatch();
}

// ---- The queue ----------------------------------------------------------------------

void Client::Impl::enqueue(Waiter& w) {
    w.prev = last;
    w.next = nullptr;
    if (last) last->next = &w;
    else first = &w;
    last = &w;
    w.queued = true;
    ++stats.queued;
    if (++stats.waiting > stats.waiting_high_water) stats.waiting_high_water = stats.waiting;
}

void Client::Impl::unlink(Waiter& w) {
    if (!w.queued) return;
    if (w.prev) w.prev->next = w.next;
    else first = w.next;
    if (w.next) w.next->prev = w.prev;
    else last = w.prev;
    w.prev = w.next = nullptr;
    w.queued = false;
    --stats.waiting;
}

void Client::Impl::dispatch() {
    for (Waiter* w = first; w;) {
        Waiter* next = w->next;
        bool fresh = false;
        if (Conn* c = try_acquire(w->origin, fresh)) w->grant(*c, fresh);
        w = next;
    }
}

bool Waiter::await_suspend(std::coroutine_handle<> h) {
    resume.handle = h;
    if (deadline != TimePoint::max()) {
        Duration left = deadline - client.loop.now();
        auto t = client.loop.call_later(left > Duration(0) ? left : Duration(0), [this] { on_timeout(); });
        if (!t) {
            error = t.error();
            return false;
        }
        timer = *t;
    }
    client.enqueue(*this);
    return true;
}

void Waiter::grant(Conn& c, bool is_fresh) {
    client.unlink(*this);
    if (timer) client.loop.cancel(timer);
    timer = TimerId();
    granted = &c;
    fresh = is_fresh;
    client.loop.schedule(resume);  // resumed on the next turn, never inside dispatch()
}

void Waiter::on_timeout() {
    timer = TimerId();
    client.unlink(*this);
    error = Error(Errc::timeout, "client: request timed out waiting for a connection");
    resume.handle.resume();
}

Waiter::~Waiter() {
    client.unlink(*this);
    if (timer) client.loop.cancel(timer);
    if (granted) {
        // Cancelled between the grant and the resume: hand it on.
        Conn* c = granted;
        granted = nullptr;
        if (fresh) {
            client.close_conn(*c);
            client.dispatch();
        } else {
            client.release(*c, true);
        }
    }
}

// ---- Connecting ------------------------------------------------------------------------

Result<TlsClientConfig*> Client::Impl::tls_config() {
    if (tls) return tls;
    if (tls_error.code != Errc::ok) return tls_error;
    // Loaded on first use: a client that never speaks https never parses a CA bundle.
    TlsClientConfig* cfg = new (std::nothrow) TlsClientConfig();
    if (!cfg) return Error(Errc::no_memory, "client: cannot allocate the TLS config");
    if (auto r = cfg->init(options.tls); !r) {
        delete cfg;
        tls_error = r.error();
        return tls_error;
    }
    tls = cfg;
    own_tls = true;
    return tls;
}

Task<Result<void>> Client::Impl::connect(Conn& c, const Url& url, TimePoint deadline, Duration connect_timeout) {
    const TimePoint until = std::min(deadline, deadline_after(loop.now(), connect_timeout));
    auto left = [&] { return until - loop.now(); };
    auto late = [&] {
        return Error(Errc::timeout, until == deadline ? "client: request timed out" : "client: connect timed out");
    };
    TlsClientConfig* cfg = nullptr;
    if (url.https) {
        auto t = tls_config();
        if (!t) co_return t.error();
        cfg = *t;
    }
    if (left() <= Duration(0)) co_return late();
    auto addrs = co_await with_timeout(left(), resolver->resolve(url.host, dns::Family::any, url.port));
    if (!addrs) {
        if (addrs.error().code == Errc::timeout) co_return late();
        co_return addrs.error();
    }
    Error last(Errc::not_found, "host not found");
    for (const dns::IpAddress& ip : *addrs) {
        port::Address addr;
        if (!dns::to_socket_address(ip, addr)) continue;
        auto fd = port::tcp_connect(addr);
        if (!fd) {
            last = fd.error();
            continue;
        }
        c.tls_active = url.https;
        Stream& s = c.stream();
        if (auto a = s.attach(loop, *fd); !a) {
            port::close(*fd);
            co_return a.error();
        }
        if (left() <= Duration(0)) co_return late();
        auto w = co_await with_timeout(left(), wait_writable(s.watch()));
        if (!w) {
            if (w.error().code == Errc::timeout) co_return late();
            co_return w.error();
        }
        if (auto r = port::tcp_connect_result(s.fd()); !r) {
            last = r.error();
            s.close();
            continue;  // the next address may answer (localhost is 127.0.0.1 and ::1)
        }
        ++stats.connections_opened;
        if (!cfg) {
            // Request and body may go out as two writes; do not let Nagle hold the second.
            (void)port::tcp_set_nodelay(s.fd(), true);
            co_return Result<void>();
        }
        if (auto r = c.tls.start_client(*cfg, url.host); !r) co_return r.error();
        if (left() <= Duration(0)) co_return late();
        auto h = co_await c.tls.handshake(left());
        if (!h && h.error().code == Errc::timeout) co_return late();
        co_return h;
    }
    if (last.code == Errc::refused) co_return Error(Errc::refused, "client: connection refused");
    co_return last;
}

}  // namespace gust::http
