// dns::Resolver: lookups as small callback state machines on the loop.
//
// A Lookup (one per distinct name + families in flight) owns up to two
// Queries, A and AAAA, which run independently: each try opens a fresh UDP
// socket on a kernel-chosen port, sends one question with a random ID to one
// server and arms one timer. A datagram only counts when its source, ID and
// question match; anything else is dropped and the wait goes on. A truncated
// answer moves the query to TCP (a coroutine over TcpStream, owned by the
// Query); its end is signalled through a ReadyNode, so the coroutine is never
// destroyed while it runs. Waiters are resumed on the next loop turn, never
// from inside a socket or timer callback.
#include <gust/dns.hpp>
#include <gust/log.hpp>
#include <gust/stream.hpp>
#include <gust/task.hpp>
#include <gust/when.hpp>

#include <cstring>
#include <new>

#include "port.hpp"

namespace gust::dns {

namespace {

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

constexpr size_t kQueryMax = 12 + kMaxNameWire + 4;
constexpr uint8_t kMaskA = 1, kMaskAaaa = 2;

uint8_t mask_of(Family f) {
    switch (f) {
        case Family::ipv4: return kMaskA;
        case Family::ipv6: return kMaskAaaa;
        default: return kMaskA | kMaskAaaa;
    }
}

const Error kNotFound(Errc::not_found, "dns: host not found");
const Error kNoData(Errc::not_found, "dns: host has no address of the requested family");
const Error kTimedOut(Errc::timeout, "dns: no answer from any nameserver");

}  // namespace

namespace detail {

// The outcome for one record type.
struct TypeResult {
    Error error;  // ok, kNotFound (NXDOMAIN), kNoData, or why it failed
    uint8_t count = 0;
    IpAddress addresses[kMaxAddresses];
    bool has_ttl = false;
    uint32_t ttl = 0;
};

struct Query;
struct TcpDoneNode : ReadyNode {
    Query* query = nullptr;
};

struct Query {
    Resolver* resolver = nullptr;
    Lookup* lookup = nullptr;
    uint16_t qtype = 0;
    uint16_t id = 0;
    bool active = false;
    bool done = false;
    uint8_t server = 0;
    uint8_t round = 0;
    int fd = -1;
    WatchId watch;
    TimerId timer;
    Error last_error;
    TypeResult result;
    uint8_t out[2 + kQueryMax];  // 2-byte TCP length prefix, then the query
    size_t out_len = 0;
    uint8_t* buf = nullptr;  // max_message bytes for the answer
    TcpStream tcp;
    Task<void> tcp_task;
    TcpDoneNode tcp_done;
    Error tcp_error;
    size_t tcp_len = 0;
};

struct Lookup {
    bool used = false;
    uint8_t mask = 0;
    uint8_t pending = 0;
    Name name;
    ResolveAwaiter* waiters = nullptr;
    Query queries[2];  // [0] A, [1] AAAA
};

}  // namespace detail

using detail::Lookup;
using detail::Query;
using detail::TypeResult;

struct Resolver::CacheEntry {
    bool used = false;
    uint16_t qtype = 0;
    Name name;
    TimePoint expires{};
    uint64_t last_use = 0;
    TypeResult result;
};

// The Resolver's private machinery, as static functions with access to its members.
struct Resolver::Impl {
    // ---- Cache ------------------------------------------------------------------
    static const TypeResult* cache_find(Resolver& r, const Name& name, uint16_t qtype) {
        for (uint32_t i = 0; i < r.options_.cache_entries; ++i) {
            CacheEntry& e = r.cache_[i];
            if (!e.used || e.qtype != qtype || !(e.name == name)) continue;
            if (r.loop_.now() >= e.expires) {
                e.used = false;
                return nullptr;
            }
            e.last_use = ++r.use_counter_;
            return &e.result;
        }
        return nullptr;
    }

