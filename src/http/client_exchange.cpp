// One request/response exchange of the client: a connection from the pool,
// the request head (and body, buffered or produced), the response head (1xx
// skipped) and the body by its framing, into the buffer or to on_chunk.
#include <cstring>

#include "client_internal.hpp"

namespace gust::http {

namespace {

// Redirect bodies up to this size are read and dropped to keep the connection.
constexpr uint64_t kMaxDrain = 64 * 1024;
// Interim (1xx) responses accepted before the final one.
constexpr int kMaxInterim = 8;
// Room before produced data for the chunk-size line ("ffffffffffffffff\r\n").
constexpr size_t kChunkPrefix = 18;

bool is_redirect(uint16_t s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

bool is_credential(std::string_view name) {
    return iequals(name, "authorization") || iequals(name, "cookie") || iequals(name, "proxy-authorization");
}

bool lists_close(std::string_view v) {
    for (;;) {
        size_t comma = v.find(',');
        std::string_view e = v.substr(0, comma);
        while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
        while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
        if (iequals(e, "close")) return true;
        if (comma == std::string_view::npos) return false;
        v.remove_prefix(comma + 1);
    }
}

// Appends to the request head; remembers overflow.
struct HeadWriter {
    uint8_t* out;
    size_t cap;
    size_t len = 0;
    bool overflow = false;
    void put(std::string_view s) {
        if (s.empty()) return;
        if (overflow || s.size() > cap - len) {
            overflow = true;
            return;
        }
        std::memcpy(out + len, s.data(), s.size());
        len += s.size();
    }
    void put_number(uint64_t v) {
        char digits[24];
        size_t k = sizeof digits;
        do {
            digits[--k] = char('0' + v % 10);
            v /= 10;
        } while (v);
        put(std::string_view(digits + k, sizeof digits - k));
    }
    void field(std::string_view name, std::string_view value) {
        put(name);
        put(": ");
        put(value);
        put("\r\n");
    }
};

std::span<const uint8_t> bytes(const void* p, size_t n) { return {static_cast<const uint8_t*>(p), n}; }

Error truncated() {
    return Error(Errc::protocol, "client: the connection closed before the response body was complete");
}

}  // namespace

Task<Result<void>> Client::Impl::exchange(Url& cur, std::string_view& cur_text, const FetchRequest& req,
                                          FetchOptions& opt, Buffer& buf, Hop& hop, TimePoint deadline) {
    const Origin origin{cur.https, cur.host, cur.port};
    for (int attempt = 0;; ++attempt) {
        Lease lease(*this);
        bool fresh = false;
        Conn* conn = try_acquire(origin, fresh);
        if (!conn) {
            if (stats.waiting >= options.queue) {
                ++stats.queue_refused;
                co_return Error(Errc::no_memory, "client: too many fetches waiting for a connection (ClientOptions::queue)");
            }
            Waiter w(*this, origin, deadline);
            co_await w;
            if (w.error.code != Errc::ok) co_return w.error;
            conn = w.granted;
            w.granted = nullptr;
            fresh = w.fresh;
        }
        lease.conn = conn;
        if (!buf) {
            // Taken only now, so fetches waiting in the queue hold no buffer.
            buf = buffers->acquire();
            if (!buf) co_return Error(Errc::no_memory, "client: all response buffers in use (ClientOptions::buffers)");
            Layout l0 = layout(buf);
            size_t n = format_url(cur, std::span<char>(l0.url[0], options.max_url));
            if (n == 0) co_return Error(Errc::too_large, "client: URL longer than ClientOptions::max_url");
            auto copied = parse_url(std::string_view(l0.url[0], n));
            if (!copied) co_return copied.error();
            cur = *copied;
            cur_text = std::string_view(l0.url[0], n);
        }
        Layout l = layout(buf);
        if (fresh) {
            auto r = co_await connect(*conn, cur, deadline, opt.connect_timeout);
            if (!r) co_return r.error();
        }
        // A pooled connection the server has closed meanwhile fails before any
        // response byte; an idempotent request then goes again on another one.
        const bool retryable = !fresh && attempt < 3 && req.idempotent && !req.producer;
        hop.reused = !fresh;
        ++stats.requests;
        if (!fresh) ++stats.connections_reused;
        ++conn->requests;
        Stream& s = conn->stream();

        bool close_after = false;
        auto head_len = write_head(cur, req, opt, l, close_after);
        if (!head_len) co_return head_len.error();
        auto sent = co_await send_body(s, req, l, *head_len, deadline, opt.idle_timeout);
        if (!sent) {
            if (retryable && sent.error().code != Errc::timeout) {
                ++stats.retries;
                continue;
            }
            co_return sent.error();
        }

        size_t len = 0;
        ResponseParser parser(l.data_size, req.head);
        std::span<Header> headers(l.headers, options.max_headers);
        int interim = 0;
        bool retry = false;
        for (;;) {
            ParseResult p = parser.parse(std::string_view(reinterpret_cast<char*>(l.data), len), hop.head, headers);
            if (p.failed()) co_return p.error;
            if (p.complete()) {
                if (hop.head.status == 101) co_return Error(Errc::protocol, "client: unexpected 101 Switching Protocols");
                if (hop.head.status >= 200) {
                    hop.body_at = p.consumed;
                    break;
                }
                if (++interim > kMaxInterim) co_return Error(Errc::protocol, "client: too many 1xx responses");
                std::memmove(l.data, l.data + p.consumed, len - p.consumed);
                len -= p.consumed;
                parser.reset(req.head);
                continue;
            }
            auto n = co_await s.read(std::span<uint8_t>(l.data + len, l.data_size - len),
                                     budget(deadline, opt.idle_timeout));
            if (!n || *n == 0) {
                bool nothing = len == 0 && interim == 0;
                if (nothing && retryable && (n || n.error().code != Errc::timeout)) {
                    retry = true;
                    break;
                }
                if (!n) co_return n.error().code == Errc::timeout ? timed_out(deadline) : n.error();
                co_return Error(Errc::closed, nothing ? "client: the server closed the connection without answering"
                                                      : "client: the connection closed in the response head");
            }
            len += *n;
        }
        if (retry) {
            ++stats.retries;
            continue;
        }
        // A redirect we follow: its body matters to nobody, on_head and on_chunk included.
        const ResponseHead& h = hop.head;
        hop.redirecting = opt.max_redirects > 0 && is_redirect(h.status) && !h.header("location").empty() &&
                          !(req.producer && (h.status == 307 || h.status == 308));
        if (!hop.redirecting && opt.on_head) {
            auto ok = opt.on_head(h);
            if (!ok) co_return ok.error();
        }
        bool reusable = h.keep_alive && !close_after;
        auto body = co_await read_body(s, opt, l, len, hop, reusable, deadline);
        if (!body) co_return body.error();
        lease.finish(reusable);
        co_return Result<void>();
    }
}

Result<size_t> Client::Impl::write_head(const Url& url, const FetchRequest& req, const FetchOptions& opt, Layout& l,
                                        bool& close_after) {
    HeadWriter w{l.data, l.data_size};
    w.put(req.method);
    w.put(" ");
    w.put(url.path);
    if (url.has_query) {
        w.put("?");
        w.put(url.query);
    }
    w.put(" HTTP/1.1\r\n");
    bool own_host = true, own_agent = true;
    for (const Header& h : opt.headers) {
        // After leaving the first origin a Host of the caller's would name the wrong server.
        if (iequals(h.name, "host") && !req.crossed) own_host = false;
        if (iequals(h.name, "user-agent")) own_agent = false;
    }
    if (own_host) {
        char authority[kMaxHostLength + 16];
        w.field("Host", std::string_view(authority, format_authority(url, authority)));
    }
    if (own_agent && options.user_agent && *options.user_agent) w.field("User-Agent", options.user_agent);
    for (const Header& h : opt.headers) {
        if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding")) continue;
        if (req.crossed && (is_credential(h.name) || iequals(h.name, "host"))) continue;
        if (req.body_dropped && (iequals(h.name, "content-type") || iequals(h.name, "content-encoding"))) continue;
        if (iequals(h.name, "connection") && lists_close(h.value)) close_after = true;
        w.field(h.name, h.value);
    }
    if (req.producer) {
        if (req.body_length >= 0) {
            w.put("Content-Length: ");
            w.put_number(uint64_t(req.body_length));
            w.put("\r\n");
        } else {
            w.put("Transfer-Encoding: chunked\r\n");
        }
    } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        w.put("Content-Length: ");
        w.put_number(req.body.size());
        w.put("\r\n");
    }
    w.put("\r\n");
    if (w.overflow) return Error(Errc::too_large, "client: request head larger than the buffer");
    return w.len;
}

Task<Result<void>> Client::Impl::send_body(Stream& s, const FetchRequest& req, Layout& l, size_t head_len,
                                           TimePoint deadline, Duration idle) {
    if (!req.producer) {
        // A body that fits goes out with the head in one write.
        const bool together = req.body.size() <= l.data_size - head_len;
        size_t n = head_len;
        if (together && !req.body.empty()) {
            std::memcpy(l.data + head_len, req.body.data(), req.body.size());
            n += req.body.size();
        }
        auto w = co_await s.write_all(bytes(l.data, n), budget(deadline, idle));
        if (w && !together) w = co_await s.write_all(bytes(req.body.data(), req.body.size()), budget(deadline, idle));
        if (!w) co_return w.error().code == Errc::timeout ? timed_out(deadline) : w.error();
        co_return Result<void>();
    }
    auto w = co_await s.write_all(bytes(l.data, head_len), budget(deadline, idle));
    if (!w) co_return w.error().code == Errc::timeout ? timed_out(deadline) : w.error();
    const bool chunked = req.body_length < 0;
    uint64_t total = 0;
    for (;;) {
        std::span<uint8_t> room = chunked ? std::span<uint8_t>(l.data + kChunkPrefix, l.data_size - kChunkPrefix - 2)
                                          : std::span<uint8_t>(l.data, l.data_size);
        auto n = co_await (*req.producer)(room);
        if (!n) co_return n.error();
        if (*n > room.size()) co_return Error(Errc::invalid_argument, "client: the body producer overran its buffer");
        if (*n == 0) break;
        total += *n;
        size_t start = 0, end = *n;
        if (chunked) {
            // The size line goes right before the data, CRLF right after: one write per chunk.
            static const char kHex[] = "0123456789abcdef";
            start = kChunkPrefix - 2;
            l.data[start] = '\r';
            l.data[start + 1] = '\n';
            for (size_t v = *n; v; v >>= 4) l.data[--start] = uint8_t(kHex[v & 15]);
            end = kChunkPrefix + *n;
            l.data[end++] = '\r';
            l.data[end++] = '\n';
        } else if (total > uint64_t(req.body_length)) {
            co_return Error(Errc::invalid_argument, "client: the body producer gave more than body_length");
        }
        w = co_await s.write_all(bytes(l.data + start, end - start), budget(deadline, idle));
        if (!w) co_return w.error().code == Errc::timeout ? timed_out(deadline) : w.error();
    }
    if (!chunked && total != uint64_t(req.body_length))
        co_return Error(Errc::invalid_argument, "client: the body producer gave less than body_length");
    if (chunked) {
        w = co_await s.write_all(bytes("0\r\n\r\n", 5), budget(deadline, idle));
        if (!w) co_return w.error().code == Errc::timeout ? timed_out(deadline) : w.error();
    }
    co_return Result<void>();
}

Task<Result<void>> Client::Impl::read_body(Stream& s, FetchOptions& opt, Layout& l,
                                           size_t& len, Hop& hop, bool& reusable, TimePoint deadline) {
    const ResponseHead& h = hop.head;
    const size_t hc = hop.body_at;
    uint8_t* d = l.data;
    const size_t cap = l.data_size;
    enum class Mode : uint8_t { buffer, stream, drop };
    const Mode mode = hop.redirecting ? Mode::drop : opt.on_chunk ? Mode::stream : Mode::buffer;
    hop.body_len = 0;
    hop.body_size = 0;
    auto next_read = [&](size_t from) { return s.read(std::span<uint8_t>(d + from, cap - from), budget(deadline, opt.idle_timeout)); };
    auto read_failed = [&](const Error& e) { return e.code == Errc::timeout ? timed_out(deadline) : e; };

    if (h.framing == Framing::none) {
        if (len > hc) reusable = false;  // bytes after a bodiless response: the framing is off
        co_return Result<void>();
    }

    if (h.framing == Framing::chunked) {
        ChunkedDecoder dec(ChunkedLimits{mode == Mode::drop ? kMaxDrain : opt.max_body, 1024, 4096});
        if (mode == Mode::buffer) {
            // Decoded body in [hc, end), encoded bytes not yet decoded in [end, len).
            size_t end = hc;
            for (;;) {
                ChunkResult r = dec.decode_in_place(std::span<char>(reinterpret_cast<char*>(d) + end, len - end));
                if (r.failed()) {
                    if (r.error.code == Errc::too_large) co_return Error(Errc::too_large, "client: response body over max_body");
                    co_return r.error;
                }
                size_t rest = len - end - r.consumed;
                std::memmove(d + end + r.decoded, d + end + r.consumed, rest);
                end += r.decoded;
                len = end + rest;
                if (r.complete()) {
                    if (len > end) reusable = false;
                    break;
                }
                if (len == cap)
                    co_return Error(Errc::too_large, "client: response body larger than the buffer (stream it with on_chunk)");
                auto n = co_await next_read(len);
                if (!n) co_return read_failed(n.error());
                if (*n == 0) co_return truncated();
                len += *n;
            }
            hop.body_at = hc;
            hop.body_len = end - hc;
            hop.body_size = dec.total();
            co_return Result<void>();
        }
        size_t pos = hc;
        for (;;) {
            ChunkResult r = dec.next(std::string_view(reinterpret_cast<char*>(d) + pos, len - pos));
            if (r.failed()) {
                if (mode == Mode::drop) {
                    reusable = false;
                    co_return Result<void>();
                }
                if (r.error.code == Errc::too_large) co_return Error(Errc::too_large, "client: response body over max_body");
                co_return r.error;
            }
            pos += r.consumed;
            if (!r.data.empty()) {
                hop.body_size += r.data.size();
                if (mode == Mode::stream) {
                    auto ok = opt.on_chunk(bytes(r.data.data(), r.data.size()));
                    if (!ok) co_return ok.error();
                }
            }
            if (r.complete()) {
                if (len > pos) reusable = false;
                co_return Result<void>();
            }
            if (!r.data.empty()) continue;
            // All input taken (the decoder keeps partial framing in its state): start over.
            pos = len = hc;
            auto n = co_await next_read(len);
            if (!n) co_return read_failed(n.error());
            if (*n == 0) {
                if (mode == Mode::drop) {
                    reusable = false;
                    co_return Result<void>();
                }
                co_return truncated();
            }
            len += *n;
        }
    }

    // Content-Length, or until the server closes.
    const bool counted = h.framing == Framing::content_length;
    const uint64_t want = h.content_length;
    if (!counted) reusable = false;
    if (mode == Mode::drop && (!counted || want > kMaxDrain)) {
        reusable = false;  // cheaper to close than to read
        co_return Result<void>();
    }
    if (mode != Mode::drop && counted && want > opt.max_body)
        co_return Error(Errc::too_large, "client: response body over max_body");
    if (mode == Mode::buffer && counted && want > cap - hc)
        co_return Error(Errc::too_large, "client: response body larger than the buffer (stream it with on_chunk)");
    size_t pos = hc;
    for (;;) {
        uint64_t take = len - pos;
        if (counted && take > want - hop.body_size) take = want - hop.body_size;
        if (take) {
            hop.body_size += take;
            if (!counted && hop.body_size > opt.max_body) co_return Error(Errc::too_large, "client: response body over max_body");
            if (mode == Mode::stream) {
                auto ok = opt.on_chunk(bytes(d + pos, size_t(take)));
                if (!ok) co_return ok.error();
            }
            pos += size_t(take);
        }
        if (counted && hop.body_size == want) {
            if (len > pos) reusable = false;
            break;
        }
        if (mode != Mode::buffer) pos = len = hc;
        if (len == cap) {
            // Buffering a close-delimited body that filled the buffer: fine only if the server closes now.
            uint8_t probe;
            auto n = co_await s.read(std::span<uint8_t>(&probe, 1), budget(deadline, opt.idle_timeout));
            if (!n) co_return read_failed(n.error());
            if (*n == 0) break;
            co_return Error(Errc::too_large, "client: response body larger than the buffer (stream it with on_chunk)");
        }
        auto n = co_await next_read(len);
        if (!n) co_return read_failed(n.error());
        if (*n == 0) {
            if (counted) co_return truncated();
            break;
        }
        len += *n;
    }
    if (mode == Mode::buffer) {
        hop.body_at = hc;
        hop.body_len = size_t(hop.body_size);
    }
    co_return Result<void>();
}

}  // namespace gust::http
