// URL parsing and reference resolution for the client. See url.hpp.
#include <gust/url.hpp>

#include <cstring>

#include <gust/http_parser.hpp>

namespace gust::http {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// What gust's own request parser accepts in a target (the fragment is gone by now).
bool is_target_char(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

Error bad(const char* message) { return Error(Errc::invalid_argument, message); }

// Length of a URI scheme followed by ':' at the start of `s`, or 0 when there is none.
size_t scheme_length(std::string_view s) {
    if (s.empty() || !is_alpha(s[0])) return 0;
    size_t i = 1;
    while (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
    return i < s.size() && s[i] == ':' ? i : 0;
}

// host[:port] or [v6][:port] into `u` (https must already be set).
Result<void> parse_authority(std::string_view a, Url& u) {
    if (a.find('@') != std::string_view::npos) return bad("credentials in URLs are not supported");
    if (a.empty()) return bad("URL without a host");
    std::string_view port;
    bool has_port = false;
    if (a[0] == '[') {
        size_t close = a.find(']');
        if (close == std::string_view::npos) return bad("unclosed '[' in URL host");
        u.host = a.substr(1, close - 1);
        u.ipv6 = true;
        bool colon = false;
        for (char c : u.host) {
            if (!is_hex(c) && c != ':' && c != '.') return bad("bad IPv6 literal in URL");
            colon = colon || c == ':';
        }
        if (!colon) return bad("bad IPv6 literal in URL");
        std::string_view after = a.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return bad("bad characters after the IPv6 literal");
            port = after.substr(1);
            has_port = true;
        }
    } else {
        size_t colon = a.find(':');
        u.host = a.substr(0, colon);
        u.ipv6 = false;
        if (colon != std::string_view::npos) {
            port = a.substr(colon + 1);
            has_port = true;
        }
        if (u.host.empty()) return bad("URL without a host");
        for (char c : u.host)
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') return bad("bad character in URL host");
    }
    if (u.host.empty() || u.host.size() > kMaxHostLength) return bad("bad URL host length");
    const uint16_t default_port = u.https ? 443 : 80;
    u.port = default_port;
    u.default_port = true;
    if (has_port && !port.empty()) {
        uint32_t v = 0;
        if (port.size() > 5) return bad("bad port in URL");
        for (char c : port) {
            if (!is_digit(c)) return bad("bad port in URL");
            v = v * 10 + uint32_t(c - '0');
        }
        if (v == 0 || v > 65535) return bad("port out of range in URL");
        u.port = uint16_t(v);
        u.default_port = u.port == default_port;
    }
    return {};
}

// "/path?query" (possibly empty) into `u`.
Result<void> parse_path_query(std::string_view pq, Url& u) {
    for (char c : pq)
        if (!is_target_char(c)) return bad("bad character in URL path or query (percent-encode it)");
    size_t q = pq.find('?');
    u.path = pq.substr(0, q);
    u.has_query = q != std::string_view::npos;
    u.query = u.has_query ? pq.substr(q + 1) : std::string_view();
    if (u.path.empty()) u.path = "/";
    return {};
}

// RFC 3986 §5.2.4 in place over p[0, n); returns the new length. The output
// never overtakes the input, so one buffer serves both.
size_t remove_dot_segments(char* p, size_t n) {
    size_t in = 0, out = 0;
    auto rest = [&] { return std::string_view(p + in, n - in); };
    auto drop_last = [&] {
        while (out > 0 && p[out - 1] != '/') --out;
        if (out > 0) --out;
    };
    while (in < n) {
        std::string_view r = rest();
        if (r.starts_with("../")) in += 3;
        else if (r.starts_with("./")) in += 2;
        else if (r.starts_with("/./")) in += 2;
        else if (r == "/.") { in += 1; p[in] = '/'; }
        else if (r.starts_with("/../")) { in += 3; drop_last(); }
        else if (r == "/..") { in += 2; p[in] = '/'; drop_last(); }
        else if (r == "." || r == "..") in = n;
        else {
            size_t end = in + (p[in] == '/' ? 1 : 0);
            while (end < n && p[end] != '/') ++end;
            std::memmove(p + out, p + in, end - in);
            out += end - in;
            in = end;
        }
    }
    return out;
}

// Appends to a bounded buffer; remembers overflow.
struct Writer {
    std::span<char> out;
    size_t len = 0;
    bool overflow = false;
    void put(std::string_view s) {
        if (s.empty()) return;
        if (overflow || s.size() > out.size() - len) {
            overflow = true;
            return;
        }
        std::memcpy(out.data() + len, s.data(), s.size());
        len += s.size();
    }
    void put_port(uint16_t port) {
        char digits[6];
        int k = 0;
        do {
            digits[k++] = char('0' + port % 10);
            port = uint16_t(port / 10);
        } while (port);
        char rev[6];
        for (int i = 0; i < k; ++i) rev[i] = digits[k - 1 - i];
        put(std::string_view(rev, size_t(k)));
    }
    void authority(const Url& u) {
        if (u.ipv6) put("[");
        put(u.host);
        if (u.ipv6) put("]");
        if (!u.default_port) {
            put(":");
            put_port(u.port);
        }
    }
};

}  // namespace

Result<Url> parse_url(std::string_view text) {
    Url u;
    size_t s = scheme_length(text);
    if (s == 0 || text.substr(s, 3) != "://") return bad("not an absolute URL (scheme://host/...)");
    std::string_view scheme = text.substr(0, s);
    if (iequals(scheme, "https")) u.https = true;
    else if (!iequals(scheme, "http")) return Error(Errc::not_supported, "only http and https URLs are supported");
    std::string_view rest = text.substr(s + 3);
    rest = rest.substr(0, rest.find('#'));
    size_t end = rest.find_first_of("/?");
    if (auto a = parse_authority(rest.substr(0, end), u); !a) return a.error();
    if (auto p = parse_path_query(end == std::string_view::npos ? std::string_view() : rest.substr(end), u); !p)
        return p.error();
    return u;
}

size_t format_authority(const Url& url, std::span<char> out) {
    Writer w{out};
    w.authority(url);
    if (w.overflow || w.len >= out.size()) return 0;
    out[w.len] = '\0';
    return w.len;
}

size_t format_url(const Url& url, std::span<char> out) {
    Writer w{out};
    w.put(url.scheme());
    w.put("://");
    w.authority(url);
    w.put(url.path);
    if (url.has_query) {
        w.put("?");
        w.put(url.query);
    }
    if (w.overflow || w.len >= out.size()) return 0;
    out[w.len] = '\0';
    return w.len;
}

Result<Url> resolve_url(const Url& base, std::string_view ref, std::span<char> out) {
    ref = ref.substr(0, ref.find('#'));
    Url t;
    std::string_view path_a, path_b;  // the target path is path_a + path_b before dot removal
    if (scheme_length(ref) != 0) {
        auto r = parse_url(ref);
        if (!r) return r.error();
        t = *r;
        path_a = t.path;
    } else if (ref.starts_with("//")) {
        t.https = base.https;
        std::string_view rest = ref.substr(2);
        size_t end = rest.find_first_of("/?");
        if (auto a = parse_authority(rest.substr(0, end), t); !a) return a.error();
        if (auto p = parse_path_query(end == std::string_view::npos ? std::string_view() : rest.substr(end), t); !p)
            return p.error();
        path_a = t.path;
    } else {
        t = base;
        size_t q = ref.find('?');
        std::string_view rpath = ref.substr(0, q);
        if (q != std::string_view::npos || !rpath.empty()) {  // else the base's query stays
            t.has_query = q != std::string_view::npos;
            t.query = t.has_query ? ref.substr(q + 1) : std::string_view();
        }
        if (rpath.empty()) {
            path_a = base.path;
        } else if (rpath[0] == '/') {
            path_a = rpath;
        } else {
            path_a = base.path.substr(0, base.path.rfind('/') + 1);  // base paths always start with '/'
            path_b = rpath;
        }
    }
    Writer w{out};
    w.put(t.scheme());
    w.put("://");
    w.authority(t);
    size_t path_at = w.len;
    w.put(path_a);
    w.put(path_b);
    if (w.overflow) return Error(Errc::too_large, "resolved URL too long");
    w.len = path_at + remove_dot_segments(out.data() + path_at, w.len - path_at);
    if (w.len == path_at) w.put("/");
    if (t.has_query) {
        w.put("?");
        w.put(t.query);
    }
    if (w.overflow) return Error(Errc::too_large, "resolved URL too long");
    return parse_url(std::string_view(out.data(), w.len));
}

bool same_origin(const Url& a, const Url& b) {
    return a.https == b.https && a.port == b.port && iequals(a.host, b.host);
}

}  // namespace gust::http