    static void cache_store(Resolver& r, const Name& name, uint16_t qtype, const TypeResult& res) {
        if (r.options_.cache_entries == 0) return;
        Duration ttl;
        if (res.error.code == Errc::ok) {
            if (!res.has_ttl) return;
            ttl = std::chrono::seconds(res.ttl);
            if (ttl > r.options_.max_ttl) ttl = r.options_.max_ttl;
        } else if (res.error.code == Errc::not_found) {
            ttl = res.has_ttl ? Duration(std::chrono::seconds(res.ttl)) : r.options_.negative_ttl;
            if (ttl > r.options_.max_negative_ttl) ttl = r.options_.max_negative_ttl;
        } else {
            return;  // failures (timeouts, SERVFAIL) are not remembered
        }
        if (ttl <= Duration(0)) return;
        CacheEntry* slot = nullptr;
        for (uint32_t i = 0; i < r.options_.cache_entries && !slot; ++i) {
            CacheEntry& e = r.cache_[i];
            if (e.used && e.qtype == qtype && e.name == name) slot = &e;
        }
        for (uint32_t i = 0; i < r.options_.cache_entries && !slot; ++i)
            if (!r.cache_[i].used || r.loop_.now() >= r.cache_[i].expires) slot = &r.cache_[i];
        if (!slot) {  // evict the least recently used
            slot = &r.cache_[0];
            for (uint32_t i = 1; i < r.options_.cache_entries; ++i)
                if (r.cache_[i].last_use < slot->last_use) slot = &r.cache_[i];
        }
        slot->used = true;
        slot->qtype = qtype;
        slot->name = name;
        slot->expires = r.loop_.now() + ttl;
        slot->last_use = ++r.use_counter_;
        slot->result = res;
    }

    // ---- Results ------------------------------------------------------------------
    // Fills `out` from the A and AAAA results (either may be null) in the family's order.
    static Error combine(const TypeResult* a, const TypeResult* aaaa, Family family, uint16_t port,
                         AddressList& out) {
        out.count = 0;
        const TypeResult* order[2] = {a, aaaa};
        if (family == Family::any_ipv6_first) order[0] = aaaa, order[1] = a;
        for (const TypeResult* t : order) {
            if (!t || t->error.code != Errc::ok) continue;
            for (size_t i = 0; i < t->count; ++i) {
                IpAddress ip = t->addresses[i];
                ip.port = port;
                (void)out.add(ip);
            }
        }
        if (out.count) return Error();
        bool nxdomain = false, all_not_found = true;
        const TypeResult* failed = nullptr;
        for (const TypeResult* t : order) {
            if (!t) continue;
            if (t->error.code == Errc::not_found) {
                nxdomain = nxdomain || t->error.message == kNotFound.message;
            } else {
                all_not_found = false;
                if (!failed) failed = t;
            }
        }
        if (nxdomain) return kNotFound;
        if (all_not_found) return kNoData;
        return failed->error.code == Errc::ok ? kNoData : failed->error;
    }

    // ---- Lookups --------------------------------------------------------------------
    static Lookup* find_lookup(Resolver& r, const Name& name, uint8_t mask) {
        for (uint32_t i = 0; i < r.options_.max_lookups; ++i) {
            Lookup& l = r.lookups_[i];
            if (l.used && l.mask == mask && l.name == name) return &l;
        }
        return nullptr;
    }

    static Lookup* new_lookup(Resolver& r, const Name& name, uint8_t mask) {
        for (uint32_t i = 0; i < r.options_.max_lookups; ++i) {
            Lookup& l = r.lookups_[i];
            if (l.used) continue;
            l.used = true;
            l.mask = mask;
            l.name = name;
            l.waiters = nullptr;
            l.pending = 0;
            ++r.in_flight_;
            return &l;
        }
        return nullptr;
    }

