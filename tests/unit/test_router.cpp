#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gust/loop.hpp>
#include <gust/router.hpp>
#include <gust/task.hpp>

using namespace gust;
using http::Method;

namespace {

Task<> noop(Request&, Response&) { co_return; }

// "name=value,name=value" of a match's parameters.
std::string params_str(const PathParams& p) {
    std::string s;
    for (size_t i = 0; i < p.count; ++i) {
        if (i) s += ",";
        s += std::string(p.items[i].name) + "=" + std::string(p.items[i].value);
    }
    return s;
}

struct Req {
    Method method;
    const char* name;  // for Method::other
    const char* path;
};

Method method_of(const char* name) {
    static const char* const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
    for (size_t i = 0; i < 9; ++i)
        if (std::strcmp(names[i], name) == 0) return static_cast<Method>(i);
    return Method::other;
}

// A router holding `routes` ("GET /a", "PROPFIND /dav/{p}", ...); the strings must outlive it.
std::unique_ptr<Router> make_router(const std::vector<std::pair<const char*, const char*>>& routes) {
    auto r = std::make_unique<Router>();
    for (auto& [m, p] : routes) {
        Result<void> ok = r->add(std::string_view(m), std::string_view(p), noop);
        CAPTURE(m);
        CAPTURE(p);
        CHECK(ok);
    }
    return r;
}

// "405 GET, HEAD", "404", or "GET /sensors/{id} id=42" for a match.
std::string describe(const Router& r, const char* method, const char* path) {
    PathParams params;
    RouteMatch m = r.match(method_of(method), method, path, params);
    if (m.status == 405) return "405 " + std::string(m.allow);
    if (m.status) {
        CHECK(params.count == 0);
        return std::to_string(m.status);
    }
    if (!m.route) return "null route with status 0";
    std::string s = std::string(m.route->method_name) + " " + std::string(m.route->pattern);
    if (params.count) s += " " + params_str(params);
    return s;
}

}  // namespace

TEST_CASE("router: match table") {
    auto r = make_router({
        {"GET", "/"},
        {"GET", "/hello"},
        {"GET", "/hello/"},
        {"GET", "/sensors/{id}"},
        {"PUT", "/sensors/{id}"},
        {"GET", "/sensors/list"},
        {"GET", "/sensors/{id}/history/{from}"},
        {"POST", "/api/upload/{name}"},
        {"DELETE", "/api/upload/{name}"},
        {"PATCH", "/api/upload/{name}"},
        {"OPTIONS", "/api/upload/{name}"},
        {"PROPFIND", "/dav/{path}"},
        {"MKCOL", "/dav/{path}"},
        {"GET", "/dav/{path}"},
        {"HEAD", "/explicit-head"},
        {"GET", "/explicit-head"},
        {"POST", "/post-only"},
    });
    struct Row {
        const char* method;
        const char* path;
        const char* expect;
    };
    const Row rows[] = {
        {"GET", "/", "GET /"},
        {"GET", "/hello", "GET /hello"},
        {"GET", "/hello/", "GET /hello/"},          // trailing slash is its own route
        {"GET", "/Hello", "404"},                   // case-sensitive
        {"GET", "/hello//", "404"},
        {"GET", "/hellox", "404"},
        {"GET", "/hell", "404"},
        {"GET", "/sensors/42", "GET /sensors/{id} id=42"},
        {"GET", "/sensors/list", "GET /sensors/list"},  // literal beats parameter
        {"PUT", "/sensors/list", "PUT /sensors/{id} id=list"},  // only the parameter route has PUT
        {"GET", "/sensors/", "404"},                // a parameter needs a non-empty segment
        {"GET", "/sensors", "404"},
        {"GET", "/sensors/42/", "404"},
        {"GET", "/sensors/a%2Fb", "GET /sensors/{id} id=a%2Fb"},  // raw, not decoded
        {"GET", "/sensors/7/history/100", "GET /sensors/{id}/history/{from} id=7,from=100"},
        {"GET", "/sensors/7/history", "404"},
        {"POST", "/sensors/42", "405 GET, HEAD, PUT"},
        {"DELETE", "/sensors/list", "405 GET, HEAD, PUT"},  // Allow is the union over matching patterns
        {"HEAD", "/sensors/9", "GET /sensors/{id} id=9"},  // HEAD served by GET
        {"HEAD", "/explicit-head", "HEAD /explicit-head"},
        {"GET", "/explicit-head", "GET /explicit-head"},
        {"PUT", "/explicit-head", "405 GET, HEAD"},  // HEAD listed once
        {"GET", "/api/upload/x", "405 POST, PATCH, DELETE, OPTIONS"},
        {"HEAD", "/api/upload/x", "405 POST, PATCH, DELETE, OPTIONS"},
        {"OPTIONS", "/api/upload/x", "OPTIONS /api/upload/{name} name=x"},
        {"OPTIONS", "/hello", "405 GET, HEAD"},     // no implicit OPTIONS
        {"HEAD", "/post-only", "405 POST"},
        {"PROPFIND", "/dav/a", "PROPFIND /dav/{path} path=a"},
        {"MKCOL", "/dav/a", "MKCOL /dav/{path} path=a"},
        {"propfind", "/dav/a", "405 GET, HEAD, PROPFIND, MKCOL"},  // methods are case-sensitive
        {"PUT", "/dav/a", "405 GET, HEAD, PROPFIND, MKCOL"},
        {"PROPFIND", "/hello", "405 GET, HEAD"},
        {"PROPFIND", "/nowhere", "404"},
        {"GET", "/nowhere", "404"},
        {"GET", "/sensors/..", "404"},              // dot segments never reach a handler
        {"GET", "/sensors/.", "404"},
        {"GET", "/../hello", "404"},
        {"GET", "/dav/..", "404"},
        {"GET", "*", "404"},                        // not origin-form
        {"GET", "", "404"},
        {"GET", "hello", "404"},
        {"GET", "http://x/hello", "404"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.method);
        CAPTURE(row.path);
        CHECK(describe(*r, row.method, row.path) == row.expect);
    }
}

