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

// Bytes in memory order: the same bytes give the same word on either byte
// order, so a load compares against a load of a literal on any board.
template <typename T>
inline T load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// True when `s` is `lower` in any ASCII case. Folding by setting bit 0x20 is
// exact here: `lower` holds only lowercase letters, digits and '-', and of the
// bytes that fold onto those only CTLs are not already them, which no field
// name or value holds. Word compares: the literals' words are constants.
template <size_t N>
inline bool is_named(std::string_view s, const char (&lower)[N]) {
    constexpr size_t n = N - 1;
    if (s.size() != n) return false;
    const char* p = s.data();
    if constexpr (n >= 8) {
        constexpr uint64_t fold = 0x2020202020202020u;
        for (size_t k = 0; k + 8 < n; k += 8)
            if ((load<uint64_t>(p + k) | fold) != load<uint64_t>(lower + k)) return false;
        return (load<uint64_t>(p + n - 8) | fold) == load<uint64_t>(lower + n - 8);
    } else if constexpr (n >= 4) {
        constexpr uint32_t fold = 0x20202020u;
        return (load<uint32_t>(p) | fold) == load<uint32_t>(lower) &&
               (load<uint32_t>(p + n - 4) | fold) == load<uint32_t>(lower + n - 4);
    } else {
        for (size_t k = 0; k < n; ++k)
            if ((p[k] | 0x20) != lower[k]) return false;
        return true;
    }
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_ows(v.front())) v.remove_prefix(1);
    while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
    return v;
}

// Calls f(element) for each comma-separated list element, OWS trimmed; empty
// ones included. A plain loop: these lists are a few bytes, too short to
// repay memchr's fixed cost.
template <typename F>
void for_each_element(std::string_view v, F&& f) {
    size_t from = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != ',') continue;
        f(trim(v.substr(from, i - from)));
        from = i + 1;
    }
    f(trim(v.substr(from)));
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


// What finish() makes of a target that is not plain origin-form.
struct TargetParts {
    TargetForm form = TargetForm::origin;
    std::string_view path, query, host;
};

// CONNECT's authority-form, OPTIONS' asterisk-form and the absolute-form (RFC
// 9112 §3.2.2-§3.2.4). Returns why the target is rejected (400), or nullptr.
// Out of line, like note_field(): rare, and inlined they crowd finish()'s registers.
[[gnu::noinline]] const char* split_other_target(std::string_view t, Method method, TargetParts& parts) {
    if (method == Method::connect) {
        size_t colon = t.rfind(':');
        uint64_t port = 0;
        if (colon == std::string_view::npos || colon == 0 || !parse_decimal(t.substr(colon + 1), port) ||
            port > 65535 || !valid_host(t) || t.find('@') != std::string_view::npos)
            return "CONNECT needs an authority-form target";
        parts.form = TargetForm::authority;
        parts.host = t;
        return nullptr;
    }
    if (t[0] == '*') {
        if (t.size() != 1 || method != Method::options) return "asterisk-form is only for OPTIONS";
        parts.form = TargetForm::asterisk;
        return nullptr;
    }
    size_t k = 0;
    while (k < t.size() && (is_alpha(t[k]) || (k > 0 && (is_digit(t[k]) || t[k] == '+' || t[k] == '-' || t[k] == '.'))))
        ++k;
    if (k == 0 || t.substr(k, 3) != "://") return "bad request target";
    std::string_view rest = t.substr(k + 3);
    size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    if (authority.empty() || !valid_host(authority) || authority.find('@') != std::string_view::npos)
        return "bad authority in absolute-form target";
    parts.form = TargetForm::absolute;
    parts.host = authority;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    size_t q = rest.find('?');
    parts.path = rest.substr(0, q);
    if (q != std::string_view::npos) parts.query = rest.substr(q + 1);
    if (parts.path.empty()) parts.path = "/";
    return nullptr;
}

// What the framing and connection fields say, gathered over all header lines.
struct FieldFacts {
    uint64_t content_length = 0;
    std::string_view upgrade_value;  // the first non-empty Upgrade
    int chunked = 0;                 // "chunked" codings seen
    bool cl = false, te = false, te_last_chunked = false, te_unknown = false, te_other = false;
    bool close = false, keep_alive = false, upgrade = false, expect_continue = false;
};

// Notes one Content-Length, Transfer-Encoding, Connection, Upgrade or Expect
// line (`h` may be any field of those names' lengths). False when a
// Content-Length is malformed or differs from an earlier one.
[[gnu::noinline]] bool note_field(const Header& h, Version version, FieldFacts& f) {
    std::string_view n = h.name, v = h.value;
    if (is_named(n, "content-length")) {
        bool bad = false;
        for_each_element(v, [&](std::string_view e) {
            uint64_t len = 0;
            if (!parse_decimal(e, len) || (f.cl && len != f.content_length)) bad = true;
            f.content_length = len;
            f.cl = true;
        });
        return !bad;
    }
    if (is_named(n, "transfer-encoding")) {
        f.te = true;
        for_each_element(v, [&](std::string_view e) {
            if (e.empty()) return;
            bool chunked = is_named(e, "chunked");
            f.chunked += chunked;
            f.te_last_chunked = chunked;
            if (chunked) return;
            if (is_named(e, "gzip") || is_named(e, "deflate") || is_named(e, "compress") ||
                is_named(e, "x-gzip") || is_named(e, "x-compress"))
                f.te_other = true;
            else
                f.te_unknown = true;
        });
    } else if (is_named(n, "connection")) {
        for_each_element(v, [&](std::string_view e) {
            if (is_named(e, "close")) f.close = true;
            else if (is_named(e, "keep-alive")) f.keep_alive = true;
            else if (is_named(e, "upgrade")) f.upgrade = true;
        });
    } else if (is_named(n, "upgrade")) {
        if (f.upgrade_value.empty()) f.upgrade_value = v;
    } else if (is_named(n, "expect")) {
        for_each_element(v, [&](std::string_view e) {
            if (is_named(e, "100-continue") && version == Version::http11) f.expect_continue = true;
        });
    }
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
    // By length first, so each compare is of a known size (inlined, no loop).
    switch (t.size()) {
    case 3: return t == "GET" ? Method::get : t == "PUT" ? Method::put : Method::other;
    case 4: return t == "POST" ? Method::post : t == "HEAD" ? Method::head : Method::other;
    case 5: return t == "PATCH" ? Method::patch : t == "TRACE" ? Method::trace : Method::other;
    case 6: return t == "DELETE" ? Method::delete_ : Method::other;
    case 7: return t == "OPTIONS" ? Method::options : t == "CONNECT" ? Method::connect : Method::other;
    default: return Method::other;
    }
}

