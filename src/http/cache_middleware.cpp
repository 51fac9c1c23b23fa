// The response cache behind RouteOptions::cache. A miss runs the route's
// handler into the connection's response buffer as usual; the finished head
// and body are then read back out of that buffer into a cache entry, and
// every answer (the computing request's own, the waiters', later hits) is
// rebuilt from the entry through the public Response API. So a hit is one
// lookup, a few header copies and one body memcpy, with no heap.
//
// Entry layout: Record, then the server-chosen Content-Type (when the handler
// set none), then the handler's header lines verbatim, then the body.
#include <gust/cache.hpp>

#include <cstdio>
#include <cstring>

#include <gust/log.hpp>

#include "../calendar.hpp"
#include "../tls/mbedtls_compat.hpp"
#include "server_internal.hpp"

namespace gust::http {

// The one place the cache reaches into a Response (a friend of it).
struct ResponseAccess {
    static Connection& conn(Response& r) { return *r.conn_; }
    static bool whole(const Response& r) { return r.complete_ && !r.head_sent_ && !r.streaming_ && !r.failed_; }
    static bool untouched(const Response& r) { return !r.complete_ && !r.head_sent_ && !r.streaming_ && !r.failed_; }
    // Forgets a whole response built but not sent, so it can be built again.
    static void rewind(Response& r) {
        Connection& c = *r.conn_;
        c.ex->out_len = c.ex->out_start = 0;
        c.ex->head_len = 0;
        c.ex->has_content_type = false;
        r.status_ = 200;
        r.complete_ = false;
    }
};

namespace {

constexpr size_t kMaxKey = 512;
constexpr size_t kMaxEtag = 64;
const char kHandlerNoFrame[] = "cache: no coroutine frame for the handler";
const char kNotShareable[] = "cache: streamed or failed response";

enum : uint8_t {
    kValidators = 1,     // a 200 that carries ETag/Last-Modified and answers conditionals
    kAmbiguousDate = 2,  // the body changed twice within Last-Modified's second: no 304 by date
};

struct Record {
    uint16_t status = 0;
    uint8_t flags = 0;
    uint8_t etag_len = 0;
    uint16_t content_type_len = 0;
    uint16_t headers_len = 0;
    int64_t last_modified = -1;  // Unix seconds; -1 when none
    char etag[kMaxEtag] = {};
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls fn(name, value) for each "Name: value\r\n" line the Response API wrote.
template <typename F>
void for_each_line(std::string_view lines, F&& fn) {
    while (!lines.empty()) {
        size_t end = lines.find("\r\n");
        std::string_view line = lines.substr(0, end);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) fn(line.substr(0, colon), trim(line.substr(colon + 1)));
        if (end == std::string_view::npos) break;
        lines.remove_prefix(end + 2);
    }
}

std::string_view line_value(std::string_view lines, std::string_view name) {
    std::string_view found;
    for_each_line(lines, [&](std::string_view n, std::string_view v) {
        if (!found.data() && iequals(n, name)) found = v;
    });
    return found;
}

// Calls fn(name) for each comma-separated header name of a route's `vary`.
template <typename F>
void for_each_name(std::string_view list, F&& fn) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view name = trim(list.substr(0, comma));
        if (!name.empty()) fn(name);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

// "GET /path?query" plus "\nname:value" per vary header; empty when it does not fit.
std::string_view make_key(const Request& req, const RouteCache& rc, std::span<char> out) {
    size_t n = 0;
    bool fits = true;
    auto put = [&](std::string_view s) {
        if (!fits || n + s.size() > out.size()) {
            fits = false;
            return;
        }
        std::memcpy(out.data() + n, s.data(), s.size());
        n += s.size();
    };
    put("GET ");  // HEAD reads GET's entry
    put(req.path());
    if (!req.query_string().empty()) {
        put("?");
        put(req.query_string());
    }
    for_each_name(rc.vary, [&](std::string_view name) {
        put("\n");
        put(name);
        put(":");
        bool first = true;
        for (const Header& h : req.headers()) {
            if (!iequals(h.name, name)) continue;
            if (!first) put(",");
            put(h.value);
            first = false;
        }
    });
    return fits ? std::string_view(out.data(), n) : std::string_view();
}

struct CacheControl {
    bool no_store = false;  // no-store, no-cache or private: share with waiters, keep nothing
    int64_t max_age = -1;
};

CacheControl parse_cache_control(std::string_view v) {
    CacheControl cc;
    for_each_name(v, [&](std::string_view d) {
        size_t eq = d.find('=');
        std::string_view name = trim(d.substr(0, eq));
        if (iequals(name, "no-store") || iequals(name, "no-cache") || iequals(name, "private")) {
            cc.no_store = true;
        } else if (iequals(name, "max-age") && eq != std::string_view::npos) {
            std::string_view arg = trim(d.substr(eq + 1));
            if (arg.size() >= 2 && arg.front() == '"' && arg.back() == '"') arg = arg.substr(1, arg.size() - 2);
            // RFC 9111 §1.2.2: a delta-seconds too large to hold counts as 2^31.
            constexpr int64_t kMaxDelta = int64_t(1) << 31;
            int64_t n = 0;
            bool ok = !arg.empty();
            for (char c : arg) {
                if (c < '0' || c > '9') ok = false;
                else if (n < kMaxDelta) n = n * 10 + (c - '0');
            }
            if (ok) cc.max_age = n < kMaxDelta ? n : kMaxDelta;
            else cc.no_store = true;  // a freshness we cannot read: keep nothing
        }
    });
    return cc;
}

// A strong validator from the representation: SHA-256 of the body, then of
// that digest with the Content-Type, cut to 96 bits. It is computed once per
// fill, never per hit, so its cost is one hash of a body the handler just
// produced; in exchange it cannot collide by accident or by design, which a
// 64-bit FNV could for inputs someone else controls (interface names, host names).
size_t make_etag(std::string_view content_type, std::string_view body, char (&out)[kMaxEtag]) {
    unsigned char d[32];
    unsigned char mix[32 + 224];
    if (tls_compat::sha256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), d) != 0) return 0;
    size_t ct = content_type.size() < 224 ? content_type.size() : 224;
    std::memcpy(mix, d, 32);
    std::memcpy(mix + 32, content_type.data(), ct);
    if (tls_compat::sha256(mix, 32 + ct, d) != 0) return 0;
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (int i = 0; i < 12; ++i) {
        out[n++] = hex[d[i] >> 4];
        out[n++] = hex[d[i] & 15];
    }
    out[n++] = '"';
    return n;
}