    static void start_lookup(Resolver& r, Lookup& l) {
        for (int k = 0; k < 2; ++k) {
            Query& q = l.queries[k];
            q.active = (l.mask & (k == 0 ? kMaskA : kMaskAaaa)) != 0;
            q.done = false;
            q.result = TypeResult();
            if (q.active) ++l.pending;
        }
        for (int k = 0; k < 2; ++k) {
            Query& q = l.queries[k];
            if (!q.active) continue;
            q.resolver = &r;
            q.lookup = &l;
            q.qtype = k == 0 ? kTypeA : kTypeAaaa;
            q.server = 0;
            q.round = 0;
            q.last_error = Error();
            auto built = build_query(std::span<uint8_t>(q.out + 2, kQueryMax), 0, l.name, q.qtype);
            q.out_len = built ? *built : 0;
            if (!built) {
                finish_error(q, built.error());
                if (!l.used) return;  // the lookup completed (and was freed) synchronously
                continue;
            }
            send_try(q);
            if (!l.used) return;
        }
    }

    // Frees the lookup's sockets, timers and TCP work, and the slot.
    static void release_lookup(Resolver& r, Lookup& l) {
        for (Query& q : l.queries) {
            close_udp(q);
            close_tcp(q);
            q.active = false;
        }
        l.used = false;
        l.waiters = nullptr;
        --r.in_flight_;
    }

    // Every query answered: hand each waiter its result and free the slot.
    static void complete_lookup(Resolver& r, Lookup& l) {
        const TypeResult* a = l.queries[0].active ? &l.queries[0].result : nullptr;
        const TypeResult* aaaa = l.queries[1].active ? &l.queries[1].result : nullptr;
        for (ResolveAwaiter* w = l.waiters; w;) {
            ResolveAwaiter* next = w->next_;
            w->error_ = combine(a, aaaa, w->family_, w->port_, w->list_);
            w->lookup_ = nullptr;
            w->next_ = w->prev_ = nullptr;
            if (w->resume_.handle) r.loop_.schedule(w->resume_);
            w = next;
        }
        l.waiters = nullptr;
        release_lookup(r, l);
    }

    static void finish(Query& q, const TypeResult& res) {
        close_udp(q);
        close_tcp(q);
        q.result = res;
        q.done = true;
        Resolver& r = *q.resolver;
        Lookup& l = *q.lookup;
        cache_store(r, l.name, q.qtype, res);
        if (--l.pending == 0) complete_lookup(r, l);
    }

    static void finish_error(Query& q, Error e) {
        TypeResult res;
        res.error = e;
        finish(q, res);
    }

    // ---- UDP ----------------------------------------------------------------------
    static void close_udp(Query& q) {
        Loop& loop = q.resolver->loop_;
        if (q.timer) {
            loop.cancel(q.timer);
            q.timer = TimerId();
        }
        if (q.fd >= 0) {
            loop.remove_watch(q.watch);
            port::close(q.fd);
            q.fd = -1;
            q.watch = WatchId();
        }
    }

    // Sends the question to the current server; on immediate failure moves on.
    static void send_try(Query& q) {
        Resolver& r = *q.resolver;
        for (;;) {
            if (q.round >= r.conf_.attempts) {
                finish_error(q, q.last_error.code == Errc::ok ? kTimedOut : q.last_error);
                return;
            }
            auto sent = udp_try(q);
            if (sent) return;
            q.last_error = sent.error();
            close_udp(q);
            advance(q);
        }
    }

    static void advance(Query& q) {
        if (++q.server >= q.resolver->conf_.server_count) {
            q.server = 0;
            ++q.round;
        }
    }

