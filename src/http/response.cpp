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
    if (!c.out) {
        c.out = c.server->buffers->acquire();
        if (!c.out) {
            c.out_exhausted = true;  // the server answers 503, not 500
            return false;
        }
        c.head_len = 0;
        c.out_len = 0;
        c.out_start = 0;
        c.has_content_type = false;
    }
    return true;
}

size_t append(Connection& c, size_t at, std::string_view s) {
    std::memcpy(c.out.chars() + at, s.data(), s.size());
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
    const http::RequestHead& req = c.request->head();
    // An unread request body is not decided here: a streaming handler reads it
    // after sending its head. The server skips what is left afterwards, or
    // closes without notice when that is too much (RFC 9112 §9.6 allows it).
    if (s.draining || !req.keep_alive || mode == BodyMode::close_delimited) c.close_after = true;

    char* out = c.out.chars();
    size_t cap = c.out.size();
    size_t at = kStatusReserve + c.head_len;
    // Plain appends, not snprintf: formatting was a third of a keep-alive
    // request's instructions (make bench's profile).
    auto add = [&](std::string_view text) {
        if (at + text.size() + 2 > cap) return false;
        at = append(c, at, text);
        return true;
    };
    const char* server_name = s.options.server_name ? s.options.server_name : "";
    bool ok = add(std::string_view(s.date_header())) && add("Server: ") && add(server_name) && add("\r\n");
    if (!content_type.empty() && !c.has_content_type && status != 204 && status != 304)
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
    std::string_view reason = http::reason_phrase(status);
    char code[20];
    std::string_view digits = decimal(code, status);
    size_t n = 9 + digits.size() + 1 + reason.size() + 2;
    if (n > kStatusReserve) return false;
    c.out_start = kStatusReserve - n;
    char* p = out + c.out_start;
    std::memcpy(p, "HTTP/1.1 ", 9);
    std::memcpy(p + 9, digits.data(), digits.size());
    p[9 + digits.size()] = ' ';
    std::memcpy(p + 10 + digits.size(), reason.data(), reason.size());
    std::memcpy(p + n - 2, "\r\n", 2);
    c.out_len = at;
    c.server->count_status(status);
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
    size_t at = kStatusReserve + c.head_len;
    size_t need = name.size() + value.size() + 4;
    if (at + need + kAutoHeaderReserve > c.out.size()) {
        log_warn("http: response headers exceed the %zu-byte buffer", c.out.size());
        failed_ = true;
        return *this;
    }
    if (http::iequals(name, "Content-Type")) c.has_content_type = true;
    at = append(c, at, name);
    at = append(c, at, ": ");
    at = append(c, at, value);
    at = append(c, at, "\r\n");
    c.head_len = at - kStatusReserve;
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
    if (!c.head_only) {
        if (c.out_len + body.size() > c.out.size()) {
            log_error("http: a %zu-byte body does not fit the %zu-byte response buffer; stream it with write()",
                      body.size(), c.out.size());
            failed_ = true;
            return;
        }
        if (!body.empty()) std::memcpy(c.out.chars() + c.out_len, body.data(), body.size());
        c.out_len += body.size();
    }
    complete_ = true;
}

JsonWriter* Response::begin_json() {
    Connection& c = *conn_;
    if (head_sent_ || complete_ || streaming_ || failed_ || !ensure_out(c)) {
        failed_ = true;
        return nullptr;
    }
    c.json_at = kStatusReserve + c.head_len + kAutoHeaderReserve;
    c.json.emplace(std::span<char>(c.out.chars() + c.json_at, c.out.size() - c.json_at));
    return &c.json.get();
}

void Response::end_json() {
    Connection& c = *conn_;
    auto text = c.json.get().result();
    if (!text) {
        log_error("http: JSON response failed: %s (needs %zu bytes)", text.error().message, c.json.get().size());
        c.json.reset();
        failed_ = true;
        return;
    }
    size_t len = text->size();
    c.json.reset();
    if (!finalize_head(c, status_, BodyMode::length, len, "application/json")) {
        failed_ = true;
        return;
    }
    // The head ended before the reserved gap; slide the body down against it.
    if (!c.head_only) {
        std::memmove(c.out.chars() + c.out_len, c.out.chars() + c.json_at, len);
        c.out_len += len;
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
                        : c.request->version() == http::Version::http11 ? BodyMode::chunked
                                                                         : BodyMode::close_delimited;
        if (!finalize_head(c, status_, mode, length_, "application/octet-stream")) {
            failed_ = true;
            co_return Error(Errc::too_large, "http: response head too large");
        }
        chunked_ = mode == BodyMode::chunked;
        streaming_ = true;
        head_sent_ = true;
        auto r = co_await c.server->flush(c);
        if (!r) co_return r;
    }
    if (data.empty() || c.head_only) co_return Result<void>();
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
    if (c.head_only) co_return Result<void>();
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

const char* reason_phrase(uint16_t status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "";
}

void Server::Impl::count_status(uint16_t status) {
    if (status >= 500) ++stats.responses_5xx;
    else if (status >= 400) ++stats.responses_4xx;
}

Task<Result<void>> Server::Impl::flush(Connection& c) {
    if (c.out_len <= c.out_start) co_return Result<void>();
    size_t len = c.out_len - c.out_start;
    auto r = co_await c.io->write_all(std::span<const uint8_t>(c.out.data() + c.out_start, len),
                                         options.write_timeout);
    c.out_len = c.out_start = 0;
    c.head_len = 0;
    if (!r) co_return r.error();
    stats.bytes_out += len;
    co_return Result<void>();
}

Task<Result<void>> Server::Impl::send_error(Connection& c, uint16_t status, const char* allow) {
    // Formatted on the frame: the error may be that no buffer was free.
    char msg[256];
    const char* reason = reason_phrase(status);
    int body_len = std::snprintf(nullptr, 0, "%u %s\n", unsigned(status), reason);
    // Close when the framing is in doubt, the body was left unread, or the
    // client did not ask to keep the connection.
    bool keep_alive = c.request && c.request->head().keep_alive;
    c.close_after = c.close_after || status == 400 || status == 408 || status >= 413 || draining ||
                    !c.body_done || !keep_alive;
    int n = std::snprintf(msg, sizeof msg,
                          "HTTP/1.1 %u %s\r\n%sServer: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %d\r\n%s%s%s%s%s\r\n%u %s\n",
                          unsigned(status), reason, date_header(), options.server_name, body_len,
                          allow ? "Allow: " : "", allow ? allow : "", allow ? "\r\n" : "",
                          c.close_after ? "Connection: close\r\n" : "",
                          status == 503 ? "Retry-After: 1\r\n" : "",  // every 503 here is a full pool
                          unsigned(status), reason);
    count_status(status);
    if (n <= 0 || size_t(n) >= sizeof msg) co_return Error(Errc::too_large, "http: error response too long");
    size_t len = size_t(n);
    if (c.head_only) len -= size_t(body_len);
    auto r = co_await c.io->write_all(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(msg), len),
                                         options.write_timeout);
    if (!r) co_return r.error();
    stats.bytes_out += len;
    co_return Result<void>();
}

}  // namespace http
}  // namespace gust