std::string_view opaque(std::string_view etag) { return etag.substr(0, 2) == "W/" ? etag.substr(2) : etag; }

// RFC 9110 §13.1.2: "*" matches any current representation; otherwise the
// weak comparison (W/ ignored) against each entity-tag of the list.
bool none_match_hits(std::string_view list, std::string_view etag) {
    list = trim(list);
    if (list == "*") return true;
    std::string_view mine = opaque(etag);
    while (!list.empty()) {
        while (!list.empty() && (list.front() == ',' || list.front() == ' ' || list.front() == '\t')) list.remove_prefix(1);
        if (list.empty()) break;
        if (list.substr(0, 2) == "W/") list.remove_prefix(2);
        if (list.front() != '"') return false;  // not an entity-tag: stop, match nothing more
        size_t close = list.find('"', 1);
        if (close == std::string_view::npos) return false;
        if (list.substr(0, close + 1) == mine) return true;
        list.remove_prefix(close + 1);
    }
    return false;
}

// True when a conditional GET/HEAD can be answered 304 (RFC 9110 §13.2.2:
// If-None-Match first; If-Modified-Since only without it).
bool not_modified(const Request& req, const Record& r) {
    std::string_view etag(r.etag, r.etag_len);
    bool has_inm = false;
    for (const Header& h : req.headers()) {
        if (!iequals(h.name, "If-None-Match")) continue;
        has_inm = true;
        if (etag.size() && none_match_hits(h.value, etag)) return true;
    }
    if (has_inm) return false;
    std::string_view ims = req.header("If-Modified-Since");
    if (!ims.data() || r.last_modified < 0 || (r.flags & kAmbiguousDate)) return false;
    auto since = parse_http_date(trim(ims));
    return since && r.last_modified <= *since;
}

struct EntryView {
    Record rec;
    std::string_view content_type, lines, body;
};

