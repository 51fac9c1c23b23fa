// The router: a linear scan over a fixed table. With GUST_MAX_ROUTES in the
// tens and paths of a few segments, a scan that compares segments in place
// (no splitting into arrays, no copies) beats a trie on code size and costs
// nothing in memory; the table is read-only once the server runs.
#include <gust/router.hpp>

#include <gust/cache.hpp>

namespace gust {

namespace {

using http::Method;

// Indexed by Method (get .. trace).
constexpr std::string_view kMethodNames[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
constexpr size_t kStandardMethods = sizeof(kMethodNames) / sizeof(kMethodNames[0]);

// The order of the Allow list.
constexpr Method kAllowOrder[] = {Method::get,     Method::head,   Method::post,
                                  Method::put,     Method::patch,  Method::delete_,
                                  Method::options, Method::connect, Method::trace};

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

Method standard_method(std::string_view name) {
    for (size_t i = 0; i < kStandardMethods; ++i)
        if (kMethodNames[i] == name) return static_cast<Method>(i);
    return Method::other;
}

// Walks the segments of a path or pattern that starts with '/': "/" is one empty
// segment, "/a/" is "a" then "".
class Segments {
public:
    explicit Segments(std::string_view path) : rest_(path.substr(1)) {}
    bool next(std::string_view& seg) {
        if (done_) return false;
        size_t slash = rest_.find('/');
        if (slash == std::string_view::npos) {
            seg = rest_;
            done_ = true;
        } else {
            seg = rest_.substr(0, slash);
            rest_.remove_prefix(slash + 1);
        }
        return true;
    }
    bool last() const { return done_; }

private:
    std::string_view rest_;
    bool done_ = false;
};

// "{name}" -> true (a parameter segment; validity is checked by add()).
bool is_param(std::string_view seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }

bool is_dot_segment(std::string_view seg) { return seg == "." || seg == ".."; }

Result<void> invalid(const char* msg) { return Error(Errc::invalid_argument, msg); }

Result<void> validate_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') return invalid("route pattern must start with '/'");
    std::string_view names[GUST_MAX_PATH_PARAMS];
    size_t params = 0;
    Segments segs(pattern);
    std::string_view seg;
    while (segs.next(seg)) {
        if (seg.empty()) {
            if (!segs.last()) return invalid("route pattern has an empty segment");
            continue;
        }
        if (is_param(seg)) {
            std::string_view name = seg.substr(1, seg.size() - 2);
            if (name.empty()) return invalid("route parameter needs a name");
            for (char c : name)
                if (!is_name_char(c)) return invalid("route parameter name must be [A-Za-z0-9_]+");
            for (size_t i = 0; i < params; ++i)
                if (names[i] == name) return invalid("route parameter name repeated");
            if (params == GUST_MAX_PATH_PARAMS) return invalid("route has more than GUST_MAX_PATH_PARAMS parameters");
            names[params++] = name;
            continue;
        }
        if (is_dot_segment(seg)) return invalid("route pattern has a '.' or '..' segment");
        for (char c : seg) {
            auto u = static_cast<unsigned char>(c);
            if (c == '{' || c == '}') return invalid("route parameter must fill a whole segment");
            if (c == '?' || c == '#' || u <= 0x20 || u >= 0x7f) return invalid("route pattern has a byte not allowed in a path");
        }
    }
    return {};
}

// Same literals and parameters at the same places (parameter names aside).
bool same_shape(std::string_view a, std::string_view b) {
    Segments sa(a), sb(b);
    std::string_view x, y;
    for (;;) {
        bool more_a = sa.next(x), more_b = sb.next(y);
        if (more_a != more_b) return false;
        if (!more_a) return true;
        bool pa = is_param(x), pb = is_param(y);
        if (pa != pb) return false;
        if (!pa && x != y) return false;
    }
}

// Whether `pattern` (which holds parameters) matches `path`; fills `params` (if given) on a match.
bool match_params(std::string_view pattern, std::string_view path, PathParams* params) {
    Segments sp(pattern), sq(path);
    std::string_view p, q;
    size_t n = 0;
    for (;;) {
        bool more_p = sp.next(p), more_q = sq.next(q);
        if (more_p != more_q) return false;
        if (!more_p) break;
        if (is_param(p)) {
            if (q.empty()) return false;
            if (params) params->items[n++] = {p.substr(1, p.size() - 2), q};
        } else if (p != q) {
            return false;
        }
    }
    if (params) params->count = n;
    return true;
}

// Whether route `r` matches `path`: a literal pattern only itself, one comparison.
bool route_matches(const Route& r, std::string_view path) {
    if (r.literal) return r.pattern == path;
    return match_params(r.pattern, path, nullptr);
}

// For two patterns that match the same path: true when `a` is more specific,
// i.e. at the first segment where they differ `a` has the literal.
bool more_specific(std::string_view a, std::string_view b) {
    Segments sa(a), sb(b);
    std::string_view x, y;
    while (sa.next(x) && sb.next(y)) {
        bool pa = is_param(x), pb = is_param(y);
        if (pa != pb) return pb;
    }
    return false;
}

// Origin-form and free of dot segments. One pass with no search calls: the
// router runs on every request and paths are short.
bool path_ok(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    const size_t n = path.size();
    for (size_t i = 1; i < n; ++i) {
        if (path[i] != '.' || path[i - 1] != '/') continue;
        size_t end = i + 1 < n && path[i + 1] == '.' ? i + 2 : i + 1;  // "." or ".."
        if (end == n || path[end] == '/') return false;
    }
    return true;
}

bool method_is(const Route& r, Method method, std::string_view name) {
    if (r.method != method) return false;
    return method != Method::other || r.method_name == name;
}

// Appends ", name" (or "name" first) to a NUL-terminated list if it fits.
void append_allow(char (&allow)[sizeof(RouteMatch::allow)], size_t& len, std::string_view name) {
    size_t sep = len ? 2 : 0;
    if (len + sep + name.size() + 1 > sizeof(allow)) return;
    if (sep) {
        allow[len++] = ',';
        allow[len++] = ' ';
    }
    for (char c : name) allow[len++] = c;
    allow[len] = '\0';
}

}  // namespace

std::string_view PathParams::get(std::string_view name) const {
    for (size_t i = 0; i < count; ++i)
        if (items[i].name == name) return items[i].value;
    return {};
}

Result<void> Router::add(http::Method method, std::string_view pattern, Handler handler, RouteOptions options) {
    if (method == Method::other) return invalid("Router::add: extension methods need a name");
    return add_route(method, kMethodNames[static_cast<size_t>(method)], pattern, static_cast<Handler&&>(handler), options);
}

Result<void> Router::add(std::string_view method_name, std::string_view pattern, Handler handler, RouteOptions options) {
    if (method_name.empty()) return invalid("Router::add: empty method name");
    for (char c : method_name)
        if (!is_tchar(c)) return invalid("Router::add: method name is not a token");
    Method m = standard_method(method_name);
    if (m != Method::other) method_name = kMethodNames[static_cast<size_t>(m)];
    return add_route(m, method_name, pattern, static_cast<Handler&&>(handler), options);
}

Result<void> Router::add_route(http::Method method, std::string_view method_name, std::string_view pattern,
                               Handler handler, RouteOptions options) {
    if (!handler) return invalid("Router::add: empty handler");
    if (options.cache.store && method != Method::get) return invalid("Router::add: only GET routes can be cached");
    Result<void> valid = validate_pattern(pattern);
    if (!valid) return valid;
    for (size_t i = 0; i < count_; ++i)
        if (method_is(routes_[i], method, method_name) && same_shape(routes_[i].pattern, pattern))
            return invalid("Router::add: route already added for this method and pattern");
    if (count_ == GUST_MAX_ROUTES) return Error(Errc::no_memory, "Router::add: route table full (raise GUST_MAX_ROUTES)");
    Route& r = routes_[count_++];
    r.pattern = pattern;
    r.literal = pattern.find('{') == std::string_view::npos;
    r.method = method;
    r.method_name = method_name;
    r.handler = static_cast<Handler&&>(handler);
    r.options = options;
    if (options.cache.store) {
        // Routes never move (the table is fixed and the Router cannot be copied), so the wrapper keeps a pointer.
        r.inner = static_cast<Handler&&>(r.handler);
        const Route* self = &r;
        r.handler = [self](Request& req, Response& res) { return http::serve_cached(*self, req, res); };
    }
    return {};
}

const Route* Router::find(http::Method method, std::string_view method_name, std::string_view path) const {
    // A literal pattern equal to the path is the most specific match there is
    // (duplicates are refused by add()): take the first one and stop.
    const Route* best = nullptr;
    for (size_t i = 0; i < count_; ++i) {
        const Route& r = routes_[i];
        if (!method_is(r, method, method_name)) continue;
        if (r.literal) {
            if (r.pattern == path) return &r;
            continue;
        }
        if (!match_params(r.pattern, path, nullptr)) continue;
        if (!best || more_specific(r.pattern, best->pattern)) best = &r;
    }
    return best;
}

RouteMatch Router::match(http::Method method, std::string_view method_name, std::string_view path,
                         PathParams& params) const {
    RouteMatch m;
    m.allow[0] = '\0';
    params.count = 0;
    if (!path_ok(path)) {
        m.status = 404;
        return m;
    }
    const Route* best = find(method, method_name, path);
    if (!best && method == Method::head) best = find(Method::get, {}, path);
    if (best) {
        m.route = best;
        if (!best->literal) (void)match_params(best->pattern, path, &params);
        return m;
    }

    // No route for this method: 405 if the path is known under another one.
    bool matches[GUST_MAX_ROUTES] = {};
    bool standard[kStandardMethods] = {};
    bool any = false;
    for (size_t i = 0; i < count_; ++i) {
        if (!route_matches(routes_[i], path)) continue;
        matches[i] = any = true;
        if (routes_[i].method != Method::other) standard[static_cast<size_t>(routes_[i].method)] = true;
    }
    if (!any) {
        m.status = 404;
        return m;
    }
    m.status = 405;
    if (standard[static_cast<size_t>(Method::get)]) standard[static_cast<size_t>(Method::head)] = true;
    size_t len = 0;
    for (Method am : kAllowOrder)
        if (standard[static_cast<size_t>(am)]) append_allow(m.allow, len, kMethodNames[static_cast<size_t>(am)]);
    for (size_t i = 0; i < count_; ++i) {
        if (!matches[i] || routes_[i].method != Method::other) continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; ++j)
            seen = matches[j] && routes_[j].method == Method::other && routes_[j].method_name == routes_[i].method_name;
        if (!seen) append_allow(m.allow, len, routes_[i].method_name);
    }
    return m;
}

}  // namespace gust