    static Result<void> udp_try(Query& q) {
        Resolver& r = *q.resolver;
        const IpAddress& server = r.conf_.servers[q.server];
        uint8_t rnd[2];
        if (auto ok = port::random_bytes(rnd); !ok) return ok.error();
        q.id = uint16_t((uint16_t(rnd[0]) << 8) | rnd[1]);
        put16(q.out + 2, q.id);

        port::Address to, bind;
        if (!to_socket_address(server, to)) return Error(Errc::invalid_argument, "dns: bad nameserver address");
        IpAddress any;
        any.length = server.length;  // 0.0.0.0 or ::, port 0: the kernel picks a random port
        (void)to_socket_address(any, bind);
        auto fd = port::udp_open(bind);
        if (!fd) return fd.error();
        q.fd = *fd;
        auto w = r.loop_.add_watch(q.fd);
        if (!w) {
            port::close(q.fd);
            q.fd = -1;
            return w.error();
        }
        q.watch = *w;
        Query* qp = &q;
        if (auto ok = r.loop_.on_readable(q.watch, [qp] { on_readable(*qp); }); !ok) return ok.error();
        auto sent = port::udp_send(q.fd, std::span<const uint8_t>(q.out + 2, q.out_len), to);
        if (!sent) return sent.error();
        auto t = r.loop_.call_later(std::chrono::seconds(r.conf_.timeout_s), [qp] {
            qp->timer = TimerId();  // firing now: nothing to cancel
            on_timeout(*qp);
        });
        if (!t) return t.error();
        q.timer = *t;
        ++r.stats_.queries_sent;
        return {};
    }

    static void on_timeout(Query& q) {
        q.last_error = kTimedOut;
        next_server(q);
    }

    static void next_server(Query& q) {
        close_udp(q);
        close_tcp(q);
        advance(q);
        send_try(q);
    }

    static bool same_endpoint(const port::Address& from, const IpAddress& server) {
        port::Address s;
        if (!to_socket_address(server, s)) return false;
        if (from.port() != s.port() || from.is_ipv6() != s.is_ipv6()) return false;
        char a[64], b[64];
        size_t la = port::format_ip(from, a), lb = port::format_ip(s, b);
        return la != 0 && la == lb && std::memcmp(a, b, la) == 0;
    }

    static void on_readable(Query& q) {
        // May run inside the watch callback that close_udp() destroys: use only `q`.
        Resolver& r = *q.resolver;
        for (int i = 0; i < 16 && q.fd >= 0; ++i) {
            port::Address from;
            auto n = port::udp_receive(q.fd, std::span<uint8_t>(q.buf, r.options_.max_message), &from);
            if (!n) {
                if (n.error().code == Errc::again) return;
                ++r.stats_.ignored;  // too large or an error queued on the socket: keep waiting
                if (n.error().code == Errc::too_large) continue;
                return;
            }
            if (!same_endpoint(from, r.conf_.servers[q.server])) {
                ++r.stats_.ignored;
                continue;
            }
            if (handle_answer(q, std::span<const uint8_t>(q.buf, *n), false)) return;
        }
    }

    // Acts on an answer; returns true when the query moved on (finished, next server, TCP).
    static bool handle_answer(Query& q, std::span<const uint8_t> msg, bool via_tcp) {
        Resolver& r = *q.resolver;
        auto a = parse_response(msg, q.id, q.lookup->name, q.qtype);
        if (!a) {
            if (a.error().code == Errc::invalid_argument && !via_tcp) {
                ++r.stats_.ignored;  // not ours (spoofed or stale): keep waiting
                return false;
            }
            log_debug("dns: bad answer: %s", a.error().message);
            q.last_error = Error(Errc::protocol, "dns: malformed answer from nameserver");
            next_server(q);
            return true;
        }
        if (a->truncated) {
            if (via_tcp) {
                q.last_error = Error(Errc::protocol, "dns: truncated answer over TCP");
                next_server(q);
            } else {
                start_tcp(q);
            }
            return true;
        }
        switch (a->rcode) {
            case kRcodeNoError:
            case kRcodeNxDomain: {
                TypeResult res;
                res.count = a->count;
                for (size_t i = 0; i < a->count; ++i) res.addresses[i] = a->addresses[i];
                res.has_ttl = a->has_ttl;
                res.ttl = a->ttl;
                if (a->rcode == kRcodeNxDomain) res.error = kNotFound, res.count = 0;
                else if (a->count == 0) res.error = kNoData;
                finish(q, res);
                return true;
            }
            case kRcodeServFail: q.last_error = Error(Errc::dns, "dns: nameserver failure (SERVFAIL)"); break;
            case kRcodeRefused: q.last_error = Error(Errc::dns, "dns: query refused by nameserver"); break;
            case kRcodeFormErr: q.last_error = Error(Errc::dns, "dns: nameserver rejected the query (FORMERR)"); break;
            default: q.last_error = Error(Errc::dns, "dns: nameserver returned an error"); break;
        }
        next_server(q);
        return true;
    }