bool read_entry(const CacheRef& ref, EntryView& e) {
    std::string_view v = ref.text();
    if (v.size() < sizeof(Record)) return false;
    std::memcpy(&e.rec, v.data(), sizeof(Record));
    v.remove_prefix(sizeof(Record));
    if (v.size() < size_t(e.rec.content_type_len) + e.rec.headers_len || e.rec.etag_len > kMaxEtag) return false;
    e.content_type = v.substr(0, e.rec.content_type_len);
    e.lines = v.substr(e.rec.content_type_len, e.rec.headers_len);
    e.body = v.substr(size_t(e.rec.content_type_len) + e.rec.headers_len);
    return true;
}

void add_validators(Response& res, const CacheRef& ref, const EntryView& e, bool for_304) {
    res.header("ETag", std::string_view(e.rec.etag, e.rec.etag_len));
    char date[32];
    if (e.rec.last_modified >= 0) res.header("Last-Modified", format_http_date(e.rec.last_modified, date));
    std::string_view handler_cc = line_value(e.lines, "Cache-Control");
    if (handler_cc.data()) {
        if (for_304) res.header("Cache-Control", handler_cc);  // a 200 replays the handler's lines
    } else {
        Duration left = ref.expires_at() - Clock::now();
        long long secs = left > Duration(0) ? std::chrono::duration_cast<std::chrono::seconds>(left).count() : 0;
        char cc[32];
        int n = std::snprintf(cc, sizeof cc, "max-age=%lld", secs);
        res.header("Cache-Control", std::string_view(cc, size_t(n)));
    }
}

// Answers `req` from the entry: 304 when its conditionals allow, else the stored response.
void serve_entry(const Request& req, Response& res, const RouteCache& rc, const CacheRef& ref, const EntryView& e) {
    bool validators = e.rec.flags & kValidators;
    if (validators && not_modified(req, e.rec)) {
        res.status(304);
        add_validators(res, ref, e, true);
        if (!rc.vary.empty()) res.header("Vary", rc.vary);
        res.send({}, {});
        return;
    }
    res.status(e.rec.status);
    for_each_line(e.lines, [&](std::string_view name, std::string_view value) {
        if (validators && (iequals(name, "ETag") || iequals(name, "Last-Modified"))) return;
        res.header(name, value);
    });
    if (validators) add_validators(res, ref, e, false);
    if (!rc.vary.empty()) res.header("Vary", rc.vary);
    res.send(e.body, e.content_type);
}

void answer_busy(Response& res) {
    if (!ResponseAccess::untouched(res)) return;
    res.status(503).header("Retry-After", "1").text("503 Service Unavailable\n");
}

// The request that computes: its handler's response becomes the entry.
struct Lead {
    Lead(const Route& ro, Request& rq, Response& rs, Cache& c, std::string_view k)
        : route(&ro), req(&rq), res(&rs), cache(&c), key(k) {}
    const Route* route;
    Request* req;
    Response* res;
    Cache* cache;
    std::string_view key;
    bool ran = false;
    bool handler_failed = false;
    Record rec;
};

