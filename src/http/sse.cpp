// Server-Sent Events over a streamed response. Events from send() go through
// Response::write (which frames chunks); hub messages come pre-framed from
// the hub's slots. The write lock keeps the two from interleaving.
#include <gust/sse.hpp>

#include <cstdio>
#include <cstring>

#include <gust/http.hpp>

#include "server_internal.hpp"

namespace gust {

namespace {

bool has_break(std::string_view s) {
    for (char c : s)
        if (c == '\r' || c == '\n' || c == 0) return true;
    return false;
}

// Appends `s` to out[at..); false when it does not fit.
bool append(std::span<char> out, size_t& at, std::string_view s) {
    if (s.size() > out.size() - at) return false;
    std::memcpy(out.data() + at, s.data(), s.size());
    at += s.size();
    return true;
}

}  // namespace

EventStream Response::event_stream() { return EventStream(*conn_->ex->request, *this); }

EventStream Response::event_stream(const EventStreamOptions& options) {
    return EventStream(*conn_->ex->request, *this, options);
}

EventStream::EventStream(Request& req, Response& res, const EventStreamOptions& options)
    : req_(&req), res_(&res), options_(options) {
    http::Connection& c = *res.conn_;
    // Chunked on HTTP/1.1, the rest of the connection on 1.0 (as Response::write decides).
    bind(&c.server->loop, c.io, c.ex->version == http::Version::http11 ? Format::sse_chunked : Format::sse_plain);
    ready_ = false;  // no hub bytes before the head
    std::string_view id = req.header("Last-Event-ID");
    last_id_ = id.data() ? id : std::string_view();
    res.header("Content-Type", "text/event-stream; charset=utf-8");
    res.header("Cache-Control", "no-cache");
    res.header("X-Accel-Buffering", "no");  // proxies must not hold events back
    c.events = this;
}

EventStream::~EventStream() {
    http::Connection& c = *res_->conn_;
    if (c.events == this) c.events = nullptr;
    // A stream that ended early (client gone, write failed) must not be followed by another response.
    if (gone_ || broken_) c.close_after = true;
}

void EventStream::end() {
    gone_ = true;
    fail();
}

Task<Result<void>> EventStream::start() {
    if (started_) co_return Result<void>();
    started_ = true;
    auto r = co_await res_->write(std::string_view());
    if (!r) {
        gone_ = true;
        co_return r;
    }
    if (options_.retry > Duration(0)) {
        char line[40];
        int n = std::snprintf(line, sizeof line, "retry: %lld\n\n",
                              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(options_.retry).count()));
        auto w = co_await res_->write(std::string_view(line, size_t(n)));
        if (!w) {
            gone_ = true;
            co_return w;
        }
    }
    last_write_ = loop_->now();
    ready_ = true;  // the lock's release lets queued hub messages out
    co_return Result<void>();
}

Task<Result<void>> EventStream::write_locked(std::string_view text) {
    if (auto s = co_await start(); !s) co_return s;
    auto r = co_await res_->write(text);
    if (!r) {
        gone_ = true;
        co_return r;
    }
    last_write_ = loop_->now();
    co_return Result<void>();
}

Task<Result<void>> EventStream::send(std::string_view event, std::string_view data, std::string_view id) {
    if (!is_open()) co_return Error(Errc::closed, "sse: the client left");
    if (has_break(event) || has_break(id)) co_return Error(Errc::invalid_argument, "sse: line break in an event name or id");
    auto guard = co_await lock();
    Buffer b = res_->conn_->server->buffers->acquire();
    if (!b) co_return Error(Errc::no_memory, "sse: no buffer for an event");
    std::span<char> out(b.chars(), b.size());
    size_t at = 0;
    bool ok = true;
    if (!event.empty()) ok = append(out, at, "event: ") && append(out, at, event) && append(out, at, "\n");
    if (ok && !id.empty()) ok = append(out, at, "id: ") && append(out, at, id) && append(out, at, "\n");
    ok = ok && append(out, at, "data: ");
    for (size_t i = 0; ok && i < data.size(); ++i) {
        char c = data[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
            ok = append(out, at, "\ndata: ");
        } else {
            ok = append(out, at, std::string_view(&c, 1));
        }
    }
    ok = ok && append(out, at, "\n\n");
    if (!ok) co_return Error(Errc::too_large, "sse: event larger than an I/O buffer");
    guard.dirty(true);
    auto r = co_await write_locked(std::string_view(out.data(), at));
    guard.dirty(false);
    if (!r) co_return r;
    ++sent_;
    co_return Result<void>();
}

Task<Result<void>> EventStream::comment(std::string_view text) {
    if (!is_open()) co_return Error(Errc::closed, "sse: the client left");
    if (has_break(text)) co_return Error(Errc::invalid_argument, "sse: line break in a comment");
    char line[128];
    if (text.size() > sizeof line - 4) text = text.substr(0, sizeof line - 4);
    size_t n = 0;
    line[n++] = ':';
    if (!text.empty()) {
        line[n++] = ' ';
        std::memcpy(line + n, text.data(), text.size());
        n += text.size();
    }
    line[n++] = '\n';
    line[n++] = '\n';
    auto guard = co_await lock();
    guard.dirty(true);
    auto r = co_await write_locked(std::string_view(line, n));
    guard.dirty(false);
    co_return r;
}

Task<Result<void>> EventStream::wait(Duration d) {
    if (!started_) {
        auto guard = co_await lock();
        if (auto s = co_await start(); !s) co_return s;
    }
    TimePoint deadline = d == Duration::max() ? TimePoint::max() : loop_->now() + d;
    uint8_t sink[64];
    for (;;) {
        if (!is_open()) co_return Error(Errc::closed, "sse: the client left");
        TimePoint now = loop_->now();
        if (now >= deadline) co_return Result<void>();
        TimePoint beat = last_write_ + options_.heartbeat;
        if (now >= beat) {
            if (auto r = co_await comment(); !r) co_return r;
            continue;
        }
        TimePoint until = deadline < beat ? deadline : beat;
        // Reading is how a disconnect shows (end of stream or a reset).
        auto n = co_await io_->read(sink, until - now);
        if (!n) {
            if (n.error().code == Errc::timeout) continue;
            gone_ = true;
            co_return n.error();
        }
        if (*n == 0) {
            gone_ = true;
            co_return Error(Errc::closed, "sse: the client left");
        }
        res_->conn_->close_after = true;  // bytes from the client: nothing more is served here
    }
}

}  // namespace gust