TEST_CASE("router: literal beats parameter whatever the registration order") {
    const std::vector<std::vector<std::pair<const char*, const char*>>> orders = {
        {{"GET", "/sensors/{id}"}, {"GET", "/sensors/list"}},
        {{"GET", "/sensors/list"}, {"GET", "/sensors/{id}"}},
    };
    for (auto& routes : orders) {
        auto r = make_router(routes);
        CHECK(describe(*r, "GET", "/sensors/list") == "GET /sensors/list");
        CHECK(describe(*r, "GET", "/sensors/lis") == "GET /sensors/{id} id=lis");
        CHECK(describe(*r, "GET", "/sensors/listx") == "GET /sensors/{id} id=listx");
    }
    // The first differing segment decides: "/a/{x}" beats "/{y}/b" for "/a/b", both orders.
    const std::vector<std::vector<std::pair<const char*, const char*>>> mixed = {
        {{"GET", "/{y}/b"}, {"GET", "/a/{x}"}, {"GET", "/{p}/{q}"}},
        {{"GET", "/{p}/{q}"}, {"GET", "/a/{x}"}, {"GET", "/{y}/b"}},
    };
    for (auto& routes : mixed) {
        auto r = make_router(routes);
        CHECK(describe(*r, "GET", "/a/b") == "GET /a/{x} x=b");
        CHECK(describe(*r, "GET", "/c/b") == "GET /{y}/b y=c");
        CHECK(describe(*r, "GET", "/c/d") == "GET /{p}/{q} p=c,q=d");
    }
}

TEST_CASE("router: HEAD falls back to GET only when no HEAD route matches") {
    auto r = make_router({{"GET", "/files/{name}"}, {"HEAD", "/files/special"}});
    CHECK(describe(*r, "HEAD", "/files/special") == "HEAD /files/special");
    CHECK(describe(*r, "HEAD", "/files/other") == "GET /files/{name} name=other");
    CHECK(describe(*r, "POST", "/files/special") == "405 GET, HEAD");

    auto only_head = make_router({{"HEAD", "/h"}});
    CHECK(describe(*only_head, "HEAD", "/h") == "HEAD /h");
    CHECK(describe(*only_head, "GET", "/h") == "405 HEAD");
}