// Reads the finished response out of the connection's buffer (see response.cpp
// for the layout: status line, handler headers, server headers, body).
Result<CacheFill> capture(Lead& l) {
    Response& res = *l.res;
    if (ResponseAccess::untouched(res)) res.send({}, {});  // what the server would send: an empty body
    if (!ResponseAccess::whole(res)) return Error(Errc::not_supported, kNotShareable);
    Connection& c = ResponseAccess::conn(res);
    const char* out = c.ex->out.chars();
    std::string_view staged(out + c.ex->out_start, c.ex->out_len - c.ex->out_start);
    size_t head_end = staged.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return Error(Errc::not_supported, kNotShareable);
    std::string_view body = staged.substr(head_end + 4);
    std::string_view lines(out + kStatusReserve, c.ex->head_len);
    std::string_view server_lines(out + kStatusReserve + c.ex->head_len, c.ex->out_start + head_end + 2 - (kStatusReserve + c.ex->head_len));
    std::string_view auto_type = c.ex->has_content_type ? std::string_view() : line_value(server_lines, "Content-Type");
    if (lines.size() > UINT16_MAX || auto_type.size() > UINT16_MAX) return Error(Errc::not_supported, kNotShareable);
    // Rebuilt answers carry validators (and maybe Vary, Connection) this one
    // lacks: a response that barely fit the buffer stays unshared rather
    // than turn into a 500 when rebuilt.
    if (c.ex->out_len + 256 + l.route->options.cache.vary.size() > c.ex->out.size())
        return Error(Errc::not_supported, kNotShareable);

    Record& r = l.rec;
    r = Record();
    r.status = res.status_code();
    r.content_type_len = uint16_t(auto_type.size());
    r.headers_len = uint16_t(lines.size());
    CacheControl cc = parse_cache_control(line_value(lines, "Cache-Control"));
    CacheFill fill;
    if (r.status != 200 || cc.no_store) fill.ttl = Duration(0);
    else if (cc.max_age >= 0) fill.ttl = std::chrono::seconds(cc.max_age);

    std::string_view handler_etag = line_value(lines, "ETag");
    if (r.status == 200 && !cc.no_store && (!handler_etag.data() || handler_etag.size() <= kMaxEtag)) {
        r.flags |= kValidators;
        if (handler_etag.data()) {
            std::memcpy(r.etag, handler_etag.data(), handler_etag.size());
            r.etag_len = uint8_t(handler_etag.size());
        } else {
            std::string_view type = auto_type.data() ? auto_type : line_value(lines, "Content-Type");
            r.etag_len = uint8_t(make_etag(type, body, r.etag));
        }
        std::string_view handler_date = line_value(lines, "Last-Modified");
        Result<int64_t> parsed = Error(Errc::not_found, "no Last-Modified from the handler");
        if (handler_date.data()) parsed = parse_http_date(handler_date);
        if (parsed) {
            r.last_modified = *parsed;
        } else {
            // When the body last changed: kept across refills that produce the
            // same ETag, so If-Modified-Since stays useful; a second change in
            // the same second makes the date ambiguous until a later refill.
            int64_t now = port::wall_clock_s();
            r.last_modified = now;
            CacheRef prev = l.cache->find_stale(l.key);
            EntryView pe;
            if (prev && read_entry(prev, pe) && (pe.rec.flags & kValidators)) {
                bool same = pe.rec.etag_len == r.etag_len && std::memcmp(pe.rec.etag, r.etag, r.etag_len) == 0;
                if (same && !(pe.rec.flags & kAmbiguousDate)) r.last_modified = pe.rec.last_modified;
                else if (pe.rec.last_modified >= now) r.flags |= kAmbiguousDate;
            }
        }
    }
    fill.add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&r), sizeof r));
    fill.add(auto_type);
    fill.add(lines);
    fill.add(body);
    return fill;
}

Task<Result<CacheFill>> produce(Lead& l) {
    l.ran = true;
    auto done = co_await l.route->inner(*l.req, *l.res);
    if (!done) {
        l.handler_failed = true;
        co_return Error(Errc::no_memory, kHandlerNoFrame);
    }
    co_return capture(l);
}

// A miss: compute (or wait for whoever computes) in a frame of its own, so
// the hit path's frame stays small.
Task<> serve_miss(const Route& route, Request& req, Response& res, std::string_view key) {
    const RouteCache& rc = route.options.cache;
    Lead lead(route, req, res, *rc.store, key);
    auto got = co_await rc.store->get_or_compute(key, rc.ttl, [&lead] { return produce(lead); });
    EntryView e;
    bool readable = got && read_entry(*got, e);
    if (lead.ran) {
        if (lead.handler_failed) answer_busy(res);
        // A 200 is rebuilt from the entry to carry the validators; other
        // answers (and any the cache could not hold) stand as the handler made them.
        else if (readable && lead.rec.status == 200) {
            ResponseAccess::rewind(res);
            serve_entry(req, res, rc, *got, e);
        }
        co_return;
    }
    if (readable) {
        serve_entry(req, res, rc, *got, e);
        co_return;
    }
    if (!got && got.error().message == kHandlerNoFrame) {
        answer_busy(res);
        co_return;
    }
    // Not shareable (streamed) or not storable: this request answers for itself.
    auto done = co_await route.inner(req, res);
    if (!done) answer_busy(res);
}

// Serves a hit without suspending; false when the entry is missing (or not ours).
bool serve_hit(const Request& req, Response& res, const RouteCache& rc, std::string_view key) {
    CacheRef hit = rc.store->find(key);
    EntryView e;
    if (!hit || !read_entry(hit, e)) return false;
    serve_entry(req, res, rc, hit, e);
    return true;
}

}  // namespace

