// gust::Cache (storage, TTL, LRU, single flight) and the response cache
// behind RouteOptions::cache, served through the test kit.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <gust/cache.hpp>
#include <gust/http.hpp>
#include <gust/stream.hpp>
#include <gust/testing.hpp>

#include "alloc_counter.hpp"
#include "test_support.hpp"

using namespace gust;
using gust_test::FakeClock;
using testing::TestOptions;
using testing::TestServer;

namespace {

std::string str(const CacheRef& r) { return std::string(r.text()); }

// A producer that counts its runs, waits `delay` on the loop, then answers `value` (or `error`).
struct Producer {
    int* runs;
    Duration delay;
    const char* value;
    Error error = Error();
    Task<Result<CacheFill>> operator()() const {
        ++*runs;
        if (auto s = co_await sleep(delay); !s) co_return s.error();
        if (error.code != Errc::ok) co_return error;
        co_return CacheFill(std::string_view(value));
    }
};

struct Outcome {
    bool done = false;
    std::string value;
    Errc code = Errc::ok;
};

Task<> call(Cache& c, std::string_view key, Producer p, Outcome* out) {
    auto r = co_await c.get_or_compute(key, std::chrono::seconds(60), p);
    out->done = true;
    if (r) out->value = str(*r);
    else out->code = r.error().code;
}

size_t count_done(const std::vector<Outcome>& v) {
    size_t n = 0;
    for (auto& o : v) n += o.done;
    return n;
}

}  // namespace

// ---- storage ------------------------------------------------------------------------

TEST_CASE("cache: put, find, replace and erase") {
    Cache c(8, 1024);
    REQUIRE(c.status());
    CHECK(!c.find("a"));
    REQUIRE(c.put("a", CacheFill("one"), std::chrono::seconds(10)));
    CacheRef a = c.find("a");
    REQUIRE(a);
    CHECK(str(a) == "one");
    CHECK(a.key() == "a");
    CHECK(a.stored());
    // A held ref keeps the old value after a replacement; lookups see the new one.
    REQUIRE(c.put("a", CacheFill("two"), std::chrono::seconds(10)));
    CHECK(str(a) == "one");
    CHECK(!a.stored());
    CHECK(str(c.find("a")) == "two");
    CHECK(c.stats().entries == 2);
    a.reset();
    CHECK(c.stats().entries == 1);
    CHECK(c.erase("a"));
    CHECK(!c.erase("a"));
    CHECK(!c.find("a"));
    CHECK(c.stats().entries == 0);
    CHECK(c.stats().bytes == 0);
    // Several parts are stored as one value.
    REQUIRE(c.put("multi", CacheFill("ab").add(std::string_view("")).add(std::string_view("cd")), std::chrono::seconds(1)));
    CHECK(str(c.find("multi")) == "abcd");
    CacheStats s = c.stats();
    CHECK(s.hits == 3);
    CHECK(s.misses == 2);
}

TEST_CASE("cache: TTL expiry on the fake clock") {
    FakeClock clock;
    Cache c(8, 1024);
    REQUIRE(c.put("k", CacheFill("v"), std::chrono::seconds(1)));
    clock.advance(std::chrono::milliseconds(999));
    CHECK(c.find("k"));
    clock.advance(std::chrono::milliseconds(1));
    CHECK(!c.find("k"));
    // Expired but kept until evicted or replaced.
    CacheRef stale = c.find_stale("k");
    REQUIRE(stale);
    CHECK(str(stale) == "v");
    // A TTL of zero keeps the value only as long as the ref.
    auto once = c.put("z", CacheFill("zero"), Duration(0));
    REQUIRE(once);
    CHECK(str(*once) == "zero");
    CHECK(!once->stored());
    CHECK(!c.find("z"));
}

TEST_CASE("cache: LRU eviction at the entry bound") {
    Cache c(3, 1024);
    for (const char* k : {"a", "b", "c"}) REQUIRE(c.put(k, CacheFill(std::string_view(k)), std::chrono::seconds(60)));
    CHECK(c.find("a"));  // a is now the most recent; b the least
    REQUIRE(c.put("d", CacheFill("d"), std::chrono::seconds(60)));
    CHECK(!c.find("b"));
    CHECK(str(c.find("a")) == "a");
    CHECK(str(c.find("c")) == "c");
    CHECK(str(c.find("d")) == "d");
    CHECK(c.stats().evictions == 1);
    CHECK(c.stats().entries == 3);
}