TEST_CASE("router: 405 Allow order is fixed whatever the registration order") {
    auto r = make_router({
        {"REPORT", "/x"}, {"TRACE", "/x"}, {"OPTIONS", "/x"}, {"DELETE", "/x"}, {"PATCH", "/x"},
        {"PUT", "/x"}, {"POST", "/x"}, {"GET", "/x"}, {"PROPFIND", "/{any}"}, {"REPORT", "/{any}"},
    });
    CHECK(describe(*r, "CONNECT", "/x") == "405 GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, REPORT, PROPFIND");
    CHECK(describe(*r, "REPORT", "/x") == "REPORT /x");
    CHECK(describe(*r, "REPORT", "/y") == "REPORT /{any} any=y");
    CHECK(describe(*r, "GET", "/y") == "405 PROPFIND, REPORT");
}

TEST_CASE("router: Allow drops names that do not fit, keeps it NUL-terminated") {
    static const char* const names[] = {"EXTENSIONMETHODNUMBERONE", "EXTENSIONMETHODNUMBERTWO",
                                        "EXTENSIONMETHODNUMBERTHREE", "EXTENSIONMETHODNUMBERFOUR", "X"};
    Router r;
    REQUIRE(r.get("/x", noop));
    for (const char* n : names) REQUIRE(r.add(std::string_view(n), "/x", noop));
    PathParams p;
    RouteMatch m = r.match(Method::post, "POST", "/x", p);
    CHECK(m.status == 405);
    CHECK(std::strlen(m.allow) < sizeof(m.allow));
    CHECK(std::string(m.allow) ==
          "GET, HEAD, EXTENSIONMETHODNUMBERONE, EXTENSIONMETHODNUMBERTWO, EXTENSIONMETHODNUMBERTHREE, X");
}

TEST_CASE("router: extension methods") {
    Router r;
    CHECK(r.add("PROPFIND", "/dav/{p}", noop));
    CHECK(r.add("GET", "/dav/{p}", noop));  // a standard name registers the standard method
    CHECK(r.add(Method::get, "/dav/{q}", noop).error() == Errc::invalid_argument);  // same shape
    CHECK(r.add("PROPFIND", "/dav/{q}", noop).error() == Errc::invalid_argument);
    CHECK(r.add("", "/e", noop).error() == Errc::invalid_argument);
    CHECK(r.add("BAD METHOD", "/e", noop).error() == Errc::invalid_argument);
    CHECK(r.add("BAD(", "/e", noop).error() == Errc::invalid_argument);
    CHECK(r.add(Method::other, "/e", noop).error() == Errc::invalid_argument);
    CHECK(r.size() == 2);

    PathParams p;
    RouteMatch m = r.match(Method::get, "GET", "/dav/z", p);
    REQUIRE(m.route);
    CHECK(m.route->method == Method::get);
    CHECK(m.route->method_name == "GET");
    m = r.match(Method::other, "PROPFIND", "/dav/z", p);
    REQUIRE(m.route);
    CHECK(m.route->method == Method::other);
    CHECK(m.route->method_name == "PROPFIND");
    CHECK(p.get("p") == "z");
    // The name is ignored for standard methods.
    m = r.match(Method::get, "PROPFIND", "/dav/z", p);
    REQUIRE(m.route);
    CHECK(m.route->method == Method::get);
}