uint16_t check_body_limit(const RequestHead& req, uint64_t max_body) {
    return req.framing == Framing::content_length && req.content_length > max_body ? 413 : 0;
}

// Every other member is written before it is read in a parse that starts at
// kStart; the header array's address (hbase_) and the buffer's (base_) only
// matter while count_ > 0.
void RequestParser::reset() {
    state_ = kStart;
    pos_ = 0;
    count_ = 0;
}


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
    const char* const p = buf.data();
    // `out` is written only once the head is accepted: a rejected one leaves it alone.
    const char* const method_name = p + start_;
    const size_t method_len = method_end_ - start_;
    // GET, nearly always: one word compare (the SP after it is in the buffer).
    const Method method = method_len == 3 && load<uint32_t>(method_name) == load<uint32_t>("GET ")
                              ? Method::get
                              : method_from(std::string_view(method_name, method_len));
    const char* const target = p + method_end_ + 1;
    const size_t target_len = target_end_ - method_end_ - 1;
    const Version version = minor_ == 0 ? Version::http10 : Version::http11;

    // The request target (RFC 9112 §3.2). Origin-form, nearly always, cannot
    // fail; the other forms are checked before the fields, so their errors
    // come first.
    const bool origin = target[0] == '/' && method != Method::connect;
    TargetParts parts;
    if (!origin) {
        if (const char* error = split_other_target(std::string_view(target, target_len), method, parts))
            return fail(400, Errc::protocol, error);
    }

    // The fields that shape the message (RFC 9112 §3.2, §6, §9; RFC 9110 §7.2,
    // §7.6.1, §10.1.1), told apart by length before any text is compared.
    const std::span<Header> fields = headers.first(count_);
    const Header* host = nullptr;
    FieldFacts facts;
    for (const Header& h : fields) {
        switch (h.name.size()) {
        case 4:
            if (!is_named(h.name, "host")) break;
            if (host) return fail(400, Errc::protocol, "more than one Host");
            if (!valid_host(h.value)) return fail(400, Errc::protocol, "bad Host");
            host = &h;
            break;
        case 6: case 7: case 10: case 14: case 17:
            if (!note_field(h, version, facts)) return fail(400, Errc::protocol, "bad or conflicting Content-Length");
            break;
        default:
            break;
        }
    }
    if (version == Version::http11 && !host) return fail(400, Errc::protocol, "missing Host");
    if (facts.te) {
        if (facts.cl) return fail(400, Errc::protocol, "both Content-Length and Transfer-Encoding");
        if (version == Version::http10) return fail(400, Errc::protocol, "Transfer-Encoding in HTTP/1.0");
        if (facts.te_unknown) return fail(501, Errc::not_supported, "unknown transfer coding");
        if (!facts.te_last_chunked || facts.chunked != 1)
            return fail(400, Errc::protocol, "final transfer coding is not chunked");
        if (facts.te_other) return fail(501, Errc::not_supported, "transfer coding not implemented");
    }

    out.method = method;
    out.method_name = std::string_view(method_name, method_len);
    out.target = std::string_view(target, target_len);
    out.version = version;
    out.headers = fields;
    if (origin) {
        out.form = TargetForm::origin;
        size_t q = 0;  // a plain loop: a target is too short to repay memchr's fixed cost
        while (q < target_len && target[q] != '?') ++q;
        out.path = std::string_view(target, q);
        out.query = q == target_len ? std::string_view() : std::string_view(target + q + 1, target_len - q - 1);
    } else {
        out.form = parts.form;
        out.path = parts.path;
        out.query = parts.query;
    }
    // The Host field names the host unless the target carries an authority.
    const bool host_field = parts.form == TargetForm::origin || parts.form == TargetForm::asterisk;
    out.host = !host_field ? parts.host : host ? host->value : std::string_view();
    out.framing = facts.te ? Framing::chunked : facts.cl ? Framing::content_length : Framing::none;
    out.content_length = facts.content_length;
    out.keep_alive = !facts.close && (version == Version::http11 || facts.keep_alive);
    out.expect_continue = facts.expect_continue;
    out.connection_close = facts.close;
    out.connection_upgrade = facts.upgrade;
    out.upgrade = facts.upgrade_value;
    state_ = kDone;
    done_ = ParseResult{Progress::complete, pos_, 0, Error()};
    return done_;
}

}  // namespace gust::http