Task<> serve_cached(const Route& route, Request& req, Response& res) {
    const RouteCache& rc = route.options.cache;
    char key_buf[kMaxKey];
    std::string_view key = make_key(req, rc, key_buf);
    bool bypass = key.empty() || (!rc.authenticated && req.header("Authorization").data());
    if (!bypass) {
        if (serve_hit(req, res, rc, key)) co_return;
        if (req.method() == Method::get) {
            co_await serve_miss(route, req, res, key);
            co_return;
        }
    }
    auto done = co_await route.inner(req, res);
    if (!done) answer_busy(res);
}

// ---- HTTP dates -----------------------------------------------------------------------

namespace {

const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kLongDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A fixed-width parser over the date text.
struct Scan {
    std::string_view s;
    bool ok = true;
    bool lit(std::string_view x) {
        if (!ok || s.substr(0, x.size()) != x) return ok = false;
        s.remove_prefix(x.size());
        return true;
    }
    int num(size_t digits, bool leading_space = false) {
        int v = 0;
        for (size_t i = 0; i < digits; ++i) {
            char c = i < s.size() ? s[i] : '\0';
            if (leading_space && i == 0 && c == ' ') continue;
            if (c < '0' || c > '9') {
                ok = false;
                return 0;
            }
            v = v * 10 + (c - '0');
        }
        if (ok) s.remove_prefix(digits);
        return v;
    }
    int pick(const char* const* names, int count) {
        for (int i = 0; ok && i < count; ++i) {
            std::string_view n(names[i]);
            if (s.substr(0, n.size()) == n) {
                s.remove_prefix(n.size());
                return i;
            }
        }
        ok = false;
        return 0;
    }
    void time(int& h, int& mi, int& se) {
        h = num(2);
        lit(":");
        mi = num(2);
        lit(":");
        se = num(2);
    }
};

}  // namespace

std::string_view format_http_date(int64_t t, std::span<char> out) {
    int64_t day = gust::detail::unix_day(t);
    int64_t secs = t - day * 86400;
    gust::detail::CivilDate c = gust::detail::civil_from_days(day);
    int n = std::snprintf(out.data(), out.size(), "%s, %02u %s %04lld %02d:%02d:%02d GMT",
                          kDays[((day % 7) + 11) % 7], c.day, kMonths[c.month - 1], static_cast<long long>(c.year),
                          int(secs / 3600), int(secs / 60 % 60), int(secs % 60));
    if (n <= 0 || size_t(n) >= out.size()) return {};
    return std::string_view(out.data(), size_t(n));
}

Result<int64_t> parse_http_date(std::string_view text) {
    Scan sc{text};
    int64_t year = 0;
    int mon = 0, day = 0, h = 0, mi = 0, se = 0;
    if (text.size() == 29 && text[3] == ',') {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        sc.pick(kDays, 7);
        sc.lit(", ");
        day = sc.num(2);
        sc.lit(" ");
        mon = sc.pick(kMonths, 12);
        sc.lit(" ");
        year = sc.num(4);
        sc.lit(" ");
        sc.time(h, mi, se);
        sc.lit(" GMT");
    } else if (text.size() == 24 && text[3] == ' ') {  // asctime: Sun Nov  6 08:49:37 1994
        sc.pick(kDays, 7);
        sc.lit(" ");
        mon = sc.pick(kMonths, 12);
        sc.lit(" ");
        day = sc.num(2, true);
        sc.lit(" ");
        sc.time(h, mi, se);
        sc.lit(" ");
        year = sc.num(4);
    } else {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        sc.pick(kLongDays, 7);
        sc.lit(", ");
        day = sc.num(2);
        sc.lit("-");
        mon = sc.pick(kMonths, 12);
        sc.lit("-");
        year = sc.num(2);
        sc.lit(" ");
        sc.time(h, mi, se);
        sc.lit(" GMT");
        // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
        int64_t now_year = 1970 + port::wall_clock_s() / 31556952;
        year += (now_year / 100) * 100;
        if (year > now_year + 50) year -= 100;
    }
    if (!sc.ok || !sc.s.empty() || day < 1 || day > 31 || h > 23 || mi > 59 || se > 60)
        return Error(Errc::invalid_argument, "not an HTTP-date");
    return gust::detail::days_from_civil(year, unsigned(mon + 1), unsigned(day)) * 86400 + h * 3600 + mi * 60 + se;
}

}  // namespace gust::http
