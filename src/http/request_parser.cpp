// The HTTP/1.1 request-head parser: a resumable byte scanner (the scan never
// revisits a byte across calls) followed by one pass over the stored header
// lines that derives framing, persistence and host. See http_parser.hpp.
#include <gust/http_parser.hpp>

#include <cstdint>
#include <cstring>

namespace gust::http {
namespace {

enum : uint8_t {
    kStart, kStartLf, kMethod, kTarget, kVersion, kLineLf,
    kFieldStart, kName, kOws, kValue, kFieldLf, kEndLf, kDone, kFailed,
};

// Bit 1: tchar. Bit 2: request-target char. Bit 4: field-value char (with SP/HTAB).
// Bit 8: uri-host [":" port] char (unreserved, sub-delims, '%', ':', '[', ']').
struct CharTable {
    uint8_t bits[256] = {};
    constexpr CharTable() {
        const char* extra = "!#$%&'*+-.^_`|~";
        for (int c = 0; c < 256; ++c) {
            bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            bool t = alnum;
            for (const char* e = extra; *e; ++e) t = t || c == *e;
            uint8_t b = t ? 1 : 0;
            if (c > 0x20 && c < 0x7f && c != '#') b |= 2;
            if (c == '\t' || (c >= 0x20 && c != 0x7f)) b |= 4;
            bool host = alnum;
            for (const char* e = "-._~!$&'()*+,;=%:[]"; *e; ++e) host = host || c == *e;
            if (host) b |= 8;
            bits[c] = b;
        }
    }
};
constexpr CharTable kChars;

inline bool is_target(unsigned char c) { return kChars.bits[c] & 2; }
inline bool is_value(unsigned char c) { return kChars.bits[c] & 4; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_ows(v.front())) v.remove_prefix(1);
    while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
    return v;
}

// Calls f(element) for each comma-separated list element, OWS trimmed; empty ones included.
template <typename F>
void for_each_element(std::string_view v, F&& f) {
    for (;;) {
        size_t comma = v.find(',');
        f(trim(v.substr(0, comma)));
        if (comma == std::string_view::npos) return;
        v.remove_prefix(comma + 1);
    }
}

// Parses 1*DIGIT without overflow; false on anything else.
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

// uri-host [":" port] characters: unreserved, sub-delims, '%', ':' and the IP-literal brackets.
bool valid_host(std::string_view h) {
    for (char c : h)
        if (!(kChars.bits[static_cast<unsigned char>(c)] & 8)) return false;
    return true;
}

}  // namespace

