// The HTTP/1.1 request-head parser. See http_parser.hpp for what it accepts.
//
// Nearly every head arrives in one read, so the first call for a request
// takes a one-pass scanner (parse_start, parse_fields) written for that: the
// marks of the line at hand stay in registers, names, targets and hosts are
// runs over a character table four bytes per step, values a word per step,
// the fields that shape the message are told apart by their name's length as
// they go by, and when the bytes end in LF (a whole head, no body after it)
// the runs need no end checks at all. Whatever it has not finished when the
// bytes run out, it leaves as the exact state (offsets only) from which the
// byte-by-byte scanner (resume) goes on in the next call: no call scans a
// byte an earlier one has. finish() settles the usual head
// (origin-form target, no framing fields); finish_general() every other.
#include <gust/http_parser.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gust::http {
namespace {

enum : uint8_t {
    kStart, kStartLf, kMethod, kTarget, kVersion, kLineLf,
    kFieldStart, kName, kOws, kValue, kFieldLf, kEndLf, kDone, kFailed,
};

// Character classes, one bit each.
enum : uint8_t {
    kTchar = 1,        // RFC 9110 token: methods and field names
    kTargetChar = 2,   // request target: visible ASCII but '#'
    kValueChar = 4,    // field value: VCHAR, obs-text, SP, HTAB
    kHostChar = 8,     // uri-host [":" port]: unreserved, sub-delims, '%', ':', '[', ']'
    kTargetPlain = 16, // a target character other than '?' (the scan stops at the query)
    kOwsChar = 32,     // SP, HTAB
};

// What parse_fields() saw of the fields that shape the message.
constexpr unsigned kSawHost = 1;
constexpr unsigned kSawConnection = 2;  // not yet told which
constexpr unsigned kSawKeepAlive = 4;   // Connection: keep-alive, alone
constexpr unsigned kSawClose = 8;       // Connection: close, alone
constexpr unsigned kSawLength = 16;     // one Content-Length (its index above kSawBits)
constexpr unsigned kSawOther = 32;      // anything else finish() leaves to finish_general()
constexpr unsigned kSawBits = 6;

struct CharTable {
    uint8_t bits[256] = {};
    constexpr CharTable() {
        const char* extra = "!#$%&'*+-.^_`|~";
        for (int c = 0; c < 256; ++c) {
            bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            bool t = alnum;
            for (const char* e = extra; *e; ++e) t = t || c == *e;
            uint8_t b = t ? kTchar : 0;
            if (c > 0x20 && c < 0x7f && c != '#') b |= kTargetChar;
            if (c > 0x20 && c < 0x7f && c != '#' && c != '?') b |= kTargetPlain;
            if (c == '\t' || (c >= 0x20 && c != 0x7f)) b |= kValueChar;
            if (c == '\t' || c == ' ') b |= kOwsChar;
            bool host = alnum;
            for (const char* e = "-._~!$&'()*+,;=%:[]"; *e; ++e) host = host || c == *e;
            if (host) b |= kHostChar;
            bits[c] = b;
        }
    }
};
constexpr CharTable kChars;

inline bool has(char c, uint8_t bit) { return kChars.bits[static_cast<unsigned char>(c)] & bit; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The first byte from q on that is not in class `bit`, four bytes per step.
// Bounded: stops at end too. Unbounded: the caller knows such a byte comes
// before the buffer ends (a sentinel), so no step compares against an end.
template <bool kBounded>
inline const char* skip(const char* q, const char* end, uint8_t bit) {
    const unsigned char* u = reinterpret_cast<const unsigned char*>(q);
    const uint8_t* const table = kChars.bits;
    for (;;) {
        if constexpr (kBounded) {
            if (end - q < 4) break;
        }
        if (!(table[u[0]] & bit)) return q;
        if (!(table[u[1]] & bit)) return q + 1;
        if (!(table[u[2]] & bit)) return q + 2;
        if (!(table[u[3]] & bit)) return q + 3;
        q += 4;
        u += 4;
    }
    while (q < end && has(*q, bit)) ++q;
    return q;
}

// Bytes in memory order: the same bytes give the same word on either byte
// order, so a load compares against a load of a literal on any board.
template <typename T>
inline T load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Word-at-a-time scanning uses the machine's word: eight bytes on 64-bit
// boards, four on the 32-bit ones (where a 64-bit word costs two of everything).
using Word = uintptr_t;
constexpr Word kOnes = Word(-1) / 0xff;  // 0x0101...
constexpr Word kHighs = kOnes * 0x80;
constexpr Word kLows = ~kHighs;

// The high bit of every byte of `w` that ends a field value: a CTL (HTAB
// included) or DEL; obs-text does not. Exact per byte: the sums work on the
// low seven bits, so none carries into the next byte, and the first marked
// byte is right on either byte order.
inline Word value_stops(Word w) {
    Word low7 = w & kLows;
    Word printable = low7 + kOnes * (0x80 - 0x20);  // high bit set where the low 7 bits are >= 0x20
    Word del = low7 + kOnes;                         // high bit set where they are 0x7f
    return (~printable | del) & ~w & kHighs;
}

// The byte offset of the first marked byte in memory order.
inline size_t first_marked(Word marks) {
    if constexpr (std::endian::native == std::endian::little) return size_t(std::countr_zero(marks)) / 8;
    else return size_t(std::countl_zero(marks)) / 8;
}

// The end of the field-value bytes from q on: the first CTL other than HTAB,
// or DEL. A word per step while a word remains before end (never past it:
// the buffer may end at a page boundary); the rest bounded or, as skip(),
// unbounded when the caller knows a stop comes first.
template <bool kBounded>
inline const char* skip_value(const char* q, const char* end) {
    while (end - q >= ptrdiff_t(sizeof(Word))) {
        Word stops = value_stops(load<Word>(q));
        if (stops == 0) {
            q += sizeof(Word);
            continue;
        }
        q += first_marked(stops);
        if (*q != '\t') return q;
        ++q;
    }
    return skip<kBounded>(q, end, kValueChar);
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
    const char* end = h.data() + h.size();
    return skip<true>(h.data(), end, kHostChar) == end;
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

bool is_tchar(char c) { return has(c, kTchar); }

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
    failure_.progress = Progress::failed;
    failure_.consumed = 0;
    failure_.status = status;
    failure_.error = Error(code, message);
    return failure_;
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

ParseResult RequestParser::suspend(size_t pos, uint8_t state) {
    pos_ = pos;
    state_ = state;
    if (pos >= limits_.max_head) return fail(431, Errc::too_large, "request head too large");
    return ParseResult{};
}

ParseResult RequestParser::parse(std::string_view buf, RequestHead& out, std::span<Header> headers) {
    if (state_ == kStart && pos_ == 0 && limits_.max_head > 0) {
        // A new request: nothing is stored yet that a moved buffer or another
        // array could invalidate. The server asks once before its first read,
        // with no bytes: nothing to do.
        if (buf.empty()) return ParseResult{};
        base_ = buf.data();
        hbase_ = headers.data();
        hcap_ = headers.size();
        const char* end = buf.data() + std::min(buf.size(), limits_.max_head);
        if (end[-1] == '\n') return parse_start<false>(buf.data(), end, out);
        return parse_start<true>(buf.data(), end, out);
    }
    return parse_more(buf, out, headers);
}

// Every call but the first of a request: its state, the history check, a
// moved buffer. Out of line, so that parse() stays a few instructions.
[[gnu::noinline]] ParseResult RequestParser::parse_more(std::string_view buf, RequestHead& out,
                                                        std::span<Header> headers) {
    if (state_ == kDone) return ParseResult{Progress::complete, pos_, 0, Error()};
    if (state_ == kFailed) return failure_;
    if (buf.size() < pos_ || headers.data() != hbase_ || headers.size() < count_) {
        reset();  // the caller changed the history or the header array: start over once
        hbase_ = headers.data();
    }
    if (buf.data() != base_) rebase(buf.data(), headers);
    return resume(buf.data(), buf.size(), out, headers);
}

// The usual head, whose fields parse_fields() has looked at on the way
// (`seen`): origin-form, and of its fields only one valid Host, one
// Content-Length of one number and a Connection of just "keep-alive" or
// "close" shaping the message. Anything else, accepted or not,
// finish_general() decides.
[[gnu::always_inline]] inline ParseResult RequestParser::finish(const char* p, RequestHead& out,
                                                                std::span<Header> headers, const Header* host,
                                                                unsigned seen) {
    const char* const method_name = p + start_;
    const size_t method_len = method_end_ - start_;
    const char* const target = p + method_end_ + 1;
    if (target[0] != '/') return finish_general(p, out, headers);
    const Method method = method_len == 3 && load<uint32_t>(method_name) == load<uint32_t>("GET ")
                              ? Method::get
                              : method_from(std::string_view(method_name, method_len));
    if (method == Method::connect) return finish_general(p, out, headers);
    const Version version = minor_ == 0 ? Version::http10 : Version::http11;
    uint64_t length = 0;
    if ((seen & kSawLength) && !parse_decimal(headers[seen >> kSawBits].value, length))
        return finish_general(p, out, headers);  // a list, or no number: its error comes before a missing Host
    if (version == Version::http11 && !host) return fail(400, Errc::protocol, "missing Host");

    const size_t target_len = target_end_ - method_end_ - 1;
    out.method = method;
    out.method_name = std::string_view(method_name, method_len);
    out.target = std::string_view(target, target_len);
    out.form = TargetForm::origin;
    out.path = std::string_view(target, query_ == 0 ? target_len : query_ - method_end_ - 1);
    out.query = query_ == 0 ? std::string_view() : std::string_view(p + query_ + 1, target_end_ - query_ - 1);
    out.version = version;
    out.headers = headers.first(count_);
    const bool close = seen & kSawClose;
    out.framing = seen & kSawLength ? Framing::content_length : Framing::none;
    out.content_length = length;
    out.keep_alive = !close && (version == Version::http11 || (seen & kSawKeepAlive));
    out.expect_continue = false;
    out.connection_close = close;
    out.connection_upgrade = false;
    out.upgrade = std::string_view();
    out.host = host ? host->value : std::string_view();
    state_ = kDone;
    return ParseResult{Progress::complete, pos_, 0, Error()};
}

// The request line from the head's first byte (the first call of a request).
// Out of bytes, it leaves the exact state resume() goes on from in the next
// call; empty lines before the request line and a version other than
// "HTTP/1.1" or "HTTP/1.0" it hands to resume() at once, at the byte they
// start. Unbounded (kBounded false) when the bytes end in LF, as a whole head
// does: no method, target, name, OWS or value run goes past an LF, so those
// loops need no end check, and the byte after a CR is always there.
template <bool kBounded>
ParseResult RequestParser::parse_start(const char* p, const char* end, RequestHead& out) {
    const char* q = p;

    // The request line: method SP target SP version CRLF.
    start_ = 0;
    if (end - q >= 4 && load<uint32_t>(q) == load<uint32_t>("GET ")) {
        q += 3;
    } else {
        if (*q == '\r' || *q == '\n') return resume(p, size_t(end - p), out, std::span<Header>(hbase_, hcap_));
        q = skip<kBounded>(q, end, kTchar);
        if (kBounded && q == end) return suspend(size_t(q - p), kMethod);
        if (*q != ' ' || q == p) return fail(400, Errc::protocol, "bad method");
    }
    method_end_ = size_t(q - p);
    query_ = 0;
    const char* const target = ++q;
    for (;;) {
        q = skip<kBounded>(q, end, kTargetPlain);
        if ((kBounded && q == end) || *q != '?') break;
        if (query_ == 0) query_ = size_t(q - p);
        ++q;
    }
    // Past max_target, the byte there was a target character: 414 as at that byte.
    if (size_t(q - target) > limits_.max_target) return fail(414, Errc::too_large, "target too long");
    if (kBounded && q == end) return suspend(size_t(q - p), kTarget);
    if (*q != ' ' || q == target) return fail(400, Errc::protocol, "bad request target");
    target_end_ = size_t(q - p);
    ++q;
    uint64_t version = end - q >= 10 ? load<uint64_t>(q) : 0;
    if ((version != load<uint64_t>("HTTP/1.1") && version != load<uint64_t>("HTTP/1.0")) || q[8] != '\r') {
        pos_ = version_start_ = size_t(q - p);
        state_ = kVersion;
        return resume(p, size_t(end - p), out, std::span<Header>(hbase_, hcap_));
    }
    minor_ = uint8_t(q[7] - '0');
    if (q[9] != '\n') return fail(400, Errc::protocol, "bare CR");
    q += 10;

    return parse_fields<kBounded>(q, end, out);
}

// The field lines after parse_start(), each stored once its CRLF is seen. On
// the way, what finish() needs of them: the fields that shape the message
// are told apart by their name's length before any compare. A function of its
// own so that nothing of the request line stays in registers (the buffer
// starts at base_).
template <bool kBounded>
ParseResult RequestParser::parse_fields(const char* q, const char* end, RequestHead& out) {
    Header* h = hbase_;
    Header* const h_end = hbase_ + hcap_;
    const Header* host = nullptr;  // the one Host field, valid
    unsigned seen = 0;             // kSaw* bits
    for (;;) {
        if (q == end) {
            count_ = size_t(h - hbase_);
            return suspend(size_t(q - base_), kFieldStart);
        }
        if (*q == '\r') break;
        if (has(*q, kOwsChar)) return fail(400, Errc::protocol, "obs-fold or whitespace before a field");
        if (!has(*q, kTchar)) return fail(400, Errc::protocol, "bad field name");
        if (h == h_end) return fail(431, Errc::too_large, "too many header fields");
        const char* const name = q;
        q = skip<kBounded>(q + 1, end, kTchar);
        if (kBounded && q == end) return suspend_line(q, kName, h, name);
        if (*q != ':') {
            return fail(400, Errc::protocol, has(*q, kOwsChar) ? "whitespace before colon" : "bad field name");
        }
        const char* const name_end = q++;
        if (!kBounded || q < end) {
            if (*q == ' ') ++q;  // nearly always the only one
            q = skip<kBounded>(q, end, kOwsChar);
        }
        if (kBounded && q == end) return suspend_line(q, kOws, h, name, name_end);
        const char* const value = q;
        unsigned kind = 0;
        switch (name_end - name) {
        case 4: kind = is_named(std::string_view(name, 4), "host") ? kSawHost : 0; break;
        case 6: kind = is_named(std::string_view(name, 6), "expect") ? kSawOther : 0; break;
        case 7: kind = is_named(std::string_view(name, 7), "upgrade") ? kSawOther : 0; break;
        case 10: kind = is_named(std::string_view(name, 10), "connection") ? kSawConnection : 0; break;
        case 14: kind = is_named(std::string_view(name, 14), "content-length") ? kSawLength : 0; break;
        case 17: kind = is_named(std::string_view(name, 17), "transfer-encoding") ? kSawOther : 0; break;
        default: break;
        }
        // A Host value is first scanned as host characters: valid when they
        // run to its end, and then the value is already scanned too.
        const char* host_end = nullptr;
        if (kind == kSawHost) host_end = q = skip<kBounded>(q, end, kHostChar);
        if (kind != kSawHost || q == end || *q != '\r') q = skip_value<kBounded>(q, end);
        // Trailing OWS, looked at again from the end: all of it was scanned in this call.
        const char* value_end = q;
        while (value_end > value && has(value_end[-1], kOwsChar)) --value_end;
        if (kBounded && q == end) return suspend_line(q, kValue, h, name, name_end, value, value_end);
        if (*q != '\r') return fail(400, Errc::protocol, "control character in field value");
        if (kBounded && q + 1 == end) return suspend_line(q + 1, kFieldLf, h, name, name_end, value, value_end);
        if (q[1] != '\n') return fail(400, Errc::protocol, "bare CR");
        q += 2;
        *h = Header{std::string_view(name, size_t(name_end - name)),
                    std::string_view(value, size_t(value_end - value))};
        if (kind == kSawHost) {
            // A second Host, or a bad one: finish_general() says which.
            if (host || value_end != host_end) kind = kSawOther;
            host = h;
        } else if (kind == kSawConnection) {
            if (is_named(h->value, "keep-alive")) kind = kSawKeepAlive;
            else if (is_named(h->value, "close")) kind = kSawClose;
            else kind = kSawOther;
        } else if (kind == kSawLength) {
            // A repeat: finish_general() compares them. Which field it is goes
            // in the bits above kSaw*, for finish() to read its number.
            kind = seen & kSawLength ? kSawOther : kSawLength | unsigned(h - hbase_) << kSawBits;
        }
        seen |= kind;
        ++h;
    }
    count_ = size_t(h - hbase_);
    if (kBounded && q + 1 == end) return suspend(size_t(q + 1 - base_), kEndLf);
    if (q[1] != '\n') return fail(400, Errc::protocol, "bare CR");
    pos_ = size_t(q + 2 - base_);
    if (seen & kSawOther) return finish_general(base_, out, std::span<Header>(hbase_, hcap_));
    return finish(base_, out, std::span<Header>(hbase_, hcap_), host, seen);
}

// Out of bytes in a field line in parse_fields(): the line's marks, as
// offsets, where resume() keeps them.
ParseResult RequestParser::suspend_line(const char* q, uint8_t state, const Header* h, const char* name,
                                        const char* name_end, const char* value, const char* value_end) {
    count_ = size_t(h - hbase_);
    name_start_ = size_t(name - base_);
    if (name_end) name_end_ = size_t(name_end - base_);
    if (value) {
        value_start_ = size_t(value - base_);
        value_end_ = size_t(value_end - base_);
    }
    return suspend(size_t(q - base_), state);
}

// The head byte by byte from state_ at pos_, for heads that arrive in pieces
// and what parse_start() hands over. Holds only offsets between calls; never
// rescans.
ParseResult RequestParser::resume(const char* p, size_t size, RequestHead& out, std::span<Header> headers) {
    const size_t limit = std::min(size, limits_.max_head);
    size_t i = pos_;
    uint8_t s = state_;
    while (i < limit) {
        char c = p[i];
        switch (s) {
        case kStart:
            if (c == '\r') {
                s = kStartLf;
                ++i;
                break;
            }
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
            i = size_t(skip<true>(p + i, p + limit, kTchar) - p);
            if (i == limit) break;
            if (p[i] != ' ' || i == start_) return fail(400, Errc::protocol, "bad method");
            method_end_ = i++;
            query_ = 0;
            s = kTarget;
            break;
        case kTarget:
            while (i < limit && has(p[i], kTargetChar)) {
                if (i - method_end_ - 1 >= limits_.max_target) return fail(414, Errc::too_large, "target too long");
                if (p[i] == '?' && query_ == 0) query_ = i;
                ++i;
            }
            if (i == limit) break;
            if (p[i] != ' ' || i == method_end_ + 1) return fail(400, Errc::protocol, "bad request target");
            target_end_ = i++;
            version_start_ = i;
            s = kVersion;
            break;
        case kVersion: {
            size_t k = i - version_start_;
            if (k == 8 && c == '\r') {
                if (p[version_start_ + 5] != '1') return fail(505, Errc::not_supported, "HTTP version not supported");
                minor_ = uint8_t(p[version_start_ + 7] - '0');
                s = kLineLf;
            } else if (!(k < 5 ? c == "HTTP/"[k] : k == 6 ? c == '.' : (k == 5 || k == 7) && is_digit(c))) {
                return fail(400, Errc::protocol, "bad HTTP version");
            }
            ++i;
            break;
        }
        case kLineLf:
        case kFieldLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR");
            if (s == kFieldLf) {
                headers[count_++] = Header{std::string_view(p + name_start_, name_end_ - name_start_),
                                           std::string_view(p + value_start_, value_end_ - value_start_)};
            }
            s = kFieldStart;
            ++i;
            break;
        case kFieldStart:
            if (c == '\r') {
                s = kEndLf;
                ++i;
                break;
            }
            if (is_ows(c)) return fail(400, Errc::protocol, "obs-fold or whitespace before a field");
            if (!has(c, kTchar)) return fail(400, Errc::protocol, "bad field name");
            if (count_ == headers.size()) return fail(431, Errc::too_large, "too many header fields");
            name_start_ = i;
            s = kName;
            break;
        case kName:
            i = size_t(skip<true>(p + i, p + limit, kTchar) - p);
            if (i == limit) break;
            if (p[i] != ':') {
                return fail(400, Errc::protocol, is_ows(p[i]) ? "whitespace before colon" : "bad field name");
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
            while (i < limit && has(p[i], kValueChar)) {
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
            return finish_general(p, out, headers);
        }
    }
    return suspend(i, s);
}

// Every head finish() does not settle: all target forms, every field.
ParseResult RequestParser::finish_general(const char* p, RequestHead& out, std::span<Header> headers) {
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
    // fail and its query was found by the scan; the other forms are checked
    // before the fields, so their errors come first.
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
        if (query_ == 0) {
            out.path = out.target;
            out.query = std::string_view();
        } else {
            out.path = std::string_view(target, query_ - method_end_ - 1);
            out.query = std::string_view(p + query_ + 1, target_end_ - query_ - 1);
        }
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
    return ParseResult{Progress::complete, pos_, 0, Error()};
}

}  // namespace gust::http