TEST_CASE("cache: LRU eviction at the byte bound, compaction and too-large values") {
    Cache c(100, 100);
    std::string v38(38, 'x');  // 2-byte key + 38 = 40 bytes
    REQUIRE(c.put("k1", CacheFill(std::string_view(v38)), std::chrono::seconds(60)));
    REQUIRE(c.put("k2", CacheFill(std::string_view(v38)), std::chrono::seconds(60)));
    CHECK(c.find("k1"));
    REQUIRE(c.put("k3", CacheFill(std::string_view(v38)), std::chrono::seconds(60)));
    CHECK(!c.find("k2"));
    CHECK(c.find("k1"));
    CHECK(c.find("k3"));
    CHECK(c.stats().bytes == 80);
    CHECK(c.stats().evictions == 1);

    auto big = c.put("big", CacheFill(std::string_view(std::string(98, 'b'))), std::chrono::seconds(60));
    REQUIRE(!big);
    CHECK(big.error().code == Errc::too_large);

    // A hole in front of live values: the next store slides them down intact.
    Cache d(10, 100);
    REQUIRE(d.put("a", CacheFill(std::string_view(std::string(29, 'A'))), std::chrono::seconds(60)));
    REQUIRE(d.put("b", CacheFill(std::string_view(std::string(29, 'B'))), std::chrono::seconds(60)));
    REQUIRE(d.put("c", CacheFill(std::string_view(std::string(29, 'C'))), std::chrono::seconds(60)));
    REQUIRE(d.erase("a"));
    REQUIRE(d.put("d", CacheFill(std::string_view(std::string(29, 'D'))), std::chrono::seconds(60)));
    CHECK(d.stats().compactions == 1);
    CHECK(d.stats().evictions == 0);
    CHECK(str(d.find("b")) == std::string(29, 'B'));
    CHECK(str(d.find("c")) == std::string(29, 'C'));
    CHECK(str(d.find("d")) == std::string(29, 'D'));
}

TEST_CASE("cache: pinned entries are never evicted; no room is an error") {
    Cache c(2, 1024);
    auto a = c.put("a", CacheFill("A"), std::chrono::seconds(60));
    auto b = c.put("b", CacheFill("B"), std::chrono::seconds(60));
    REQUIRE(a);
    REQUIRE(b);
    auto full = c.put("c", CacheFill("C"), std::chrono::seconds(60));
    REQUIRE(!full);
    CHECK(full.error().code == Errc::no_memory);
    CacheRef copy = *b;  // a second pin on b
    b->reset();
    auto still = c.put("c", CacheFill("C"), std::chrono::seconds(60));
    CHECK(!still);
    copy.reset();
    REQUIRE(c.put("c", CacheFill("C"), std::chrono::seconds(60)));
    CHECK(!c.find("b"));
    CHECK(str(*a) == "A");
}

TEST_CASE("cache: no heap allocation on hits, refills or get_or_compute hits") {
    Loop loop(gust_test::test_limits());
    Cache c(64, 64 * 1024);
    std::string value(1000, 'v');
    REQUIRE(c.put("status", CacheFill(std::string_view(value)), std::chrono::seconds(60)));
    int runs = 0;
    Outcome warm;
    REQUIRE(spawn(loop, call(c, "status", Producer{&runs, Duration(0), "x"}, &warm)));
    loop.run_until([&] { return warm.done; }, std::chrono::seconds(5));
    REQUIRE(warm.value == value);

    gust_test::AllocationScope scope;
    size_t bytes = 0;
    for (int i = 0; i < 10000; ++i) {
        CacheRef r = c.find("status");
        bytes += r.value().size();
        if (i % 100 == 0) (void)c.put("other", CacheFill(std::string_view(value)), std::chrono::seconds(1));
    }
    // Through get_or_compute too: frames come from the pool, not the heap.
    size_t got = 0;
    auto sized = [&]() -> Task<> {
        auto r = co_await c.get_or_compute("status", std::chrono::seconds(60), Producer{&runs, Duration(0), "x"});
        if (r) got += r->value().size();
    };
    for (int i = 0; i < 50; ++i) (void)spawn(loop, sized());
    loop.run_until([&] { return got == 50 * value.size(); }, std::chrono::seconds(5));
    CHECK(scope.count() == 0);
    CHECK(bytes == 10000 * value.size());
    CHECK(got == 50 * value.size());
    CHECK(runs == 0);
}

