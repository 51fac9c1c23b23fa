// Response building: headers are appended to the connection's output buffer
// as the handler sets them; the status line is written last into space kept
// in front of them, so a response leaves in one write without being copied.
#include <cstdio>
#include <cstring>

#include <gust/log.hpp>

#include "server_internal.hpp"

namespace gust {

using http::Connection;
using http::kAutoHeaderReserve;
using http::kStatusReserve;

namespace {

bool valid_header_value(std::string_view v) {
    for (char ch : v) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n' || c == 0) return false;
    }
    return true;
}

bool valid_header_name(std::string_view n) {
    if (n.empty()) return false;
    for (char c : n)
        if (!http::is_tchar(c)) return false;
    return true;
}

bool ensure_out(Connection& c) {
    if (!c.ex->out) {
        c.ex->out = c.server->buffers->acquire();
        if (!c.ex->out) {
            c.ex->out_exhausted = true;  // the server answers 503, not 500
            return false;
        }
        c.ex->head_len = 0;
        c.ex->out_len = 0;
        c.ex->out_start = 0;
        c.ex->has_content_type = false;
    }
    return true;
}

size_t append(Connection& c, size_t at, std::string_view s) {
    std::memcpy(c.ex->out.chars() + at, s.data(), s.size());
    return at + s.size();
}

// The decimal digits of v, written at the end of `buf`.
std::string_view decimal(char (&buf)[20], uint64_t v) {
    char* p = buf + sizeof buf;
    do {
        *--p = char('0' + v % 10);
        v /= 10;
    } while (v);
    return std::string_view(p, size_t(buf + sizeof buf - p));
}

enum class BodyMode { length, chunked, close_delimited };

// Completes the head: the server's headers after the handler's, then the
// status line in front. Leaves out_start/out_len spanning the head.
bool finalize_head(Connection& c, uint16_t status, BodyMode mode, uint64_t length, std::string_view content_type) {
    http::Server::Impl& s = *c.server;
    http::Exchange& x = *c.ex;
    const http::RequestHead& req = x.request->head();
    // An unread request body is not decided here: a streaming handler reads it
    // after sending its head. The server skips what is left afterwards, or
    // closes without notice when that is too much (RFC 9112 §9.6 allows it).
    if (s.draining || !req.keep_alive || mode == BodyMode::close_delimited) c.close_after = true;

    char* out = x.out.chars();
    size_t cap = x.out.size();
    size_t at = kStatusReserve + x.head_len;
    // Plain appends, not snprintf: formatting was a third of a keep-alive
    // request's instructions (make bench's profile). Literal appends inline
    // into a few moves.
    auto add = [&](std::string_view text) {
        if (at + text.size() + 2 > cap) return false;
        std::memcpy(out + at, text.data(), text.size());
        at += text.size();
        return true;
    };
    bool ok = add(s.fixed_lines());  // Date and Server
    if (!content_type.empty() && !x.has_content_type && status != 204 && status != 304)
        ok = ok && add("Content-Type: ") && add(content_type) && add("\r\n");
    if (status >= 200 && status != 204 && status != 304) {
        if (mode == BodyMode::length) {
            char digits[20];
            ok = ok && add("Content-Length: ") && add(decimal(digits, length)) && add("\r\n");
        } else if (mode == BodyMode::chunked) {
            ok = ok && add("Transfer-Encoding: chunked\r\n");
        }
    }
    if (c.close_after) ok = ok && add("Connection: close\r\n");
    else if (req.version == http::Version::http10) ok = ok && add("Connection: keep-alive\r\n");
    ok = ok && add("\r\n");
    if (!ok) return false;

    // "HTTP/1.1 200 OK\r\n", right-aligned against the handler's headers.
    std::string_view line = http::status_line(status);
    char built[kStatusReserve];
    if (line.empty()) {  // a code without a reason phrase here: "HTTP/1.1 599 \r\n"
        char code[20];
        std::string_view digits = decimal(code, status);
        std::memcpy(built, "HTTP/1.1 ", 9);
        std::memcpy(built + 9, digits.data(), digits.size());
        std::memcpy(built + 9 + digits.size(), " \r\n", 3);
        line = std::string_view(built, 12 + digits.size());
    }
    if (line.size() > kStatusReserve) return false;
    x.out_start = kStatusReserve - line.size();
    std::memcpy(out + x.out_start, line.data(), line.size());
    x.out_len = at;
    if (status >= 400) s.count_status(status);
    return true;
}

}  // namespace