    // ---- TCP ----------------------------------------------------------------------
    static void start_tcp(Query& q) {
        close_udp(q);
        ++q.resolver->stats_.tcp_retries;
        q.tcp_done.query = &q;
        q.tcp_done.run = [](ReadyNode* n) { on_tcp_done(*static_cast<detail::TcpDoneNode*>(n)->query); };
        q.tcp_task = tcp_exchange(q);
        if (!q.tcp_task) {
            q.last_error = Error(Errc::no_memory, "dns: no coroutine frame for the TCP retry");
            next_server(q);
            return;
        }
        q.tcp_task.start();
    }

    static void close_tcp(Query& q) {
        if (q.tcp_done.queued()) q.tcp_done.loop->unschedule(q.tcp_done);
        q.tcp_task = Task<void>();  // destroying a suspended exchange cancels its waits
        q.tcp.close();
    }

    static Duration left(Loop& loop, TimePoint deadline) {
        Duration d = deadline - loop.now();
        return d > Duration(0) ? d : Duration(1);
    }

    // Asks the question again over TCP (2-byte length prefix), within one timeout.
    static Task<void> tcp_exchange(Query& q) {
        Resolver& r = *q.resolver;
        Loop& loop = r.loop_;
        TimePoint deadline = loop.now() + std::chrono::seconds(r.conf_.timeout_s);
        q.tcp_error = Error();
        q.tcp_len = 0;
        port::Address to;
        (void)to_socket_address(r.conf_.servers[q.server], to);
        auto fd = port::tcp_connect(to);
        if (!fd) {
            q.tcp_error = fd.error();
        } else if (auto att = q.tcp.attach(loop, *fd); !att) {
            port::close(*fd);
            q.tcp_error = att.error();
        } else {
            Result<void> ready = co_await with_timeout(left(loop, deadline), wait_writable(q.tcp.watch()));
            if (ready) ready = port::tcp_connect_result(q.tcp.fd());
            if (!ready) q.tcp_error = ready.error();
        }
        if (q.tcp_error.code == Errc::ok) {
            put16(q.out, uint16_t(q.out_len));
            auto w = co_await q.tcp.write_all(std::span<const uint8_t>(q.out, q.out_len + 2), left(loop, deadline));
            if (!w) q.tcp_error = w.error();
        }
        uint8_t prefix[2];
        size_t got = 0;
        while (q.tcp_error.code == Errc::ok && got < 2) {
            auto n = co_await q.tcp.read(std::span<uint8_t>(prefix + got, 2 - got), left(loop, deadline));
            if (!n) q.tcp_error = n.error();
            else if (*n == 0) q.tcp_error = Error(Errc::closed, "dns: nameserver closed the TCP connection");
            else got += *n;
        }
        size_t want = got == 2 ? (size_t(prefix[0]) << 8 | prefix[1]) : 0;
        if (q.tcp_error.code == Errc::ok && want > r.options_.max_message)
            q.tcp_error = Error(Errc::too_large, "dns: TCP answer larger than ResolverOptions::max_message");
        got = 0;
        while (q.tcp_error.code == Errc::ok && got < want) {
            auto n = co_await q.tcp.read(std::span<uint8_t>(q.buf + got, want - got), left(loop, deadline));
            if (!n) q.tcp_error = n.error();
            else if (*n == 0) q.tcp_error = Error(Errc::closed, "dns: TCP answer cut short");
            else got += *n;
        }
        q.tcp_len = got;
        loop.schedule(q.tcp_done);  // act on the next turn, once this frame is finished
    }