// ---- single flight ------------------------------------------------------------------

TEST_CASE("cache: 100 concurrent misses run the producer once and share its value") {
    FakeClock clock;
    Loop loop(gust_test::test_limits());
    Cache c(16, 4096);
    int runs = 0;
    std::vector<Outcome> out(100);
    for (auto& o : out) REQUIRE(spawn(loop, call(c, "k", Producer{&runs, std::chrono::milliseconds(10), "fresh"}, &o)));
    loop.run_until([&] { return count_done(out) == out.size(); }, std::chrono::seconds(5));
    REQUIRE(count_done(out) == 100);
    CHECK(runs == 1);
    for (auto& o : out) CHECK(o.value == "fresh");
    CacheStats s = c.stats();
    CHECK(s.fills == 1);
    CHECK(s.waits == 99);
    // The next call is a hit.
    Outcome later;
    REQUIRE(spawn(loop, call(c, "k", Producer{&runs, Duration(0), "other"}, &later)));
    loop.run_until([&] { return later.done; }, std::chrono::seconds(1));
    CHECK(later.value == "fresh");
    CHECK(runs == 1);
}

TEST_CASE("cache: a producer error reaches every waiter and the next call retries") {
    FakeClock clock;
    Loop loop(gust_test::test_limits());
    Cache c(16, 4096);
    int runs = 0;
    Producer failing{&runs, std::chrono::milliseconds(10), "", Error(Errc::io, "sensor bus")};
    std::vector<Outcome> out(100);
    for (auto& o : out) REQUIRE(spawn(loop, call(c, "k", failing, &o)));
    loop.run_until([&] { return count_done(out) == out.size(); }, std::chrono::seconds(5));
    CHECK(runs == 1);
    for (auto& o : out) CHECK(o.code == Errc::io);
    CHECK(c.stats().errors == 1);

    Outcome retry;
    REQUIRE(spawn(loop, call(c, "k", Producer{&runs, std::chrono::milliseconds(1), "ok"}, &retry)));
    loop.run_until([&] { return retry.done; }, std::chrono::seconds(5));
    CHECK(runs == 2);
    CHECK(retry.value == "ok");
}

TEST_CASE("cache: errors are cached only when asked") {
    FakeClock clock;
    Loop loop(gust_test::test_limits());
    Cache c(16, 4096);
    int runs = 0;
    Producer failing{&runs, Duration(0), "", Error(Errc::io, "sensor bus")};
    auto once = [&]() {
        Outcome o;
        auto t = [&]() -> Task<> {
            auto r = co_await c.get_or_compute("k", std::chrono::seconds(60), failing,
                                               ComputeOptions{.error_ttl = std::chrono::seconds(2)});
            o.done = true;
            o.code = r ? Errc::ok : r.error().code;
        };
        REQUIRE(spawn(loop, t()));
        loop.run_until([&] { return o.done; }, std::chrono::seconds(1));
        return o.code;
    };
    CHECK(once() == Errc::io);
    CHECK(once() == Errc::io);
    CHECK(runs == 1);  // the second was answered by the stored error
    CHECK(!c.find("k"));
    clock.advance(std::chrono::seconds(2));
    CHECK(once() == Errc::io);
    CHECK(runs == 2);
}