TEST_CASE("router: pattern validation") {
    struct Row {
        const char* pattern;
        bool ok;
    };
    const Row rows[] = {
        {"/", true},
        {"/a", true},
        {"/a/", true},
        {"/{id}", true},
        {"/{id}/", true},
        {"/a/{A_z9}/b", true},
        {"/a%20b", true},
        {"/~user/-._!$&'()*+,;=:@", true},
        {"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", true},  // GUST_MAX_PATH_PARAMS == 8
        {"", false},
        {"a", false},
        {"*", false},
        {"{id}", false},
        {"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", false},
        {"/{}", false},
        {"/{id", false},
        {"/id}", false},
        {"/x{id}", false},
        {"/{id}x", false},
        {"/{i-d}", false},
        {"/{i d}", false},
        {"/{{id}}", false},
        {"/{id}/{id}", false},
        {"//", false},
        {"//a", false},
        {"/a//b", false},
        {"/.", false},
        {"/..", false},
        {"/a/../b", false},
        {"/a b", false},
        {"/a?b", false},
        {"/a#b", false},
        {"/a\tb", false},
        {"/a\x7f", false},
        {"/caf\xc3\xa9", false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.pattern);
        Router r;
        Result<void> res = r.get(row.pattern, noop);
        CHECK(res.ok() == row.ok);
        if (!row.ok) {
            CHECK(res.error() == Errc::invalid_argument);
            CHECK(r.size() == 0);
        }
    }
    Router r;
    CHECK(r.get("/e", Handler()).error() == Errc::invalid_argument);  // empty handler
    CHECK(r.get("/e", nullptr).error() == Errc::invalid_argument);
    CHECK(r.size() == 0);
}

TEST_CASE("router: duplicate routes") {
    Router r;
    CHECK(r.get("/a/{x}", noop));
    CHECK(r.get("/a/{x}", noop).error() == Errc::invalid_argument);
    CHECK(r.get("/a/{y}", noop).error() == Errc::invalid_argument);  // same shape
    CHECK(r.put("/a/{x}", noop));                                  // other method: fine
    CHECK(r.get("/a/x", noop));                                     // literal: a different shape
    CHECK(r.get("/a/{x}/", noop));                                  // trailing slash: different
    CHECK(r.head("/a/{x}", noop));
    CHECK(r.size() == 5);
}

TEST_CASE("router: table full is no_memory, and the table keeps working") {
    Router r;
    std::vector<std::string> patterns;
    patterns.reserve(GUST_MAX_ROUTES + 1);
    for (int i = 0; i <= GUST_MAX_ROUTES; ++i) patterns.push_back("/r" + std::to_string(i));
    for (int i = 0; i < GUST_MAX_ROUTES; ++i) REQUIRE(r.get(patterns[i], noop));
    CHECK(r.size() == GUST_MAX_ROUTES);
    CHECK(r.get(patterns[GUST_MAX_ROUTES], noop).error() == Errc::no_memory);
    CHECK(r.add("PROPFIND", patterns[GUST_MAX_ROUTES], noop).error() == Errc::no_memory);
    CHECK(r.get("bad", noop).error() == Errc::invalid_argument);  // validation still comes first
    CHECK(r.size() == GUST_MAX_ROUTES);
    CHECK(describe(r, "GET", "/r0") == "GET /r0");
    CHECK(describe(r, "GET", ("/r" + std::to_string(GUST_MAX_ROUTES - 1)).c_str()) ==
          "GET /r" + std::to_string(GUST_MAX_ROUTES - 1));
    CHECK(describe(r, "POST", "/r5") == "405 GET, HEAD");
    CHECK(describe(r, "GET", patterns[GUST_MAX_ROUTES].c_str()) == "404");
}

TEST_CASE("router: PathParams::get") {
    auto r = make_router({{"GET", "/u/{user}/k/{key}"}});
    PathParams p;
    RouteMatch m = r->match(Method::get, "GET", "/u/ann/k/42", p);
    REQUIRE(m.route);
    CHECK(p.count == 2);
    CHECK(p.get("user") == "ann");
    CHECK(p.get("key") == "42");
    CHECK(p.get("nope").data() == nullptr);
    CHECK(p.get("").data() == nullptr);
    // A later miss clears the parameters.
    m = r->match(Method::get, "GET", "/nothing", p);
    CHECK(m.status == 404);
    CHECK(p.count == 0);
    CHECK(p.get("user").data() == nullptr);
}

// ---- class handlers ---------------------------------------------------------

