// The HTTP/1.1 response-head parser for the client: lines are found with one
// scan over new bytes, each complete line is checked once, then the stored
// fields decide framing and persistence. See http_parser.hpp.
#include <gust/http_parser.hpp>

#include <cstring>

namespace gust::http {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ows(char c) { return c == ' ' || c == '\t'; }
// HTAB, SP, VCHAR and obs-text: what a field value or reason phrase may hold.
bool is_text(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_ows(v.front())) v.remove_prefix(1);
    while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
    return v;
}

// Calls f(element) for each comma-separated element, OWS trimmed, empty ones skipped.
template <typename F>
void for_each_element(std::string_view v, F&& f) {
    for (;;) {
        size_t comma = v.find(',');
        std::string_view e = trim(v.substr(0, comma));
        if (!e.empty()) f(e);
        if (comma == std::string_view::npos) return;
        v.remove_prefix(comma + 1);
    }
}

bool parse_decimal(std::string_view s, uint64_t& out) {
    if (s.empty()) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        uint64_t d = uint64_t(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

std::string_view moved(std::string_view v, uintptr_t old_base, const char* base) {
    if (v.data() == nullptr) return v;
    return std::string_view(base + (reinterpret_cast<uintptr_t>(v.data()) - old_base), v.size());
}

}  // namespace

void ResponseParser::reset(bool head_request) { *this = ResponseParser(max_head_, head_request); }

ParseResult ResponseParser::fail(Errc code, const char* message) {
    done_.progress = Progress::failed;
    done_.consumed = 0;
    done_.error = Error(code, message);
    return done_;
}

ParseResult ResponseParser::parse(std::string_view buf, ResponseHead& out, std::span<Header> headers) {
    if (done_.progress != Progress::incomplete) return done_;
    if (buf.size() < pos_ || headers.data() != hbase_ || headers.size() < count_) {
        reset(head_request_);  // the caller changed the history or the header array: start over once
        hbase_ = headers.data();
    }
    if (buf.data() != base_) {
        // Integer arithmetic on the old addresses: the old buffer is never read.
        uintptr_t old = reinterpret_cast<uintptr_t>(base_);
        for (size_t i = 0; i < count_; ++i) {
            headers[i].name = moved(headers[i].name, old, buf.data());
            headers[i].value = moved(headers[i].value, old, buf.data());
        }
        head_.reason = moved(head_.reason, old, buf.data());
        base_ = buf.data();
    }
    const size_t limit = buf.size() < max_head_ ? buf.size() : max_head_;
    while (pos_ < limit) {
        const void* nl = std::memchr(buf.data() + pos_, '\n', limit - pos_);
        if (!nl) {
            pos_ = limit;
            break;
        }
        size_t i = size_t(static_cast<const char*>(nl) - buf.data());
        if (i == line_start_ || buf[i - 1] != '\r') return fail(Errc::protocol, "bare LF in response head");
        pos_ = i + 1;
        ParseResult r = line(buf, line_start_, i - 1, out, headers);
        line_start_ = pos_;
        if (!r.incomplete()) return r;
    }
    if (pos_ >= max_head_) return fail(Errc::too_large, "response head too large");
    return ParseResult{};
}

ParseResult ResponseParser::line(std::string_view buf, size_t start, size_t end, ResponseHead& out,
                                 std::span<Header> headers) {
    std::string_view l = buf.substr(start, end - start);
    if (!have_status_) {
        // HTTP/1.1 200 OK
        if (l.size() < 12 || !l.starts_with("HTTP/") || !is_digit(l[5]) || l[6] != '.' || !is_digit(l[7]) ||
            l[8] != ' ' || !is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11]))
            return fail(Errc::protocol, "malformed status line");
        if (l[5] != '1') return fail(Errc::not_supported, "HTTP version not supported");
        if (l[9] < '1' || l[9] > '5') return fail(Errc::protocol, "status code out of range");
        if (l.size() > 12 && l[12] != ' ') return fail(Errc::protocol, "malformed status line");
        std::string_view reason = l.size() > 13 ? l.substr(13) : std::string_view();
        for (char c : reason)
            if (!is_text(c)) return fail(Errc::protocol, "control character in reason phrase");
        head_.version = l[7] == '0' ? Version::http10 : Version::http11;
        head_.status = uint16_t((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
        head_.reason = reason;
        have_status_ = true;
        return ParseResult{};
    }
    if (l.empty()) return finish(out, headers);
    if (is_ows(l[0])) return fail(Errc::protocol, "obs-fold in response head");
    size_t colon = 0;
    while (colon < l.size() && is_tchar(l[colon])) ++colon;
    if (colon == 0 || colon == l.size() || l[colon] != ':') return fail(Errc::protocol, "bad response header name");
    std::string_view value = l.substr(colon + 1);
    for (char c : value)
        if (!is_text(c)) return fail(Errc::protocol, "control character in response header");
    if (count_ == headers.size()) return fail(Errc::too_large, "too many response headers");
    headers[count_++] = Header{l.substr(0, colon), trim(value)};
    return ParseResult{};
}

ParseResult ResponseParser::finish(ResponseHead& out, std::span<Header> headers) {
    ResponseHead r = head_;
    r.headers = headers.first(count_);
    bool have_cl = false, have_te = false, te_ok = true, conn_keep_alive = false;
    int te_elements = 0;
    for (const Header& h : r.headers) {
        if (iequals(h.name, "content-length")) {
            bool bad = false;
            int elements = 0;
            for_each_element(h.value, [&](std::string_view e) {
                uint64_t len = 0;
                if (!parse_decimal(e, len) || (have_cl && len != r.content_length)) bad = true;
                r.content_length = len;
                have_cl = true;
                ++elements;
            });
            if (bad || elements == 0) return fail(Errc::protocol, "bad or conflicting Content-Length");
        } else if (iequals(h.name, "transfer-encoding")) {
            have_te = true;
            for_each_element(h.value, [&](std::string_view e) {
                ++te_elements;
                if (!iequals(e, "chunked")) te_ok = false;
            });
        } else if (iequals(h.name, "connection")) {
            for_each_element(h.value, [&](std::string_view e) {
                if (iequals(e, "close")) r.connection_close = true;
                else if (iequals(e, "keep-alive")) conn_keep_alive = true;
            });
        }
    }
    const bool no_body = head_request_ || r.status < 200 || r.status == 204 || r.status == 304;
    if (no_body) {
        r.framing = Framing::none;
        r.content_length = 0;
    } else if (have_te) {
        if (have_cl) return fail(Errc::protocol, "both Content-Length and Transfer-Encoding in a response");
        if (r.version == Version::http10) return fail(Errc::protocol, "Transfer-Encoding in an HTTP/1.0 response");
        if (!te_ok || te_elements != 1) return fail(Errc::not_supported, "response transfer coding not supported");
        r.framing = Framing::chunked;
    } else if (have_cl) {
        r.framing = Framing::content_length;
    } else {
        r.framing = Framing::until_close;
    }
    if (r.framing != Framing::content_length) r.content_length = 0;
    r.keep_alive = !r.connection_close && r.framing != Framing::until_close &&
                   (r.version == Version::http11 || conn_keep_alive);
    out = r;
    done_.progress = Progress::complete;
    done_.consumed = pos_;
    return done_;
}

}  // namespace gust::http