bool is_tchar(char c) { return kChars.bits[static_cast<unsigned char>(c)] & 1; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view find_header(std::span<const Header> headers, std::string_view name) {
    for (const Header& h : headers)
        if (iequals(h.name, name)) return h.value;
    return {};
}

std::string_view RequestHead::header(std::string_view name) const { return find_header(headers, name); }

bool RequestHead::has_header(std::string_view name) const { return header(name).data() != nullptr; }

Method method_from(std::string_view t) {
    struct Entry { std::string_view name; Method m; };
    static constexpr Entry kMethods[] = {
        {"GET", Method::get}, {"HEAD", Method::head}, {"POST", Method::post}, {"PUT", Method::put},
        {"DELETE", Method::delete_}, {"PATCH", Method::patch}, {"OPTIONS", Method::options},
        {"CONNECT", Method::connect}, {"TRACE", Method::trace},
    };
    for (const Entry& e : kMethods)
        if (e.name == t) return e.m;
    return Method::other;
}

uint16_t check_body_limit(const RequestHead& req, uint64_t max_body) {
    return req.framing == Framing::content_length && req.content_length > max_body ? 413 : 0;
}

void RequestParser::reset() { *this = RequestParser(limits_); }

ParseResult RequestParser::fail(uint16_t status, Errc code, const char* message) {
    state_ = kFailed;
    done_.progress = Progress::failed;
    done_.consumed = 0;
    done_.status = status;
    done_.error = Error(code, message);
    return done_;
}

// Moves the stored header views onto a buffer that now starts at `base`. Integer
// arithmetic on the old addresses: the old buffer is never read.
void RequestParser::rebase(const char* base, std::span<Header> headers) {
    uintptr_t old = reinterpret_cast<uintptr_t>(base_);
    for (size_t i = 0; i < count_; ++i) {
        Header& h = headers[i];
        h.name = std::string_view(base + (reinterpret_cast<uintptr_t>(h.name.data()) - old), h.name.size());
        h.value = std::string_view(base + (reinterpret_cast<uintptr_t>(h.value.data()) - old), h.value.size());
    }
    base_ = base;
}

ParseResult RequestParser::parse(std::string_view buf, RequestHead& out, std::span<Header> headers) {
    if (state_ == kDone || state_ == kFailed) return done_;
    if (buf.size() < pos_ || headers.data() != hbase_ || headers.size() < count_) {
        reset();  // the caller changed the history or the header array: start over once
        hbase_ = headers.data();
    }
    if (buf.data() != base_) rebase(buf.data(), headers);

    const char* p = buf.data();
    const size_t limit = buf.size() < limits_.max_head ? buf.size() : limits_.max_head;
    size_t i = pos_;
    uint8_t s = state_;
    while (i < limit) {
        unsigned char c = static_cast<unsigned char>(p[i]);
        switch (s) {
        case kStart:
            if (c == '\r') { s = kStartLf; ++i; break; }
            if (c == '\n') return fail(400, Errc::protocol, "bare LF");
            start_ = i;
            s = kMethod;
            break;
        case kStartLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR");
            s = kStart;
            ++i;
            break;
        case kMethod:
            while (i < limit && is_tchar(p[i])) ++i;
            if (i == limit) break;
            if (p[i] != ' ' || i == start_) return fail(400, Errc::protocol, "bad method");
            method_end_ = i++;
            target_start_ = i;
            s = kTarget;
            break;
        case kTarget:
            while (i < limit && is_target(static_cast<unsigned char>(p[i]))) {
                if (i - target_start_ >= limits_.max_target) return fail(414, Errc::too_large, "target too long");
                ++i;
            }
            if (i == limit) break;
            if (p[i] != ' ' || i == target_start_) return fail(400, Errc::protocol, "bad request target");
            target_end_ = i++;
            mark_ = i;
            s = kVersion;
            break;
        case kVersion: {
            size_t k = i - mark_;
            // The usual "HTTP/1.1\r" whole, rather than byte by byte through the switch.
            if (k == 0 && limit - i >= 9 && std::memcmp(p + i, "HTTP/1.", 7) == 0 && is_digit(p[i + 7]) &&
                p[i + 8] == '\r') {
                minor_ = uint8_t(p[i + 7] - '0');
                s = kLineLf;
                i += 9;
                break;
            }
            bool ok = k < 5 ? c == "HTTP/"[k] : k == 6 ? c == '.' : (k == 5 || k == 7) ? is_digit(char(c)) : false;
            if (k == 8 && c == '\r') {
                if (p[mark_ + 5] != '1') return fail(505, Errc::not_supported, "HTTP version not supported");
                minor_ = uint8_t(p[mark_ + 7] - '0');
                s = kLineLf;
            } else if (!ok) {
                return fail(400, Errc::protocol, "bad HTTP version");
            }
            ++i;
            break;
        }
        case kLineLf:
        case kFieldLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR");
            if (s == kFieldLf) {
                headers[count_++] = Header{std::string_view(p + mark_, name_end_ - mark_),
                                           std::string_view(p + value_start_, value_end_ - value_start_)};
            }
            s = kFieldStart;
            ++i;
            break;
        case kFieldStart:
            if (c == '\r') { s = kEndLf; ++i; break; }
            if (is_ows(char(c))) return fail(400, Errc::protocol, "obs-fold or whitespace before a field");
            if (!is_tchar(char(c))) return fail(400, Errc::protocol, "bad field name");
            if (count_ == headers.size()) return fail(431, Errc::too_large, "too many header fields");
            mark_ = i;
            s = kName;
            break;
        case kName:
            while (i < limit && is_tchar(p[i])) ++i;
            if (i == limit) break;
            if (p[i] != ':') {
                return fail(400, Errc::protocol,
                            is_ows(p[i]) ? "whitespace before colon" : "bad field name");
            }
            name_end_ = i++;
            s = kOws;
            break;
        case kOws:
            while (i < limit && is_ows(p[i])) ++i;
            if (i == limit) break;
            value_start_ = value_end_ = i;
            s = kValue;
            break;
        case kValue:
            while (i < limit && is_value(static_cast<unsigned char>(p[i]))) {
                if (!is_ows(p[i])) value_end_ = i + 1;
                ++i;
            }
            if (i == limit) break;
            if (p[i] != '\r') return fail(400, Errc::protocol, "control character in field value");
            s = kFieldLf;
            ++i;
            break;
        case kEndLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR");
            pos_ = i + 1;
            return finish(buf, out, headers);
        }
    }
    pos_ = i;
    state_ = s;
    if (i >= limits_.max_head) return fail(431, Errc::too_large, "request head too large");
    return ParseResult{};
}

ParseResult RequestParser::finish(std::string_view buf, RequestHead& out, std::span<Header> headers) {
    const char* p = buf.data();
    RequestHead r;
    r.method_name = std::string_view(p + start_, method_end_ - start_);
    r.method = method_from(r.method_name);
    r.target = std::string_view(p + target_start_, target_end_ - target_start_);
    r.version = minor_ == 0 ? Version::http10 : Version::http11;
    r.headers = headers.first(count_);

    // The request target (RFC 9112 §3.2).
    std::string_view t = r.target;
    if (r.method == Method::connect) {
        size_t colon = t.rfind(':');
        uint64_t port = 0;
        if (colon == std::string_view::npos || colon == 0 || !parse_decimal(t.substr(colon + 1), port) ||
            port > 65535 || !valid_host(t) || t.find('@') != std::string_view::npos)
            return fail(400, Errc::protocol, "CONNECT needs an authority-form target");
        r.form = TargetForm::authority;
        r.host = t;
    } else if (t[0] == '*') {
        if (t.size() != 1 || r.method != Method::options)
            return fail(400, Errc::protocol, "asterisk-form is only for OPTIONS");
        r.form = TargetForm::asterisk;
    } else {
        std::string_view rest = t;
        if (t[0] != '/') {
            size_t k = 0;
            while (k < t.size() && (is_alpha(t[k]) || (k > 0 && (is_digit(t[k]) || t[k] == '+' || t[k] == '-' || t[k] == '.'))))
                ++k;
            if (k == 0 || t.substr(k, 3) != "://") return fail(400, Errc::protocol, "bad request target");
            rest = t.substr(k + 3);
            size_t end = rest.find_first_of("/?");
            std::string_view authority = rest.substr(0, end);
            if (authority.empty() || !valid_host(authority) || authority.find('@') != std::string_view::npos)
                return fail(400, Errc::protocol, "bad authority in absolute-form target");
            r.form = TargetForm::absolute;
            r.host = authority;
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        }
        size_t q = rest.find('?');
        r.path = rest.substr(0, q);
        if (q != std::string_view::npos) r.query = rest.substr(q + 1);
        if (r.path.empty()) r.path = "/";
    }

    // The fields that shape the message (RFC 9112 §3.2, §6, §9; RFC 9110 §7.2, §7.6.1, §10.1.1).
    int hosts = 0;
    bool have_cl = false, have_te = false, te_bad = false, te_unknown = false, te_other = false;
    bool te_last_chunked = false, conn_keep_alive = false;
    int chunked_count = 0;
    for (const Header& h : r.headers) {
        std::string_view n = h.name, v = h.value;
        if (iequals(n, "host")) {
            if (++hosts > 1) return fail(400, Errc::protocol, "more than one Host");
            if (!valid_host(v)) return fail(400, Errc::protocol, "bad Host");
            if (r.form == TargetForm::origin || r.form == TargetForm::asterisk) r.host = v;
        } else if (iequals(n, "content-length")) {
            bool bad = false;
            for_each_element(v, [&](std::string_view e) {
                uint64_t len = 0;
                if (!parse_decimal(e, len) || (have_cl && len != r.content_length)) bad = true;
                r.content_length = len;
                have_cl = true;
            });
            if (bad) return fail(400, Errc::protocol, "bad or conflicting Content-Length");
        } else if (iequals(n, "transfer-encoding")) {
            have_te = true;
            for_each_element(v, [&](std::string_view e) {
                if (e.empty()) return;
                bool chunked = iequals(e, "chunked");
                chunked_count += chunked;
                te_last_chunked = chunked;
                if (chunked) return;
                if (iequals(e, "gzip") || iequals(e, "deflate") || iequals(e, "compress") ||
                    iequals(e, "x-gzip") || iequals(e, "x-compress"))
                    te_other = true;
                else
                    te_unknown = true;
            });
        } else if (iequals(n, "connection")) {
            for_each_element(v, [&](std::string_view e) {
                if (iequals(e, "close")) r.connection_close = true;
                else if (iequals(e, "keep-alive")) conn_keep_alive = true;
                else if (iequals(e, "upgrade")) r.connection_upgrade = true;
            });
        } else if (iequals(n, "upgrade")) {
            if (r.upgrade.empty()) r.upgrade = v;
        } else if (iequals(n, "expect")) {
            for_each_element(v, [&](std::string_view e) {
                if (iequals(e, "100-continue") && r.version == Version::http11) r.expect_continue = true;
            });
        }
    }
    te_bad = have_te && (!te_last_chunked || chunked_count != 1);
    if (r.version == Version::http11 && hosts == 0) return fail(400, Errc::protocol, "missing Host");
    if (have_te && have_cl) return fail(400, Errc::protocol, "both Content-Length and Transfer-Encoding");
    if (have_te && r.version == Version::http10) return fail(400, Errc::protocol, "Transfer-Encoding in HTTP/1.0");
    if (te_unknown) return fail(501, Errc::not_supported, "unknown transfer coding");
    if (te_bad) return fail(400, Errc::protocol, "final transfer coding is not chunked");
    if (te_other) return fail(501, Errc::not_supported, "transfer coding not implemented");

    r.framing = have_te ? Framing::chunked : have_cl ? Framing::content_length : Framing::none;
    r.keep_alive = !r.connection_close && (r.version == Version::http11 || conn_keep_alive);
    out = r;
    state_ = kDone;
    done_.progress = Progress::complete;
    done_.consumed = pos_;
    return done_;
}

}  // namespace gust::http
