// http::Client: fetch() follows redirects over exchanges; an exchange gets a
// connection (pooled, new, or after waiting), writes one request and reads
// one response into the fetch's buffer. See client.hpp.
#include <new>

#include "client_internal.hpp"

namespace gust::http {

std::string_view method_token(Method m) {
    switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::delete_: return "DELETE";
    case Method::patch: return "PATCH";
    case Method::options: return "OPTIONS";
    case Method::connect: return "CONNECT";
    case Method::trace: return "TRACE";
    case Method::other: return "";
    }
    return "";
}

Layout Client::Impl::layout(const Buffer& b) const {
    Layout l;
    l.url[0] = b.chars();
    l.url[1] = b.chars() + options.max_url;
    l.headers = reinterpret_cast<Header*>(b.data() + headers_at);
    l.data = b.data() + data_at;
    l.data_size = b.size() - data_at;
    return l;
}

// ---- Construction -------------------------------------------------------------------------

Client::Client(Loop& loop, const ClientOptions& options) : impl_(new (std::nothrow) Impl(loop, options)) {
    if (!impl_) return;
    Impl& c = *impl_;
    ClientOptions& o = c.options;
    const ClientOptions d;
    if (!o.max_connections) o.max_connections = d.max_connections;
    if (!o.max_per_origin) o.max_per_origin = d.max_per_origin;
    if (!o.buffer_size) o.buffer_size = d.buffer_size;
    if (!o.max_url) o.max_url = d.max_url;
    if (!o.max_headers) o.max_headers = d.max_headers;
    if (!o.buffers) o.buffers = 2 * o.max_connections;
    if (o.pool_idle_timeout <= Duration(0)) o.pool_idle_timeout = d.pool_idle_timeout;
    c.headers_at = (2 * size_t(o.max_url) + alignof(Header) - 1) / alignof(Header) * alignof(Header);
    c.data_at = c.headers_at + size_t(o.max_headers) * sizeof(Header);
    if (c.data_at + 1024 > o.buffer_size) {
        c.error = Error(Errc::invalid_argument, "client: buffer_size leaves under 1 KiB after max_url and max_headers");
        return;
    }
    // Start-up only: slots, buffers and the resolver are reserved once.
    c.conns = new (std::nothrow) Conn[o.max_connections];
    c.buffers = new (std::nothrow) BufferPool(o.buffers, o.buffer_size);
    if (!c.conns || !c.buffers || c.buffers->capacity() != o.buffers) {
        c.error = Error(Errc::no_memory, "client: cannot reserve connections and buffers");
        return;
    }
    if (o.resolver) {
        c.resolver = o.resolver;
    } else {
        c.resolver = new (std::nothrow) dns::Resolver(loop, o.dns);
        c.own_resolver = true;
        if (!c.resolver) {
            c.error = Error(Errc::no_memory, "client: cannot allocate the resolver");
            return;
        }
        if (auto s = c.resolver->status(); !s) {
            c.error = s.error();
            return;
        }
    }
    if (o.tls_config) c.tls = o.tls_config;
}

Client::~Client() {
    if (!impl_) return;
    Impl& c = *impl_;
    for (uint32_t i = 0; c.conns && i < c.options.max_connections; ++i) c.close_conn(c.conns[i]);
    delete[] c.conns;
    delete c.buffers;
    if (c.own_resolver) delete c.resolver;
    if (c.own_tls) delete c.tls;
    delete impl_;
}

Result<void> Client::status() const {
    if (!impl_) return Error(Errc::no_memory, "client: cannot allocate the client");
    if (impl_->error.code != Errc::ok) return impl_->error;
    return {};
}

ClientStats Client::stats() const {
    if (!impl_) return {};
    ClientStats s = impl_->stats;
    s.buffers_in_use = impl_->buffers ? uint32_t(impl_->buffers->in_use()) : 0;
    return s;
}

// ---- fetch ----------------------------------------------------------------------------------

Task<Result<ClientResponse>> Client::fetch(std::string_view url, FetchOptions opt) {
    if (auto s = status(); !s) co_return s.error();
    Impl& c = *impl_;
    if (url.size() >= c.options.max_url) co_return Error(Errc::too_large, "client: URL longer than ClientOptions::max_url");
    auto first = parse_url(url);
    if (!first) co_return first.error();

    FetchRequest req;
    req.method = opt.method_name.empty() ? method_token(opt.method) : opt.method_name;
    if (req.method.empty()) co_return Error(Errc::invalid_argument, "client: Method::other needs method_name");
    for (char ch : req.method)
        if (!is_tchar(ch)) co_return Error(Errc::invalid_argument, "client: bad method name");
    if (req.method == "CONNECT") co_return Error(Errc::not_supported, "client: CONNECT is not supported");
    req.head = req.method == "HEAD";
    req.idempotent = req.method == "GET" || req.head || req.method == "PUT" || req.method == "DELETE" ||
                     req.method == "OPTIONS" || req.method == "TRACE";
    req.body = opt.body;
    req.producer = opt.producer ? &opt.producer : nullptr;
    req.body_length = opt.body_length;
    for (const Header& h : opt.headers) {
        bool ok = !h.name.empty();
        for (char ch : h.name) ok = ok && is_tchar(ch);
        for (char ch : h.value) ok = ok && is_text(ch);
        if (!ok) co_return Error(Errc::invalid_argument, "client: bad request header name or value");
    }

    const TimePoint deadline = deadline_after(c.loop.now(), opt.request_timeout);
    ClientResponse res;
    Url cur = *first;
    std::string_view cur_text = url;
    int slot = 0;
    for (int hop = 0;; ++hop) {
        Hop h;
        auto r = co_await c.exchange(cur, cur_text, req, opt, res.buffer_, h, deadline);
        if (!r) co_return r.error();
        if (!h.redirecting) {
            res.status_ = h.head.status;
            res.version_ = h.head.version;
            res.reason_ = h.head.reason;
            res.headers_ = h.head.headers.data();
            res.header_count_ = h.head.headers.size();
            res.body_ = std::string_view(reinterpret_cast<const char*>(c.layout(res.buffer_).data) + h.body_at, h.body_len);
            res.body_size_ = h.body_size;
            res.url_ = cur_text;
            res.redirects_ = uint8_t(hop);
            res.reused_ = h.reused;
            co_return res;
        }
        if (hop >= opt.max_redirects) co_return Error(Errc::protocol, "client: too many redirects");
        Layout l = c.layout(res.buffer_);
        slot ^= 1;
        auto next = resolve_url(cur, h.head.header("location"), std::span<char>(l.url[slot], c.options.max_url));
        if (!next) co_return next.error();
        req.crossed = req.crossed || !same_origin(cur, *next);
        uint16_t s = h.head.status;
        if ((s == 303 && !req.head) || ((s == 301 || s == 302) && req.method == "POST")) {
            req.method = "GET";
            req.idempotent = true;
            req.body = {};
            req.producer = nullptr;
            req.body_dropped = true;
        }
        cur = *next;
        cur_text = url_text(cur, l.url[slot]);
    }
}

}  // namespace gust::http