namespace {

int g_calls[8];
int g_live;

struct SensorHandler {
    int id = ++g_live;
    ~SensorHandler() { --g_live; }
    Task<> get(Request&, Response&) {
        ++g_calls[0];
        co_return;
    }
    Task<> put(Request&, Response&) {
        ++g_calls[1];
        co_return;
    }
    Task<> del(Request&, Response&) {
        ++g_calls[2];
        co_return;
    }
};

struct EverythingHandler {
    Task<> get(Request&, Response&) { co_return; }
    Task<> head(Request&, Response&) { co_return; }
    Task<> post(Request&, Response&) { co_return; }
    Task<> put(Request&, Response&) { co_return; }
    Task<> patch(Request&, Response&) { co_return; }
    Task<> del(Request&, Response&) { co_return; }
    Task<> options(Request&, Response&) { co_return; }
};

struct NothingHandler {
    int unrelated() { return 0; }
};

}  // namespace

TEST_CASE("router: route<H> registers exactly the methods H defines") {
    Router r;
    REQUIRE(r.route<SensorHandler>("/sensors/{id}", {.max_body = 1024}));
    CHECK(r.size() == 3);
    CHECK(describe(r, "GET", "/sensors/1") == "GET /sensors/{id} id=1");
    CHECK(describe(r, "HEAD", "/sensors/1") == "GET /sensors/{id} id=1");
    CHECK(describe(r, "PUT", "/sensors/1") == "PUT /sensors/{id} id=1");
    CHECK(describe(r, "DELETE", "/sensors/1") == "DELETE /sensors/{id} id=1");
    CHECK(describe(r, "POST", "/sensors/1") == "405 GET, HEAD, PUT, DELETE");
    CHECK(describe(r, "PATCH", "/sensors/1") == "405 GET, HEAD, PUT, DELETE");
    CHECK(describe(r, "OPTIONS", "/sensors/1") == "405 GET, HEAD, PUT, DELETE");
    PathParams p;
    RouteMatch m = r.match(Method::put, "PUT", "/sensors/1", p);
    REQUIRE(m.route);
    CHECK(m.route->options.max_body == 1024);

    Router all;
    REQUIRE(all.route<EverythingHandler>("/all"));
    CHECK(all.size() == 7);
    CHECK(describe(all, "HEAD", "/all") == "HEAD /all");
    CHECK(describe(all, "TRACE", "/all") == "405 GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");

    Router none;
    CHECK(none.route<NothingHandler>("/n").error() == Errc::invalid_argument);
    CHECK(none.size() == 0);
}

TEST_CASE("router: route<H> is all or nothing") {
    Router r;
    REQUIRE(r.put("/s/{x}", noop));                    // H's put will collide
    CHECK(r.route<SensorHandler>("/s/{id}").error() == Errc::invalid_argument);
    CHECK(r.size() == 1);
    CHECK(describe(r, "GET", "/s/1") == "405 PUT");     // the get added before the failure is gone
    CHECK(r.route<SensorHandler>("bad").error() == Errc::invalid_argument);
    CHECK(r.size() == 1);

    Router full;
    std::vector<std::string> ps;  // reserved: the router keeps views into these strings
    ps.reserve(GUST_MAX_ROUTES);
    for (int i = 0; i < GUST_MAX_ROUTES - 2; ++i) {
        ps.push_back("/f" + std::to_string(i));
        REQUIRE(full.get(ps.back(), noop));
    }
    CHECK(full.route<SensorHandler>("/s/{id}").error() == Errc::no_memory);  // needs 3, 2 left
    CHECK(full.size() == GUST_MAX_ROUTES - 2);
    CHECK(describe(full, "GET", "/s/1") == "404");
}

TEST_CASE("router: route<H> handlers make a fresh H per request and call its method") {
    Loop loop;
    REQUIRE(loop.status());
    Router r;
    REQUIRE(r.route<SensorHandler>("/sensors/{id}"));
    // The handlers never touch the request or response, so dummy storage stands in
    // for them (http.hpp is not needed here).
    alignas(std::max_align_t) static char dummy[64];
    Request& req = *reinterpret_cast<Request*>(dummy);
    Response& res = *reinterpret_cast<Response*>(dummy);
    std::memset(g_calls, 0, sizeof(g_calls));
    g_live = 0;
    const Method methods[] = {Method::get, Method::put, Method::delete_, Method::put, Method::head};
    for (Method m : methods) {
        PathParams p;
        RouteMatch match = r.match(m, {}, "/sensors/3", p);
        REQUIRE(match.route);
        Handler& h = const_cast<Handler&>(match.route->handler);
        REQUIRE(spawn(loop, h(req, res)));
    }
    CHECK(loop.run_until([] { return g_calls[0] + g_calls[1] + g_calls[2] == 5; }, std::chrono::seconds(2)));
    CHECK(g_calls[0] == 2);  // GET and HEAD
    CHECK(g_calls[1] == 2);
    CHECK(g_calls[2] == 1);
    CHECK(g_live == 0);  // every per-request H was destroyed
}