    static void on_tcp_done(Query& q) {
        q.tcp_task = Task<void>();
        q.tcp.close();
        if (q.tcp_error.code != Errc::ok) {
            q.last_error = q.tcp_error.code == Errc::timeout ? kTimedOut : q.tcp_error;
            next_server(q);
            return;
        }
        (void)handle_answer(q, std::span<const uint8_t>(q.buf, q.tcp_len), true);
    }
};

// ---- Resolver ------------------------------------------------------------------------

namespace {
template <typename T>
T* make_array(size_t n) {
    T* a = new (std::nothrow) T[n ? n : 1];
    return a;
}
}  // namespace

Resolver::Resolver(Loop& loop, const ResolverOptions& options) : loop_(loop), options_(options) {
    if (options_.max_lookups == 0) options_.max_lookups = 1;
    if (options_.max_message < 512) options_.max_message = 512;
    lookups_ = make_array<Lookup>(options_.max_lookups);
    buffers_ = make_array<uint8_t>(size_t(options_.max_lookups) * 2 * options_.max_message);
    cache_ = make_array<CacheEntry>(options_.cache_entries);
    hosts_ = make_array<char>(options_.hosts_bytes);
    if (!lookups_ || !buffers_ || !cache_ || !hosts_) {
        init_error_ = Error(Errc::no_memory, "dns: cannot allocate the resolver's pools");
        return;
    }
    for (uint32_t i = 0; i < options_.max_lookups; ++i)
        for (int k = 0; k < 2; ++k) {
            lookups_[i].queries[k].resolver = this;
            lookups_[i].queries[k].lookup = &lookups_[i];
            lookups_[i].queries[k].buf = buffers_ + (size_t(i) * 2 + size_t(k)) * options_.max_message;
        }
    check_config();
}

Resolver::~Resolver() {
    if (lookups_) {
        for (uint32_t i = 0; i < options_.max_lookups; ++i) {
            Lookup& l = lookups_[i];
            if (!l.used) continue;
            for (ResolveAwaiter* w = l.waiters; w;) {
                ResolveAwaiter* next = w->next_;
                w->error_ = Error(Errc::cancelled, "dns: resolver destroyed");
                w->lookup_ = nullptr;
                w->next_ = w->prev_ = nullptr;
                if (w->resume_.handle) loop_.schedule(w->resume_);
                w = next;
            }
            Impl::release_lookup(*this, l);
        }
    }
    delete[] lookups_;
    delete[] buffers_;
    delete[] cache_;
    delete[] hosts_;
}

void Resolver::clear_cache() {
    for (uint32_t i = 0; cache_ && i < options_.cache_entries; ++i) cache_[i].used = false;
}

bool to_socket_address(const IpAddress& ip, port::Address& out) {
    // Written out in full ("a:b:c:d:e:f:g:h"), which port::parse_ip always accepts.
    char text[48];
    size_t o = 0;
    static const char kHex[] = "0123456789abcdef";
    if (ip.length == 16) {
        for (int i = 0; i < 16; ++i) {
            text[o++] = kHex[ip.bytes[i] >> 4];
            text[o++] = kHex[ip.bytes[i] & 0xF];
            if (i % 2 == 1 && i != 15) text[o++] = ':';
        }
    } else if (ip.length == 4) {
        o = format_ip(ip, text);
    } else {
        return false;
    }
    auto a = port::parse_ip(std::string_view(text, o), ip.port);
    if (!a) return false;
    out = *a;
    return true;
}

// ---- ResolveAwaiter ----------------------------------------------------------------

ResolveAwaiter::~ResolveAwaiter() {
    Lookup* l = lookup_;
    if (!l) return;
    if (prev_) prev_->next_ = next_;
    else l->waiters = next_;
    if (next_) next_->prev_ = prev_;
    lookup_ = nullptr;
    if (!l->waiters) Resolver::Impl::release_lookup(*resolver_, *l);  // the last waiter left: cancel
}

bool ResolveAwaiter::await_ready() {
    Resolver& r = *resolver_;
    list_.count = 0;
    if (r.init_error_.code != Errc::ok) {
        error_ = r.init_error_;
        return true;
    }
    if (r.loop_.now() - r.last_check_ >= r.options_.recheck || !r.config_loaded_) r.check_config();

    std::string_view host = host_;
    bool want4 = family_ != Family::ipv6, want6 = family_ != Family::ipv4;
    // Literal addresses need no lookup.
    if (auto ip = parse_ip(host)) {
        if ((ip->is_ipv4() && !want4) || (ip->is_ipv6() && !want6)) {
            error_ = Error(Errc::not_found, "dns: literal address of another family");
            return true;
        }
        ip->port = port_;
        (void)list_.add(*ip);
        return true;
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    Name name;
    if (auto ok = encode_name(host, name); !ok) {
        error_ = ok.error();
        return true;
    }
    // "localhost" and "*.localhost" are loopback (RFC 6761), never asked.
    constexpr std::string_view kLocal = "localhost";
    bool local = host.size() >= kLocal.size() &&
                 (host.size() == kLocal.size() || host[host.size() - kLocal.size() - 1] == '.');
    for (size_t i = 0; local && i < kLocal.size(); ++i) {
        char c = host[host.size() - kLocal.size() + i];
        local = (c | 0x20) == kLocal[i];
    }
    if (local) {
        IpAddress v4, v6;
        v4.length = 4, v4.bytes[0] = 127, v4.bytes[3] = 1, v4.port = port_;
        v6.length = 16, v6.bytes[15] = 1, v6.port = port_;
        bool six_first = family_ == Family::any_ipv6_first;
        if (want4 && !six_first) (void)list_.add(v4);
        if (want6) (void)list_.add(v6);
        if (want4 && six_first) (void)list_.add(v4);
        return true;
    }
    // The hosts file.
    if (hosts_lookup(std::string_view(r.hosts_, r.hosts_len_), host, family_, port_, list_) > 0) return true;

    // The cache.
    uint8_t mask = mask_of(family_);
    const detail::TypeResult* a = (mask & kMaskA) ? Resolver::Impl::cache_find(r, name, kTypeA) : nullptr;
    const detail::TypeResult* aaaa = (mask & kMaskAaaa) ? Resolver::Impl::cache_find(r, name, kTypeAaaa) : nullptr;
    if (bool(a) == bool(mask & kMaskA) && bool(aaaa) == bool(mask & kMaskAaaa)) {
        ++r.stats_.cache_hits;
        error_ = Resolver::Impl::combine(a, aaaa, family_, port_, list_);
        return true;
    }
    ++r.stats_.cache_misses;

    // Join a lookup in flight, or start one.
    Lookup* l = Resolver::Impl::find_lookup(r, name, mask);
    bool fresh = l == nullptr;
    if (fresh) {
        l = Resolver::Impl::new_lookup(r, name, mask);
        if (!l) {
            error_ = Error(Errc::no_memory, "dns: too many lookups in flight (raise ResolverOptions::max_lookups)");
            return true;
        }
    } else {
        ++r.stats_.shared;
    }
    lookup_ = l;
    prev_ = nullptr;
    next_ = l->waiters;
    if (next_) next_->prev_ = this;
    l->waiters = this;
    if (fresh) Resolver::Impl::start_lookup(r, *l);
    return lookup_ == nullptr;  // finished already (every try failed at once)
}

}  // namespace gust::dns