TEST_CASE("cache: when the computing caller is cancelled a waiter takes over") {
    FakeClock clock;
    Loop loop(gust_test::test_limits());
    Cache c(16, 4096);
    int runs = 0;
    Outcome leader_out;
    Task<> leader = call(c, "k", Producer{&runs, std::chrono::seconds(10), "never"}, &leader_out);
    leader.start();
    CHECK(runs == 1);
    std::vector<Outcome> out(10);
    for (auto& o : out) REQUIRE(spawn(loop, call(c, "k", Producer{&runs, std::chrono::milliseconds(5), "second"}, &o)));
    loop.run_until([] { return false; }, std::chrono::milliseconds(1));  // they park on the flight
    CHECK(count_done(out) == 0);
    leader = Task<>();  // cancelled: its sleep and its flight go away
    loop.run_until([&] { return count_done(out) == out.size(); }, std::chrono::seconds(5));
    CHECK(!leader_out.done);
    CHECK(runs == 2);
    for (auto& o : out) CHECK(o.value == "second");
}

TEST_CASE("cache: a waiter destroyed while parked leaves the others unharmed") {
    FakeClock clock;
    Loop loop(gust_test::test_limits());
    Cache c(16, 4096);
    int runs = 0;
    Outcome first, gone, last;
    REQUIRE(spawn(loop, call(c, "k", Producer{&runs, std::chrono::milliseconds(5), "v"}, &first)));
    loop.run_until([] { return false; }, std::chrono::milliseconds(1));
    Task<> doomed = call(c, "k", Producer{&runs, Duration(0), "x"}, &gone);
    doomed.start();
    REQUIRE(spawn(loop, call(c, "k", Producer{&runs, Duration(0), "x"}, &last)));
    loop.run_until([] { return false; }, std::chrono::milliseconds(1));
    doomed = Task<>();
    loop.run_until([&] { return first.done && last.done; }, std::chrono::seconds(5));
    CHECK(runs == 1);
    CHECK(first.value == "v");
    CHECK(last.value == "v");
    CHECK(!gone.done);
    CHECK(c.stats().entries == 1);
}

// ---- HTTP dates ---------------------------------------------------------------------

TEST_CASE("cache: HTTP dates in the three RFC 9110 forms") {
    char buf[32];
    CHECK(http::format_http_date(784111777, buf) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(http::format_http_date(0, buf) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(http::format_http_date(951782400, buf) == "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(http::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").value_or(-1) == 784111777);
    CHECK(http::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").value_or(-1) == 784111777);
    CHECK(http::parse_http_date("Sun Nov  6 08:49:37 1994").value_or(-1) == 784111777);
    for (int64_t t : {int64_t(0), int64_t(951782400), int64_t(1700000000), int64_t(4102444799)}) {
        auto back = http::parse_http_date(http::format_http_date(t, buf));
        CHECK(back.value_or(-1) == t);
    }
    for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                            "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "yesterday",
                            "Sun, 06 Nov 1994 08:49:37 GMTx", "1994-11-06T08:49:37Z"})
        CHECK_MESSAGE(!http::parse_http_date(bad), bad);
}

// ---- the response cache -------------------------------------------------------------

namespace {

// A route whose handler counts its runs and answers with the count.
struct Counted {
    int runs = 0;
    const char* cache_control = nullptr;
    uint16_t status = 200;
    Task<> handle(Request&, Response& res) {
        ++runs;
        char body[32];
        int n = std::snprintf(body, sizeof body, "run %d", runs);
        if (cache_control) res.header("Cache-Control", cache_control);
        res.status(status).send(std::string_view(body, size_t(n)), "text/plain");
        co_return;
    }
    Handler handler() {
        return [this](Request& q, Response& s) { return handle(q, s); };
    }
};

TestOptions kit(bool fake = false) {
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 64;
    o.fake_clock = fake;
    return o;
}

}  // namespace