Response& Response::status(uint16_t code) {
    if (code < 100 || code > 999 || head_sent_) failed_ = true;
    else status_ = code;
    return *this;
}

Response& Response::header(std::string_view name, std::string_view value) {
    Connection& c = *conn_;
    if (head_sent_ || complete_ || !valid_header_name(name) || !valid_header_value(value) || !ensure_out(c)) {
        log_warn("http: header '%.*s' refused (invalid, too late, or no buffer)", int(name.size()), name.data());
        failed_ = true;
        return *this;
    }
    size_t at = kStatusReserve + c.ex->head_len;
    size_t need = name.size() + value.size() + 4;
    if (at + need + kAutoHeaderReserve > c.ex->out.size()) {
        log_warn("http: response headers exceed the %zu-byte buffer", c.ex->out.size());
        failed_ = true;
        return *this;
    }
    if (http::iequals(name, "Content-Type")) c.ex->has_content_type = true;
    at = append(c, at, name);
    at = append(c, at, ": ");
    at = append(c, at, value);
    at = append(c, at, "\r\n");
    c.ex->head_len = at - kStatusReserve;
    return *this;
}

void Response::send(std::string_view body, std::string_view content_type) {
    Connection& c = *conn_;
    if (head_sent_ || complete_ || streaming_) {
        log_warn("http: send() after the response was already started");
        return;
    }
    if (failed_ || !ensure_out(c)) {
        failed_ = true;
        return;
    }
    if (!finalize_head(c, status_, BodyMode::length, body.size(), content_type)) {
        failed_ = true;
        return;
    }
    if (!c.ex->head_only) {
        if (c.ex->out_len + body.size() > c.ex->out.size()) {
            log_error("http: a %zu-byte body does not fit the %zu-byte response buffer; stream it with write()",
                      body.size(), c.ex->out.size());
            failed_ = true;
            return;
        }
        if (!body.empty()) std::memcpy(c.ex->out.chars() + c.ex->out_len, body.data(), body.size());
        c.ex->out_len += body.size();
    }
    complete_ = true;
}

JsonWriter* Response::begin_json() {
    Connection& c = *conn_;
    if (head_sent_ || complete_ || streaming_ || failed_ || !ensure_out(c)) {
        failed_ = true;
        return nullptr;
    }
    c.ex->json_at = kStatusReserve + c.ex->head_len + kAutoHeaderReserve;
    c.ex->json.emplace(std::span<char>(c.ex->out.chars() + c.ex->json_at, c.ex->out.size() - c.ex->json_at));
    return &c.ex->json.get();
}

void Response::end_json() {
    Connection& c = *conn_;
    auto text = c.ex->json.get().result();
    if (!text) {
        log_error("http: JSON response failed: %s (needs %zu bytes)", text.error().message, c.ex->json.get().size());
        c.ex->json.reset();
        failed_ = true;
        return;
    }
    size_t len = text->size();
    c.ex->json.reset();
    if (!finalize_head(c, status_, BodyMode::length, len, "application/json")) {
        failed_ = true;
        return;
    }
    // The head ended before the reserved gap; slide the body down against it.
    if (!c.ex->head_only) {
        std::memmove(c.ex->out.chars() + c.ex->out_len, c.ex->out.chars() + c.ex->json_at, len);
        c.ex->out_len += len;
    }
    complete_ = true;
}

void Response::content_length(uint64_t n) {
    if (head_sent_ || streaming_) return;
    has_length_ = true;
    length_ = n;
}