// ---- URL helpers ------------------------------------------------------------

TEST_CASE("percent_decode: table") {
    struct Row {
        std::string in;
        bool plus_is_space;
        Errc err;
        std::string out;
    };
    const std::vector<Row> rows = {
        {"", false, Errc::ok, ""},
        {"abc", false, Errc::ok, "abc"},
        {"a%20b", false, Errc::ok, "a b"},
        {"%2F", false, Errc::ok, "/"},
        {"%2f", false, Errc::ok, "/"},
        {"a%2Fb%2fc", false, Errc::ok, "a/b/c"},
        {"%41%42%43", false, Errc::ok, "ABC"},
        {"%e2%82%AC", false, Errc::ok, "\xe2\x82\xac"},
        {"%00", false, Errc::ok, std::string(1, '\0')},
        {"%FF", false, Errc::ok, "\xff"},
        {"%25", false, Errc::ok, "%"},
        {"%2525", false, Errc::ok, "%25"},  // decoded once only
        {"a+b", false, Errc::ok, "a+b"},
        {"a+b", true, Errc::ok, "a b"},
        {"%2B+", true, Errc::ok, "+ "},
        {"++", true, Errc::ok, "  "},
        {"%", false, Errc::protocol, ""},
        {"%4", false, Errc::protocol, ""},
        {"%zz", false, Errc::protocol, ""},
        {"%g0", false, Errc::protocol, ""},
        {"%0g", false, Errc::protocol, ""},
        {"%-1", false, Errc::protocol, ""},
        {"% 1", false, Errc::protocol, ""},
        {"%+1", true, Errc::protocol, ""},
        {"abc%", false, Errc::protocol, ""},
        {"abc%4", false, Errc::protocol, ""},
        {"%41%", false, Errc::protocol, ""},
        {"%%41", false, Errc::protocol, ""},
        {"ok%2", true, Errc::protocol, ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.in);
        CAPTURE(row.plus_is_space);
        // The input in an exact-size heap block (no NUL after it), so ASan sees any over-read.
        std::unique_ptr<char[]> in_block(new char[row.in.size() ? row.in.size() : 1]);
        std::memcpy(in_block.get(), row.in.data(), row.in.size());
        const std::string_view in(in_block.get(), row.in.size());
        // Exact-size buffer on the heap so ASan sees any write past the end.
        size_t exact = row.err == Errc::ok ? row.out.size() : row.in.size();
        std::unique_ptr<char[]> buf(new char[exact + 1]);
        Result<std::string_view> r = percent_decode(in, std::span<char>(buf.get(), exact), row.plus_is_space);
        CHECK(r.error().code == row.err);
        if (row.err == Errc::ok && r) {
            CHECK(std::string(*r) == row.out);
            CHECK((r->empty() || r->data() == buf.get()));
            // One byte short: too_large.
            if (!row.out.empty()) {
                std::unique_ptr<char[]> small(new char[row.out.size() - 1 + 1]);
                Result<std::string_view> s =
                    percent_decode(in, std::span<char>(small.get(), row.out.size() - 1), row.plus_is_space);
                CHECK(s.error().code == Errc::too_large);
            }
        }
        if (row.err == Errc::protocol) {
            // A bad escape is reported as such even with no room at all.
            CHECK(percent_decode(in, std::span<char>(), row.plus_is_space).error().code == Errc::protocol);
        }
    }
}

TEST_CASE("percent_decode: empty output buffer") {
    Result<std::string_view> r = percent_decode("", std::span<char>());
    REQUIRE(r);
    CHECK(r->empty());
    CHECK(percent_decode("a", std::span<char>()).error().code == Errc::too_large);
    CHECK(percent_decode("%41", std::span<char>()).error().code == Errc::too_large);
}