TEST_CASE("cache: a cached route adds validators and answers conditionals with 304") {
    Cache cache(16, 64 * 1024);
    Counted h;
    Router app;
    REQUIRE(app.get("/status", h.handler(), {.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}}));
    TestServer srv(app, kit());

    auto first = srv.get("/status");
    REQUIRE(first.status == 200);
    CHECK(first.body == "run 1");
    CHECK(first.header("Content-Type") == "text/plain");
    std::string etag = first.header("ETag");
    CHECK(etag.size() == 26);
    CHECK(etag.front() == '"');
    std::string lm = first.header("Last-Modified");
    CHECK(http::parse_http_date(lm));
    std::string cc = first.header("Cache-Control");
    CHECK((cc == "max-age=59" || cc == "max-age=60"));

    auto second = srv.get("/status");
    CHECK(second.body == "run 1");
    CHECK(second.header("ETag") == etag);
    CHECK(h.runs == 1);

    auto cond = [&](std::vector<std::string> headers) { return srv.request("GET", "/status", {}, headers); };
    auto nm = cond({"If-None-Match: " + etag});
    CHECK(nm.status == 304);
    CHECK(nm.body.empty());
    CHECK(nm.header("ETag") == etag);
    CHECK(nm.has_header("Cache-Control"));
    CHECK(nm.has_header("Date"));
    CHECK(nm.header("Last-Modified") == lm);
    CHECK(!nm.has_header("Content-Type"));
    CHECK(!nm.has_header("Content-Length"));
    CHECK(cond({"If-None-Match: \"nope\", W/" + etag}).status == 304);  // lists, weak comparison
    CHECK(cond({"If-None-Match: \"nope\"", "If-None-Match: " + etag}).status == 304);  // repeated fields
    CHECK(cond({"If-None-Match: *"}).status == 304);
    CHECK(cond({"If-None-Match: \"nope\""}).status == 200);
    CHECK(cond({"If-None-Match: " + etag.substr(0, 20)}).status == 200);  // unterminated: no match
    CHECK(cond({"If-Modified-Since: " + lm}).status == 304);
    CHECK(cond({"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"}).status == 200);
    CHECK(cond({"If-Modified-Since: not a date"}).status == 200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    CHECK(cond({"If-None-Match: \"nope\"", "If-Modified-Since: " + lm}).status == 200);
    CHECK(h.runs == 1);

    // HEAD reads GET's entry.
    auto head = srv.head("/status");
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "5");
    CHECK(head.header("ETag") == etag);
    CHECK(h.runs == 1);
    // The query is part of the key.
    CHECK(srv.get("/status?x=1").body == "run 2");
    CHECK(srv.get("/status?x=1").body == "run 2");
    CHECK(h.runs == 2);
    // A HEAD miss runs the handler and stores nothing (it has no body to keep).
    CHECK(srv.head("/status?h=1").header("Content-Length") == "5");
    CHECK(h.runs == 3);
    CHECK(srv.get("/status?h=1").body == "run 4");
}

TEST_CASE("cache: TTL, handler max-age and no-store on the fake clock") {
    Cache cache(16, 64 * 1024);
    Counted plain, aged, never, zero;
    aged.cache_control = "public, max-age=5";
    never.cache_control = "no-store";
    Router app;
    RouteOptions o{.cache = {.store = &cache, .ttl = std::chrono::seconds(2)}};
    REQUIRE(app.get("/plain", plain.handler(), o));
    REQUIRE(app.get("/aged", aged.handler(), o));
    REQUIRE(app.get("/never", never.handler(), o));
    REQUIRE(app.get("/zero", zero.handler(), {.cache = {.store = &cache}}));  // TTL 0: concurrent requests only
    TestServer srv(app, kit(true));

    CHECK(srv.get("/plain").body == "run 1");
    CHECK(srv.get("/aged").body == "run 1");
    auto n1 = srv.get("/never");
    CHECK(n1.body == "run 1");
    CHECK(n1.header("Cache-Control") == "no-store");
    CHECK(!n1.has_header("ETag"));
    CHECK(srv.get("/never").body == "run 2");
    CHECK(srv.request("GET", "/never", {}, {"If-None-Match: *"}).status == 200);
    auto z = srv.get("/zero");
    CHECK(z.body == "run 1");
    CHECK(z.header("Cache-Control") == "max-age=0");
    CHECK(srv.request("GET", "/zero", {}, {"If-None-Match: " + z.header("ETag")}).body == "run 2");  // recomputed
    CHECK(srv.get("/zero").body == "run 3");

    auto a = srv.get("/aged");
    CHECK(a.body == "run 1");
    CHECK(a.header("Cache-Control") == "public, max-age=5");  // the handler's, once
    CHECK(a.headers.size() == srv.get("/plain").headers.size());

    port::fake_clock_advance(std::chrono::nanoseconds(std::chrono::seconds(2)).count());
    CHECK(srv.get("/plain").body == "run 2");
    CHECK(srv.get("/aged").body == "run 1");
    port::fake_clock_advance(std::chrono::nanoseconds(std::chrono::seconds(3)).count());
    CHECK(srv.get("/aged").body == "run 2");
    CHECK(plain.runs == 2);
}