Task<Result<void>> Response::write(std::span<const uint8_t> data) {
    Connection& c = *conn_;
    if (complete_ || failed_) co_return Error(Errc::invalid_argument, "http: write() after the response was completed");
    if (!head_sent_) {
        if (!ensure_out(c)) co_return Error(Errc::no_memory, "http: no response buffer");
        BodyMode mode = has_length_ ? BodyMode::length
                        : c.ex->request->version() == http::Version::http11 ? BodyMode::chunked
                                                                         : BodyMode::close_delimited;
        if (!finalize_head(c, status_, mode, length_, "application/octet-stream")) {
            failed_ = true;
            co_return Error(Errc::too_large, "http: response head too large");
        }
        chunked_ = mode == BodyMode::chunked;
        streaming_ = true;
        head_sent_ = true;
        auto sent = c.server->try_flush(c);
        if (!sent) co_return sent.error();
        if (!*sent) {
            auto r = co_await c.server->flush(c);
            if (!r) co_return r;
        }
    }
    if (data.empty() || c.ex->head_only) co_return Result<void>();
    if (has_length_ && written_ + data.size() > length_)
        co_return Error(Errc::invalid_argument, "http: write() beyond the declared Content-Length");
    if (chunked_) {
        char line[24];
        int n = std::snprintf(line, sizeof line, "%zx\r\n", data.size());
        auto r = co_await c.io->write_all(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(line), size_t(n)),
                                             c.server->options.write_timeout);
        if (!r) co_return r.error();
    }
    auto r = co_await c.io->write_all(data, c.server->options.write_timeout);
    if (!r) co_return r.error();
    if (chunked_) {
        auto e = co_await c.io->write_all(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("\r\n"), 2),
                                             c.server->options.write_timeout);
        if (!e) co_return e.error();
    }
    written_ += data.size();
    c.server->stats.bytes_out += data.size();
    co_return Result<void>();
}

Task<Result<void>> Response::finish() {
    Connection& c = *conn_;
    if (complete_) co_return Result<void>();
    if (!head_sent_) {
        // Nothing streamed: an empty body.
        if (!streaming_) {
            send({}, {});
            co_return failed_ ? Result<void>(Error(Errc::invalid_argument, "http: bad response")) : Result<void>();
        }
    }
    complete_ = true;
    if (c.ex->head_only) co_return Result<void>();
    if (chunked_) {
        auto r = co_await c.io->write_all(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("0\r\n\r\n"), 5),
                                             c.server->options.write_timeout);
        if (!r) co_return r.error();
    } else if (has_length_ && written_ != length_) {
        c.close_after = true;  // the client sees a short body and must not reuse the connection
        co_return Error(Errc::protocol, "http: streamed body shorter than its Content-Length");
    }
    co_return Result<void>();
}