TEST_CASE("query_raw") {
    struct Row {
        const char* query;
        const char* name;
        const char* expect;  // nullptr: absent
    };
    const Row rows[] = {
        {"a=1&b=2", "a", "1"},
        {"a=1&b=2", "b", "2"},
        {"a=1&b=2", "c", nullptr},
        {"a=1&a=2", "a", "1"},            // first wins
        {"a", "a", ""},                   // no '=': empty value
        {"a&b=2", "a", ""},
        {"b=2&a", "a", ""},
        {"a=", "a", ""},
        {"a==x", "a", "=x"},
        {"a=1%202", "a", "1%202"},        // raw
        {"a%62=1", "ab", "1"},            // names compare decoded
        {"%61=1", "a", "1"},
        {"a+b=1", "a b", "1"},
        {"a%20b=1", "a b", "1"},
        {"a+b=1", "a+b", nullptr},
        {"a%2Bb=1", "a+b", "1"},
        {"ab=1", "a", nullptr},
        {"a=1", "ab", nullptr},
        {"A=1", "a", nullptr},            // case-sensitive
        {"a%=1&a=2", "a", "2"},           // a malformed name matches nothing
        {"&&a=1&&", "a", "1"},
        {"", "a", nullptr},
        {"", "", nullptr},
        {"=1", "", "1"},
        {"x=1&=2", "", "2"},
        {"b=%&a=%zz", "a", "%zz"},        // raw value, even if it would not decode
    };
    for (const Row& row : rows) {
        CAPTURE(row.query);
        CAPTURE(row.name);
        std::string_view q = row.query;
        std::string_view v = query_raw(q, row.name);
        if (!row.expect) {
            CHECK(v.data() == nullptr);
            CHECK(v.empty());
        } else {
            REQUIRE(v.data() != nullptr);
            CHECK(v == row.expect);
            CHECK(v.data() >= q.data());                       // a view into the query
            CHECK(v.data() + v.size() <= q.data() + q.size());
        }
    }
}

TEST_CASE("query_value") {
    char buf[16];
    auto value = [&](const char* q, const char* name) -> std::string {
        Result<std::string_view> r = query_value(q, name, buf);
        if (!r) return std::string("error:") + errc_name(r.error().code);
        CHECK((r->empty() || r->data() == buf));
        return std::string(*r);
    };
    CHECK(value("a=1&b=2", "b") == "2");
    CHECK(value("q=hello+world", "q") == "hello world");
    CHECK(value("q=hello%20world%21", "q") == "hello world!");
    CHECK(value("q=a%2Bb", "q") == "a+b");
    CHECK(value("p=%2Fetc%2Fpasswd", "p") == "/etc/passwd");
    CHECK(value("a%62=x", "ab") == "x");
    CHECK(value("a", "a") == "");
    CHECK(value("a=", "a") == "");
    CHECK(value("a=1", "b") == "error:not_found");
    CHECK(value("", "b") == "error:not_found");
    CHECK(value("a=%", "a") == "error:protocol");
    CHECK(value("a=%4", "a") == "error:protocol");
    CHECK(value("a=%zz", "a") == "error:protocol");
    CHECK(value("a=x&a=%zz", "a") == "x");  // first wins
    CHECK(value("a=0123456789abcdef", "a") == "0123456789abcdef");       // exactly 16
    CHECK(value("a=0123456789abcdefg", "a") == "error:too_large");       // 17
    CHECK(value("a=0123456789abcde%66", "a") == "0123456789abcdef");     // 16 after decoding
}

TEST_CASE("for_each_query: pairs in order, raw") {
    std::vector<std::string> seen;
    for_each_query("a=1&&b&c=%20&=d", [&](std::string_view n, std::string_view v) {
        seen.push_back(std::string(n) + "|" + std::string(v) + (v.data() ? "" : "(null)"));
    });
    CHECK(seen == std::vector<std::string>{"a|1", "b|(null)", "c|%20", "|d"});
}