TEST_CASE("cache: Authorization bypasses the cache unless the route opts in; vary keys") {
    Cache cache(16, 64 * 1024);
    Counted open, shared, varied;
    Router app;
    REQUIRE(app.get("/open", open.handler(), {.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}}));
    REQUIRE(app.get("/shared", shared.handler(),
                    {.cache = {.store = &cache, .ttl = std::chrono::seconds(60), .authenticated = true}}));
    REQUIRE(app.get("/varied", varied.handler(),
                    {.cache = {.store = &cache, .ttl = std::chrono::seconds(60), .vary = "Accept, X-Unit"}}));
    TestServer srv(app, kit());
    std::vector<std::string> auth{"Authorization: Bearer abc"};

    CHECK(srv.get("/open").body == "run 1");
    auto bypassed = srv.request("GET", "/open", {}, auth);
    CHECK(bypassed.body == "run 2");
    CHECK(!bypassed.has_header("ETag"));
    CHECK(srv.request("GET", "/open", {}, auth).body == "run 3");
    CHECK(srv.get("/open").body == "run 1");

    CHECK(srv.request("GET", "/shared", {}, auth).body == "run 1");
    CHECK(srv.request("GET", "/shared", {}, {"Authorization: Bearer other"}).body == "run 1");

    auto v1 = srv.request("GET", "/varied", {}, {"Accept: text/plain"});
    CHECK(v1.body == "run 1");
    CHECK(v1.header("Vary") == "Accept, X-Unit");
    CHECK(srv.request("GET", "/varied", {}, {"Accept: application/json"}).body == "run 2");
    CHECK(srv.request("GET", "/varied", {}, {"Accept: text/plain", "X-Unit: F"}).body == "run 3");
    CHECK(srv.request("GET", "/varied", {}, {"Accept: text/plain"}).body == "run 1");
    CHECK(srv.request("GET", "/varied", {}, {"Accept: text/plain", "X-Unit: F"}).body == "run 3");
    auto nm = srv.request("GET", "/varied", {}, {"Accept: text/plain", "If-None-Match: " + v1.header("ETag")});
    CHECK(nm.status == 304);
    CHECK(nm.header("Vary") == "Accept, X-Unit");

    Router bad;
    auto post = bad.post("/x", open.handler(), {.cache = {.store = &cache}});
    REQUIRE(!post);
    CHECK(post.error().code == Errc::invalid_argument);
}

TEST_CASE("cache: errors, streams and oversized bodies are not stored") {
    Cache cache(16, 256);
    Counted missing;
    missing.status = 404;
    int streams = 0, bigs = 0;
    Router app;
    RouteOptions o{.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}};
    REQUIRE(app.get("/missing", missing.handler(), o));
    REQUIRE(app.get("/stream", [&streams](Request&, Response& res) -> Task<> {
        ++streams;
        (void)co_await res.write("streamed");
        (void)co_await res.finish();
    }, o));
    REQUIRE(app.get("/big", [&bigs](Request&, Response& res) -> Task<> {
        ++bigs;
        res.text(std::string(1000, 'b'));
        co_return;
    }, o));
    TestServer srv(app, kit());

    auto m = srv.get("/missing");
    CHECK(m.status == 404);
    CHECK(!m.has_header("ETag"));
    CHECK(srv.get("/missing").body == "run 2");
    CHECK(srv.get("/stream").body == "streamed");
    CHECK(srv.get("/stream").body == "streamed");
    CHECK(streams == 2);
    auto b = srv.get("/big");
    CHECK(b.status == 200);
    CHECK(b.body.size() == 1000);
    CHECK(srv.get("/big").body.size() == 1000);
    CHECK(bigs == 2);
    CHECK(cache.stats().entries == 0);
}

