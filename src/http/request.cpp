// Request bodies: Content-Length bodies are read straight into the handler's
// span once the bytes buffered after the head are used up; chunked bodies go
// through the input buffer's free part and the decoder. The head's bytes are
// never moved while the handler runs, so its views stay valid.
#include <cstring>

#include "server_internal.hpp"

namespace gust {

using http::Connection;

namespace {

const uint8_t kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// Makes room after the unread chunked bytes: moves them down to body_base.
void compact_body(Connection& c) {
    if (c.in_pos == c.in_len) {
        c.in_pos = c.in_len = c.body_base;
    } else if (c.in_pos > c.body_base) {
        std::memmove(c.in.data() + c.body_base, c.in.data() + c.in_pos, c.in_len - c.in_pos);
        c.in_len = c.body_base + (c.in_len - c.in_pos);
        c.in_pos = c.body_base;
    }
}

Task<Result<void>> send_continue(Connection& c) {
    c.ex->expect_continue = false;
    auto r = co_await c.io->write_all(std::span<const uint8_t>(kContinue, sizeof kContinue - 1),
                                         c.server->options.write_timeout);
    if (!r) co_return r.error();
    co_return Result<void>();
}

Error body_error(Connection& c, uint16_t status, Errc code, const char* msg) {
    c.ex->body_error_status = status;
    c.ex->body_done = true;
    c.close_after = true;
    return Error(code, msg);
}

// Reads body bytes from the socket into `into`, mapping a stall to 408 and an
// early end of stream to 400 (both close the connection after the answer).
Task<Result<size_t>> receive_body(Connection& c, std::span<uint8_t> into) {
    auto r = co_await c.io->read(into, c.ex->body_timeout);
    if (!r) {
        if (r.error().code == Errc::timeout) co_return body_error(c, 408, Errc::timeout, "http: request body stalled");
        co_return r.error();
    }
    if (*r == 0) co_return body_error(c, 400, Errc::closed, "http: request body cut short");
    c.server->stats.bytes_in += *r;
    co_return *r;
}

}  // namespace

bool Request::has_body() const {
    return head_->framing == http::Framing::chunked ||
           (head_->framing == http::Framing::content_length && head_->content_length > 0);
}

std::string_view Request::peer_ip(std::span<char> out) const {
    return std::string_view(out.data(), port::format_ip(conn_->peer, out));
}

int64_t Request::content_length() const {
    if (head_->framing == http::Framing::chunked) return -1;
    return int64_t(head_->content_length);
}

Task<Result<size_t>> Request::read(std::span<uint8_t> out) {
    Connection& c = *conn_;
    if (c.ex->body_done || out.empty()) co_return size_t(0);
    if (c.ex->expect_continue) {
        auto r = co_await send_continue(c);
        if (!r) co_return r.error();
    }
    if (c.ex->framing == http::Framing::content_length) {
        size_t want = out.size() < c.ex->body_left ? out.size() : size_t(c.ex->body_left);
        size_t n;
        if (c.in_pos < c.in_len) {
            n = c.in_len - c.in_pos < want ? c.in_len - c.in_pos : want;
            std::memcpy(out.data(), c.in.data() + c.in_pos, n);
            c.in_pos += n;
        } else {
            auto r = co_await receive_body(c, out.first(want));
            if (!r) co_return r.error();
            n = *r;
        }
        c.ex->body_left -= n;
        c.ex->body_read += n;
        if (c.ex->body_left == 0) c.ex->body_done = true;
        co_return n;
    }
    // Chunked.
    for (;;) {
        if (c.in_pos < c.in_len) {
            std::string_view pending(c.in.chars() + c.in_pos, c.in_len - c.in_pos);
            auto step = c.ex->chunked.decode(pending, std::span<char>(reinterpret_cast<char*>(out.data()), out.size()));
            c.in_pos += step.consumed;
            if (step.failed()) co_return body_error(c, step.status, step.error.code, step.error.message);
            c.ex->body_read += step.decoded;
            if (step.complete()) c.ex->body_done = true;
            if (step.decoded > 0 || step.complete()) co_return step.decoded;
        }
        compact_body(c);
        if (c.in_len == c.in.size())
            co_return body_error(c, 400, Errc::protocol, "http: chunk framing line longer than the buffer");
        auto r = co_await receive_body(c, c.in.span().subspan(c.in_len));
        if (!r) co_return r.error();
        c.in_len += *r;
    }
}

Task<Result<std::string_view>> Request::body() {
    Connection& c = *conn_;
    char* base = c.in.chars() + c.body_base;
    if (c.ex->framing == http::Framing::none) co_return std::string_view(base, 0);
    if (c.ex->body_read != 0) co_return Error(Errc::invalid_argument, "http: body() after read()");
    size_t room = c.in.size() - c.body_base;
    if (c.ex->framing == http::Framing::content_length && c.ex->body_left > room)
        co_return Error(Errc::too_large, "http: body larger than the input buffer; stream it with read()");
    if (c.ex->framing == http::Framing::content_length) {
        // The body lands in place right after the head; extra bytes (a
        // pipelined request) stay behind it.
        size_t len = size_t(c.ex->body_left);
        if (c.ex->expect_continue && c.in_len - c.body_base < len) {
            auto r = co_await send_continue(c);
            if (!r) co_return r.error();
        }
        while (c.in_len - c.body_base < len) {
            auto r = co_await receive_body(c, c.in.span().subspan(c.in_len));
            if (!r) co_return r.error();
            c.in_len += *r;
        }
        c.in_pos = c.body_base + len;
        c.ex->body_left = 0;
        c.ex->body_read = len;
        c.ex->body_done = true;
        co_return std::string_view(base, len);
    }
    // Decoded bytes collect at the start of the body region, behind which the
    // still-encoded bytes are kept.
    size_t have = 0;
    while (!c.ex->body_done) {
        if (have == room) co_return Error(Errc::too_large, "http: body larger than the input buffer");
        // Chunked: decode in place from the unread bytes towards `have`.
        if (c.in_pos < c.in_len) {
            std::span<char> pending(c.in.chars() + c.in_pos, c.in_len - c.in_pos);
            auto step = c.ex->chunked.decode_in_place(pending);
            if (step.failed()) co_return body_error(c, step.status, step.error.code, step.error.message);
            std::memmove(base + have, pending.data(), step.decoded);
            have += step.decoded;
            c.ex->body_read += step.decoded;
            c.in_pos += step.consumed;
            if (step.complete()) {
                c.ex->body_done = true;
                break;
            }
        }
        // Unread framing bytes move down behind the decoded body.
        size_t keep = c.in_len - c.in_pos;
        std::memmove(base + have, c.in.chars() + c.in_pos, keep);
        c.in_pos = c.body_base + have;
        c.in_len = c.in_pos + keep;
        if (c.in_len == c.in.size()) co_return Error(Errc::too_large, "http: body larger than the input buffer");
        if (c.ex->expect_continue) {
            auto r = co_await send_continue(c);
            if (!r) co_return r.error();
        }
        auto r = co_await receive_body(c, c.in.span().subspan(c.in_len));
        if (!r) co_return r.error();
        c.in_len += *r;
    }
    co_return std::string_view(base, have);
}

}  // namespace gust