namespace http {

std::string_view status_line(uint16_t status) {
    switch (status) {
    case 100: return "HTTP/1.1 100 Continue\r\n";
    case 101: return "HTTP/1.1 101 Switching Protocols\r\n";
    case 200: return "HTTP/1.1 200 OK\r\n";
    case 201: return "HTTP/1.1 201 Created\r\n";
    case 202: return "HTTP/1.1 202 Accepted\r\n";
    case 204: return "HTTP/1.1 204 No Content\r\n";
    case 206: return "HTTP/1.1 206 Partial Content\r\n";
    case 301: return "HTTP/1.1 301 Moved Permanently\r\n";
    case 302: return "HTTP/1.1 302 Found\r\n";
    case 303: return "HTTP/1.1 303 See Other\r\n";
    case 304: return "HTTP/1.1 304 Not Modified\r\n";
    case 307: return "HTTP/1.1 307 Temporary Redirect\r\n";
    case 308: return "HTTP/1.1 308 Permanent Redirect\r\n";
    case 400: return "HTTP/1.1 400 Bad Request\r\n";
    case 401: return "HTTP/1.1 401 Unauthorized\r\n";
    case 403: return "HTTP/1.1 403 Forbidden\r\n";
    case 404: return "HTTP/1.1 404 Not Found\r\n";
    case 405: return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408: return "HTTP/1.1 408 Request Timeout\r\n";
    case 409: return "HTTP/1.1 409 Conflict\r\n";
    case 411: return "HTTP/1.1 411 Length Required\r\n";
    case 413: return "HTTP/1.1 413 Content Too Large\r\n";
    case 414: return "HTTP/1.1 414 URI Too Long\r\n";
    case 415: return "HTTP/1.1 415 Unsupported Media Type\r\n";
    case 416: return "HTTP/1.1 416 Range Not Satisfiable\r\n";
    case 417: return "HTTP/1.1 417 Expectation Failed\r\n";
    case 422: return "HTTP/1.1 422 Unprocessable Content\r\n";
    case 426: return "HTTP/1.1 426 Upgrade Required\r\n";
    case 429: return "HTTP/1.1 429 Too Many Requests\r\n";
    case 431: return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 500: return "HTTP/1.1 500 Internal Server Error\r\n";
    case 501: return "HTTP/1.1 501 Not Implemented\r\n";
    case 502: return "HTTP/1.1 502 Bad Gateway\r\n";
    case 503: return "HTTP/1.1 503 Service Unavailable\r\n";
    case 504: return "HTTP/1.1 504 Gateway Timeout\r\n";
    case 505: return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    }
    return {};
}

std::string_view reason_phrase(uint16_t status) {
    std::string_view line = status_line(status);
    // "HTTP/1.1 NNN " before it, CRLF after.
    return line.empty() ? line : line.substr(13, line.size() - 15);
}

void Server::Impl::count_status(uint16_t status) {
    if (status >= 500) ++stats.responses_5xx;
    else if (status >= 400) ++stats.responses_4xx;
}

Result<bool> Server::Impl::try_flush(Connection& c) {
    Exchange& x = *c.ex;
    size_t len = x.out_len - x.out_start;
    if (len > 0) {
        uint8_t need;
        auto sent = c.io->try_write(std::span<const uint8_t>(x.out.data() + x.out_start, len), need);
        // "again" sent nothing: flush() waits and offers the same bytes (TLS needs them unchanged).
        if (!sent) return sent.error().code == Errc::again ? Result<bool>(false) : Result<bool>(sent.error());
        x.out_start += *sent;
        stats.bytes_out += *sent;
        if (*sent < len) return false;
    }
    x.out_len = x.out_start = x.head_len = 0;
    return true;
}

Task<Result<void>> Server::Impl::flush(Connection& c) {
    Exchange& x = *c.ex;
    size_t len = x.out_len - x.out_start;
    auto r = co_await c.io->write_all(std::span<const uint8_t>(x.out.data() + x.out_start, len),
                                      options.write_timeout);
    x.out_len = x.out_start = x.head_len = 0;
    if (!r) co_return r.error();
    stats.bytes_out += len;
    co_return Result<void>();
}

Task<Result<void>> Server::Impl::send_error(Connection& c, uint16_t status, const char* allow) {
    // Formatted on the frame: the error may be that no buffer was free.
    char msg[256];
    std::string_view reason = reason_phrase(status);
    const int reason_len = int(reason.size());
    int body_len = std::snprintf(nullptr, 0, "%u %.*s\n", unsigned(status), reason_len, reason.data());
    // Close when the framing is in doubt, the body was left unread, or the
    // client did not ask to keep the connection.
    bool keep_alive = c.ex->request && c.ex->request->head().keep_alive;
    c.close_after = c.close_after || status == 400 || status == 408 || status >= 413 || draining ||
                    !c.ex->body_done || !keep_alive;
    int n = std::snprintf(msg, sizeof msg,
                          "HTTP/1.1 %u %.*s\r\n%sServer: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %d\r\n%s%s%s%s%s\r\n%u %.*s\n",
                          unsigned(status), reason_len, reason.data(), date_header(), options.server_name, body_len,
                          allow ? "Allow: " : "", allow ? allow : "", allow ? "\r\n" : "",
                          c.close_after ? "Connection: close\r\n" : "",
                          status == 503 ? "Retry-After: 1\r\n" : "",  // every 503 here is a full pool
                          unsigned(status), reason_len, reason.data());
    count_status(status);
    if (n <= 0 || size_t(n) >= sizeof msg) co_return Error(Errc::too_large, "http: error response too long");
    size_t len = size_t(n);
    if (c.ex->head_only) len -= size_t(body_len);
    auto r = co_await c.io->write_all(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(msg), len),
                                         options.write_timeout);
    if (!r) co_return r.error();
    stats.bytes_out += len;
    co_return Result<void>();
}

}  // namespace http
}  // namespace gust
