// Internals of http::Client shared by client.cpp (fetch, request and
// response) and client_pool.cpp (connections, queue, connect).
#pragma once

#include <coroutine>

#include <gust/client.hpp>
#include <gust/stream.hpp>
#include <gust/tls.hpp>

#include "port.hpp"

namespace gust::http {

// What a pooled connection is for (RFC 6454 origin).
struct Origin {
    bool https = false;
    std::string_view host;
    uint16_t port = 0;
};

struct Conn {
    enum class State : uint8_t { free, busy, idle };
    State state = State::free;
    bool https = false;
    bool tls_active = false;  // the TLS stream carries this connection
    uint16_t port = 0;
    uint16_t host_len = 0;
    char host[kMaxHostLength + 1] = {};
    TcpStream tcp;
    TlsStream tls;
    TimerId idle_timer;
    uint64_t requests = 0;  // sent on this connection since it opened

    Stream& stream() { return tls_active ? static_cast<Stream&>(tls) : static_cast<Stream&>(tcp); }
    std::string_view host_view() const { return {host, host_len}; }
    bool matches(const Origin& o) const { return https == o.https && port == o.port && iequals(host_view(), o.host); }
};

// Where one fetch's buffer keeps its parts: two URL slots (current and
// redirect target), the response header array, then the bytes on the wire.
struct Layout {
    char* url[2];
    Header* headers;
    uint8_t* data;
    size_t data_size;
};

struct Waiter;

// What goes out on one hop; redirects change it.
struct FetchRequest {
    std::string_view method;
    bool head = false;
    bool idempotent = false;    // may be retried after a stale pooled connection
    bool body_dropped = false;  // a 301/302/303 turned it into a GET
    bool crossed = false;       // a redirect left the first origin: no credentials from now on
    std::string_view body;
    BodyProducer* producer = nullptr;
    int64_t body_length = -1;
};

// What one exchange learned about its response.
struct Hop {
    ResponseHead head;
    size_t body_at = 0;  // the buffered body inside the data region
    size_t body_len = 0;
    uint64_t body_size = 0;
    bool reused = false;
    bool redirecting = false;  // a redirect to follow: its body was dropped
};

inline bool is_text(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// The text of a URL that resolve_url() or a copy wrote at `start`: it ends with the query, else the path.
inline std::string_view url_text(const Url& u, const char* start) {
    std::string_view end = u.has_query ? u.query : u.path;
    return std::string_view(start, size_t(end.data() + end.size() - start));
}

struct Client::Impl {
    Impl(Loop& l, const ClientOptions& o) : loop(l), options(o) {}

    Loop& loop;
    ClientOptions options;
    Error error;
    Conn* conns = nullptr;
    BufferPool* buffers = nullptr;
    size_t headers_at = 0;  // offsets inside a buffer (see Layout)
    size_t data_at = 0;
    dns::Resolver* resolver = nullptr;
    bool own_resolver = false;
    TlsClientConfig* tls = nullptr;
    bool own_tls = false;
    Error tls_error;
    Waiter* first = nullptr;  // FIFO of fetches waiting for a connection
    Waiter* last = nullptr;
    ClientStats stats;

    Layout layout(const Buffer& b) const;

    // client.cpp
    // One request and its response on a connection, retried on a fresh one when a
    // pooled connection turns out stale. The first exchange takes `buf` from the
    // pool and moves the URL into it (cur and cur_text then point there).
    Task<Result<void>> exchange(Url& cur, std::string_view& cur_text, const FetchRequest& req, FetchOptions& opt,
                                Buffer& buf, Hop& hop, TimePoint deadline);
    Result<size_t> write_head(const Url& url, const FetchRequest& req, const FetchOptions& opt, Layout& l,
                              bool& close_after);
    Task<Result<void>> send_body(Stream& s, const FetchRequest& req, Layout& l, size_t head_len, TimePoint deadline,
                                 Duration idle);
    Task<Result<void>> read_body(Stream& s, FetchOptions& opt, Layout& l, size_t& len,
                                 Hop& hop, bool& reusable, TimePoint deadline);
    // How long the next read or write may wait: the idle limit, within the deadline.
    Duration budget(TimePoint deadline, Duration idle) const {
        Duration left = deadline == TimePoint::max() ? Duration::max() : deadline - loop.now();
        if (left < Duration(0)) left = Duration(0);
        return left < idle ? left : idle;
    }
    // The timeout error for a read or write that waited its budget out.
    Error timed_out(TimePoint deadline) const {
        return loop.now() >= deadline ? Error(Errc::timeout, "client: request timed out")
                                      : Error(Errc::timeout, "client: the server sent nothing within idle_timeout");
    }

    // client_pool.cpp
    // An idle connection to `o`, or a reserved slot (fresh = true) within the caps, or nullptr.
    Conn* try_acquire(const Origin& o, bool& fresh);
    // Back from a fetch: pooled when reusable and open, else closed; then waiters are served.
    void release(Conn& c, bool reusable);
    void close_conn(Conn& c);
    void make_idle(Conn& c);
    void on_idle_readable(Conn& c);
    // Hands freed connections and slots to waiting fetches, in queue order.
    void dispatch();
    void enqueue(Waiter& w);
    void unlink(Waiter& w);
    // DNS, TCP connect (each address in turn) and, for https, the TLS handshake.
    Task<Result<void>> connect(Conn& c, const Url& url, TimePoint deadline, Duration connect_timeout);
    Result<TlsClientConfig*> tls_config();
};

// A fetch waiting in the queue; `co_await` it. Granted a connection by
// dispatch() or timed out at `deadline`. Destroying it (cancellation) gives
// back anything granted but not yet taken.
struct Waiter {
    Waiter(Client::Impl& c, const Origin& o, TimePoint d) : client(c), origin(o), deadline(d) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter();

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}

    void grant(Conn& c, bool is_fresh);
    void on_timeout();

    Client::Impl& client;
    Origin origin;
    TimePoint deadline;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool queued = false;
    Conn* granted = nullptr;
    bool fresh = false;
    Error error;
    TimerId timer;
    ResumeNode resume;
};

// A connection lent to one exchange: closed unless finish() gives it back.
struct Lease {
    explicit Lease(Client::Impl& c) : client(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
        if (conn) client.release(*conn, false);
    }
    void finish(bool reusable) {
        Conn* c = conn;
        conn = nullptr;
        if (c) client.release(*c, reusable);
    }
    Client::Impl& client;
    Conn* conn = nullptr;
};

// `now + d` without overflow (kNoTimeout means never).
inline TimePoint deadline_after(TimePoint now, Duration d) {
    return d >= TimePoint::max() - now ? TimePoint::max() : now + d;
}

}  // namespace gust::http