namespace {

int g_gets = 0, g_posts = 0;
struct Thermostat {
    Task<> get(Request&, Response& res) {
        res.text(std::to_string(++g_gets));
        co_return;
    }
    Task<> post(Request&, Response& res) {
        res.text(std::to_string(++g_posts));
        co_return;
    }
};

}  // namespace

TEST_CASE("cache: class routes cache their get only; huge max-age; bodies too big to rebuild") {
    Cache cache(16, 64 * 1024);
    Counted forever;
    forever.cache_control = "max-age=99999999999999999999";
    int fulls = 0;
    Router app;
    RouteOptions o{.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}};
    REQUIRE(app.route<Thermostat>("/thermostat", o));
    REQUIRE(app.get("/forever", forever.handler(), o));
    // Fits the 8 KiB response buffer as the handler made it, not with validators added.
    REQUIRE(app.get("/full", [&fulls](Request&, Response& res) -> Task<> {
        ++fulls;
        res.text(std::string(GUST_HTTP_BUFFER_SIZE - 200, 'f'));
        co_return;
    }, o));
    TestServer srv(app, kit());
    g_gets = g_posts = 0;
    CHECK(srv.get("/thermostat").body == "1");
    CHECK(srv.get("/thermostat").body == "1");
    CHECK(srv.post("/thermostat", "x").body == "1");
    CHECK(srv.post("/thermostat", "x").body == "2");

    CHECK(srv.get("/forever").body == "run 1");  // 2^31 s, no overflow (UBSan watches)
    CHECK(srv.get("/forever").body == "run 1");

    auto f = srv.get("/full");
    CHECK(f.status == 200);
    CHECK(f.body.size() == GUST_HTTP_BUFFER_SIZE - 200);
    CHECK(!f.has_header("ETag"));
    CHECK(srv.get("/full").status == 200);
    CHECK(fulls == 2);
}

namespace {

// One raw request on its own connection, read to EOF (many run at once).
Task<> fetch(uint16_t port, std::string request, std::string* out, int* done) {
    auto addr = port::parse_ip("127.0.0.1", port);
    auto fd = port::tcp_connect(*addr);
    if (fd) {
        TcpStream s;
        if (s.attach(*Loop::current(), *fd)) {
            auto w = co_await s.write_all(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()),
                                                                   request.size()));
            uint8_t buf[512];
            while (w) {
                auto n = co_await s.read(buf);
                if (!n || *n == 0) break;
                out->append(reinterpret_cast<char*>(buf), *n);
            }
        } else {
            port::close(*fd);
        }
    }
    ++*done;
}

}  // namespace

TEST_CASE("cache: concurrent requests for a slow route run its handler once") {
    Cache cache(16, 64 * 1024);
    int runs = 0;
    Router app;
    REQUIRE(app.get("/slow", [&runs](Request&, Response& res) -> Task<> {
        int mine = ++runs;
        co_await sleep(std::chrono::milliseconds(100));
        res.json([&](JsonWriter& j) { j.kv("run", mine); });
    }, {.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}}));
    TestServer srv(app, kit());
    constexpr int N = 20;
    std::string out[N];
    int done = 0;
    for (int i = 0; i < N; ++i) {
        std::string req = "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
        if (i % 2) req += "If-None-Match: \"other\"\r\n";
        REQUIRE(spawn(srv.loop(), fetch(srv.port(), req + "\r\n", &out[i], &done)));
    }
    srv.loop().run_until([&] { return done == N; }, std::chrono::seconds(10));
    REQUIRE(done == N);
    CHECK(runs == 1);
    std::string etag;
    for (auto& raw : out) {
        auto r = TestServer::parse(raw);
        CHECK(r.status == 200);
        CHECK(r.body == "{\"run\":1}");
        CHECK(r.header("Content-Type") == "application/json");
        if (etag.empty()) etag = r.header("ETag");
        CHECK(r.header("ETag") == etag);
    }
    CHECK(cache.stats().fills == 1);
    CHECK(cache.stats().waits >= 1);
}
