// The HTTP client against gust's own server and a scripted raw server, all
// on one loop over real 127.0.0.1 sockets: framings, 1xx, bodiless answers,
// truncation and malformed heads, redirects, timeouts and cancellation, the
// pool (reuse, caps, queue, stale connections), streaming both ways.
#include <doctest/doctest.h>

#include <string>

#include <gust/client.hpp>
#include <gust/http.hpp>
#include <gust/when.hpp>

#include "test_client_support.hpp"

using namespace gust;
using namespace gust_test;
using http::ClientOptions;
using http::FetchOptions;

namespace {

Limits limits() {
    Limits l = test_limits();
    l.max_connections = 64;
    l.max_watches = 1024;
    return l;
}

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

Task<> echo(Request& req, Response& res) {
    if (req.content_length() >= 0) res.content_length(uint64_t(req.content_length()));
    uint8_t chunk[512];
    for (;;) {
        auto n = co_await req.read(chunk);
        if (!n || *n == 0) break;
        if (!co_await res.write(std::span<const uint8_t>(chunk, *n))) co_return;
    }
    (void)co_await res.finish();
}

// Answers "<METHOD> <body>" with the Authorization and Content-Type it saw.
Task<> method_echo(Request& req, Response& res) {
    auto body = co_await req.body();
    std::string out(req.method_name());
    out += " ";
    if (body) out += *body;
    out += " auth=" + std::string(req.header("authorization"));
    out += " type=" + std::string(req.header("content-type"));
    res.text(out);
}

Task<> slow(Request&, Response& res) {
    (void)co_await sleep(5ms);
    res.text("slow");
}

// Two servers on one loop (two origins), with the routes the tests use.
struct Rig {
    Loop loop{limits()};
    Router app;
    http::Server* a = nullptr;
    http::Server* b = nullptr;
    explicit Rig(const char* addr = "127.0.0.1:0") {
        REQUIRE(app.get("/hello", hello));
        REQUIRE(app.post("/echo", echo));
        REQUIRE(app.put("/echo", echo));
        REQUIRE(app.get("/slow", slow));
        REQUIRE(app.add(http::Method::get, "/m", method_echo));
        REQUIRE(app.add(http::Method::post, "/m", method_echo));
        REQUIRE(app.add(http::Method::put, "/m", method_echo));
        REQUIRE(app.add(http::Method::head, "/m", method_echo));
        http::ServerOptions o;
        o.http = addr;
        a = new http::Server(loop, app, o);
        b = new http::Server(loop, app, o);
        REQUIRE(a->status());
        REQUIRE(b->status());
    }
    ~Rig() {
        delete a;
        delete b;
    }
    std::string url(std::string_view path, http::Server* s = nullptr) const {
        return gust_test::url((s ? s : a)->port(), path);
    }
};

std::string head_of(const std::string& request) { return request.substr(0, request.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("client: GET and POST against gust's server; 100 sequential fetches share one connection") {
    Rig rig;
    http::Client client(rig.loop);
    REQUIRE(client.status());
    auto r = fetch(rig.loop, client, rig.url("/hello"));
    REQUIRE(r);
    CHECK(r->status() == 200);
    CHECK(r->reason() == "OK");
    CHECK(r->body() == "Hello, world!");
    CHECK(r->header("content-type") == "text/plain; charset=utf-8");
    CHECK(r->url() == rig.url("/hello"));
    CHECK_FALSE(r->reused_connection());

    std::string body(5000, 'x');
    auto p = fetch(rig.loop, client, rig.url("/echo"), {.method = http::Method::post, .body = body});
    REQUIRE(p);
    CHECK(p->status() == 200);
    CHECK(p->body() == body);
    CHECK(p->reused_connection());

    for (int i = 0; i < 98; ++i) {
        auto q = fetch(rig.loop, client, rig.url("/hello"));
        REQUIRE(q);
        CHECK(q->body() == "Hello, world!");
    }
    CHECK(rig.a->stats().connections_accepted == 1);
    CHECK(client.stats().connections_opened == 1);
    CHECK(client.stats().connections_reused == 99);
    CHECK(client.stats().requests == 100);
    CHECK(client.stats().connections_idle == 1);
}

TEST_CASE("client: bodies by Content-Length, chunked with extensions and trailers, and until close") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string& req) {
        RawReply r;
        if (req.find("GET /cl ") == 0) r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        else if (req.find("GET /chunked ") == 0)
            r.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5;name=value\r\nhello\r\n1;x\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\nX-Two: 2\r\n\r\n";
        else if (req.find("GET /close ") == 0) {
            r.bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
            r.close = true;
        } else if (req.find("GET /http10 ") == 0) {
            r.bytes = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        }
        return r;
    });
    http::Client client(loop);
    for (int round = 0; round < 2; ++round) {  // on a fresh, then on a pooled connection
        auto r = fetch(loop, client, url(srv.port(), "/cl"));
        REQUIRE(r);
        CHECK(r->body() == "hello");
        auto c = fetch(loop, client, url(srv.port(), "/chunked"));
        REQUIRE(c);
        CHECK(c->body() == "hello, world");
        CHECK(c->body_size() == 12);
    }
    CHECK(srv.connections() == 1);
    auto e = fetch(loop, client, url(srv.port(), "/close"));
    REQUIRE(e);
    CHECK(e->body() == "until the end");
    CHECK(client.stats().connections_open == 0);  // a close-delimited body ends the connection
    auto old = fetch(loop, client, url(srv.port(), "/http10"));
    REQUIRE(old);
    CHECK(old->version() == http::Version::http10);
    CHECK(old->body() == "ok");
    CHECK(client.stats().connections_open == 0);  // HTTP/1.0 without keep-alive

    // The same, streamed through on_chunk.
    std::string got;
    FetchOptions o;
    o.on_chunk = [&got](std::span<const uint8_t> d) {
        got.append(text(d));
        return Result<void>();
    };
    auto s = fetch(loop, client, url(srv.port(), "/chunked"), std::move(o));
    REQUIRE(s);
    CHECK(s->body().empty());
    CHECK(s->body_size() == 12);
    CHECK(got == "hello, world");
}

TEST_CASE("client: 1xx responses are skipped; 204, 304 and HEAD have no body and keep the connection") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string& req) {
        RawReply r;
        if (req.find("GET /interim ") == 0)
            r.bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
        else if (req.find("GET /204 ") == 0) r.bytes = "HTTP/1.1 204 No Content\r\n\r\n";
        else if (req.find("GET /304 ") == 0) r.bytes = "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n";
        else if (req.find("HEAD /head ") == 0) r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
        else if (req.find("GET /101 ") == 0) r.bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n";
        return r;
    });
    http::Client client(loop);
    auto i = fetch(loop, client, url(srv.port(), "/interim"));
    REQUIRE(i);
    CHECK(i->status() == 200);
    CHECK(i->body() == "body");
    CHECK_FALSE(i->header("link").data());
    auto n = fetch(loop, client, url(srv.port(), "/204"));
    REQUIRE(n);
    CHECK(n->status() == 204);
    CHECK(n->body().empty());
    auto m = fetch(loop, client, url(srv.port(), "/304"));
    REQUIRE(m);
    CHECK(m->status() == 304);
    CHECK(m->body().empty());
    auto h = fetch(loop, client, url(srv.port(), "/head"), {.method = http::Method::head});
    REQUIRE(h);
    CHECK(h->status() == 200);
    CHECK(h->header("content-length") == "1234");
    CHECK(h->body_size() == 0);
    CHECK(srv.connections() == 1);
    CHECK(client.stats().connections_reused == 3);
    auto u = fetch(loop, client, url(srv.port(), "/101"));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == Errc::protocol);
}

TEST_CASE("client: truncated bodies, malformed and oversized heads are errors") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string& req) {
        RawReply r;
        r.close = true;
        if (req.find("GET /short ") == 0) r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nonly5";
        else if (req.find("GET /short-chunked ") == 0)
            r.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        else if (req.find("GET /bad-status ") == 0) r.bytes = "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n";
        else if (req.find("GET /garbage ") == 0) r.bytes = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
        else if (req.find("GET /big-header ") == 0)
            r.bytes = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') + "\r\nContent-Length: 0\r\n\r\n";
        else if (req.find("GET /bad-chunk ") == 0)
            r.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        else if (req.find("GET /nothing ") == 0) r.bytes = "";
        else if (req.find("GET /big-body ") == 0)
            r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b');
        return r;
    });
    http::Client client(loop);
    struct Row {
        const char* path;
        Errc code;
    };
    const Row rows[] = {
        {"/short", Errc::protocol},   {"/short-chunked", Errc::protocol}, {"/bad-status", Errc::protocol},
        {"/garbage", Errc::protocol}, {"/big-header", Errc::too_large},   {"/bad-chunk", Errc::protocol},
        {"/nothing", Errc::closed},   {"/big-body", Errc::too_large},
    };
    for (const Row& row : rows) {
        CAPTURE(row.path);
        auto r = fetch(loop, client, url(srv.port(), row.path));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == row.code);
    }
    CHECK(std::string(fetch(loop, client, url(srv.port(), "/short")).error().message) ==
          "client: the connection closed before the response body was complete");
    // The same big body streams fine, and max_body bounds a stream too.
    uint64_t seen = 0;
    FetchOptions o;
    o.on_chunk = [&seen](std::span<const uint8_t> d) {
        seen += d.size();
        return Result<void>();
    };
    auto big = fetch(loop, client, url(srv.port(), "/big-body"), std::move(o));
    REQUIRE(big);
    CHECK(seen == 100000);
    FetchOptions capped;
    capped.on_chunk = [](std::span<const uint8_t>) { return Result<void>(); };
    capped.max_body = 1000;
    auto over = fetch(loop, client, url(srv.port(), "/big-body"), std::move(capped));
    REQUIRE_FALSE(over);
    CHECK(over.error().code == Errc::too_large);
    CHECK(client.stats().connections_open == 0);
}

TEST_CASE("client: redirects follow each code's method rule, resolve relative Locations and stop at the limit") {
    Loop loop(limits());
    RawServer other(loop, [](const std::string& req) {
        RawReply r;
        std::string body = head_of(req);
        r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        return r;
    });
    const uint16_t other_port = other.port();
    RawServer srv(loop, [other_port](const std::string& req) {
        RawReply r;
        auto redirect = [&](int code, const std::string& location) {
            r.bytes = "HTTP/1.1 " + std::to_string(code) + " Redirect\r\nLocation: " + location +
                      "\r\nContent-Length: 9\r\n\r\n";
            if (req.rfind("HEAD ", 0) != 0) r.bytes += "redirect!";
        };
        std::string line = req.substr(0, req.find("\r\n"));
        std::string path = line.substr(line.find(' ') + 1);
        path = path.substr(0, path.find(' '));
        if (path.rfind("/r/", 0) == 0 && path.rfind("/r/final", 0) != 0) {
            redirect(std::stoi(path.substr(3, 3)), "../final?from=" + path.substr(3, 3));
        } else if (path == "/loop") {
            redirect(302, "/loop");
        } else if (path == "/away") {
            redirect(307, "http://127.0.0.1:" + std::to_string(other_port) + "/there");
        } else if (path == "/no-location") {
            r.bytes = "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n";
        } else {
            std::string body = req;
            r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
            if (req.rfind("HEAD ", 0) != 0) r.bytes += body;
        }
        return r;
    });
    http::Client client(loop);
    struct Row {
        int code;
        http::Method method;
        const char* want_method;
        bool body_kept;
    };
    const Row rows[] = {
        {301, http::Method::post, "GET", false}, {302, http::Method::post, "GET", false},
        {303, http::Method::post, "GET", false}, {307, http::Method::post, "POST", true},
        {308, http::Method::post, "POST", true}, {301, http::Method::put, "PUT", true},
        {303, http::Method::put, "GET", false},  {303, http::Method::head, "HEAD", true},
        {302, http::Method::get, "GET", true},
    };
    const http::Header type[] = {{"Content-Type", "text/plain"}};
    for (const Row& row : rows) {
        CAPTURE(row.code);
        CAPTURE(http::method_token(row.method));
        std::string from = url(srv.port(), "/r/" + std::to_string(row.code) + "/x");
        auto r = fetch(loop, client, from, {.method = row.method, .headers = type, .body = "payload"});
        REQUIRE(r);
        CHECK(r->status() == 200);
        CHECK(r->redirects() == 1);
        CHECK(r->url() == url(srv.port(), "/r/final?from=" + std::to_string(row.code)));
        const std::string& seen = srv.requests().back();
        CHECK(seen.rfind(std::string(row.want_method) + " /r/final?from=", 0) == 0);
        CHECK((seen.find("payload") != std::string::npos) == row.body_kept);
        CHECK((seen.find("Content-Type: text/plain") != std::string::npos) == row.body_kept);
    }
    // The redirect responses' bodies were read and dropped: one connection throughout.
    CHECK(srv.connections() == 1);

    auto loop_r = fetch(loop, client, url(srv.port(), "/loop"));
    REQUIRE_FALSE(loop_r);
    CHECK(std::string(loop_r.error().message) == "client: too many redirects");
    size_t before = srv.requests().size();
    auto limited = fetch(loop, client, url(srv.port(), "/loop"), {.max_redirects = 2});
    REQUIRE_FALSE(limited);
    CHECK(srv.requests().size() - before == 3);
    auto unfollowed = fetch(loop, client, url(srv.port(), "/loop"), {.max_redirects = 0});
    REQUIRE(unfollowed);
    CHECK(unfollowed->status() == 302);
    CHECK(unfollowed->header("location") == "/loop");
    CHECK(unfollowed->body() == "redirect!");
    auto no_loc = fetch(loop, client, url(srv.port(), "/no-location"));
    REQUIRE(no_loc);
    CHECK(no_loc->status() == 302);

    // Across origins, credentials stay behind; the method and body of a 307 go along.
    const http::Header creds[] = {{"Authorization", "Bearer secret"}, {"Cookie", "a=b"}, {"X-Keep", "1"}};
    auto away = fetch(loop, client, url(srv.port(), "/away"),
                      {.method = http::Method::post, .headers = creds, .body = "data"});
    REQUIRE(away);
    CHECK(away->url() == url(other.port(), "/there"));
    const std::string& there = other.requests().back();
    CHECK(there.rfind("POST /there HTTP/1.1\r\n", 0) == 0);
    CHECK(there.find("Authorization") == std::string::npos);
    CHECK(there.find("Cookie") == std::string::npos);
    CHECK(there.find("X-Keep: 1") != std::string::npos);
    CHECK(there.find("Host: 127.0.0.1:" + std::to_string(other.port())) != std::string::npos);
    CHECK(srv.requests().back().find("Authorization: Bearer secret") != std::string::npos);
}

TEST_CASE("client: a stalled server hits the idle and the request timeouts; refused connections are reported") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string& req) {
        RawReply r;
        if (req.find("GET /hang ") == 0) r.hang = true;
        else if (req.find("GET /drip ") == 0) {
            r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";  // then nothing
        }
        return r;
    });
    http::Client client(loop);
    TimePoint t0 = loop.now();
    auto idle = fetch(loop, client, url(srv.port(), "/hang"), {.idle_timeout = 200ms});
    REQUIRE_FALSE(idle);
    CHECK(idle.error().code == Errc::timeout);
    CHECK(std::string(idle.error().message) == "client: the server sent nothing within idle_timeout");
    CHECK(loop.now() - t0 >= 200ms);
    CHECK(loop.now() - t0 < 5s);
    auto whole = fetch(loop, client, url(srv.port(), "/drip"), {.request_timeout = 150ms});
    REQUIRE_FALSE(whole);
    CHECK(whole.error().code == Errc::timeout);
    CHECK(std::string(whole.error().message) == "client: request timed out");
    CHECK(client.stats().connections_open == 0);

    // A port nobody listens on: take one, then close it.
    auto a = port::parse_address("127.0.0.1:0");
    auto lfd = port::tcp_listen(*a, 1);
    REQUIRE(lfd);
    uint16_t dead = port::local_address(*lfd)->port();
    port::close(*lfd);
    auto refused = fetch(loop, client, url(dead, "/"));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::refused);
    CHECK(std::string(refused.error().message) == "client: connection refused");
    auto bad = fetch(loop, client, "ftp://127.0.0.1/");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::not_supported);
    auto nohost = fetch(loop, client, "http://no-such-host.invalid./");
    REQUIRE_FALSE(nohost);
}

TEST_CASE("client: cancelling a fetch with with_timeout closes its connection and frees its slot") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string& req) {
        RawReply r;
        if (req.find("GET /hang ") == 0) r.hang = true;
        else r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        return r;
    });
    ClientOptions co;
    co.max_connections = 1;
    http::Client client(loop, co);
    auto cut = [&]() -> Task<Result<http::ClientResponse>> {
        co_return co_await with_timeout(100ms, client.fetch(url(srv.port(), "/hang")));
    };
    auto r = await_on(loop, cut());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::timeout);
    CHECK(client.stats().connections_open == 0);
    CHECK(client.stats().buffers_in_use == 0);
    REQUIRE(loop.run_until([&] { return srv.open() == 0; }, 5s));  // the server saw the close
    // The single slot is free again.
    auto ok = fetch(loop, client, url(srv.port(), "/ok"));
    REQUIRE(ok);
    CHECK(ok->body() == "ok");
}

TEST_CASE("client: caps per origin and in total, a FIFO queue, and 200 concurrent fetches") {
    Rig rig;
    ClientOptions co;
    co.max_connections = 12;
    co.max_per_origin = 8;
    co.queue = 300;
    co.buffers = 24;
    http::Client client(rig.loop, co);
    constexpr int kFetches = 200;
    int done = 0, good = 0;
    std::string a = rig.url("/slow"), b = rig.url("/slow", rig.b);
    for (int i = 0; i < kFetches; ++i) {
        REQUIRE(client.fetch(i % 2 ? a : b).then([&](Result<http::ClientResponse> r) {
            ++done;
            good += r && r->status() == 200 && r->body() == "slow";
        }));
    }
    REQUIRE(rig.loop.run_until([&] { return done == kFetches; }, 30s));
    CHECK(good == kFetches);
    http::ClientStats st = client.stats();
    CHECK(st.per_origin_high_water <= 8);
    CHECK(st.connections_high_water <= 12);
    CHECK(st.connections_high_water >= 10);  // both origins were busy at once
    CHECK(st.waiting_high_water > 0);
    CHECK(st.waiting == 0);
    CHECK(rig.a->stats().connections_high_water <= 8);
    CHECK(rig.b->stats().connections_high_water <= 8);
    CHECK(rig.a->stats().connections_accepted + rig.b->stats().connections_accepted == st.connections_opened);
    CHECK(st.buffers_in_use == 0);

    // A full queue refuses at once.
    ClientOptions tiny;
    tiny.max_connections = 1;
    tiny.queue = 1;
    http::Client small(rig.loop, tiny);
    int finished = 0, refused = 0;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(small.fetch(a).then([&](Result<http::ClientResponse> r) {
            ++finished;
            refused += !r && r.error().code == Errc::no_memory;
        }));
    }
    REQUIRE(rig.loop.run_until([&] { return finished == 3; }, 10s));
    CHECK(refused == 1);
    CHECK(small.stats().queue_refused == 1);
}

TEST_CASE("client: a pooled connection the server closed is noticed, and a stale one is retried") {
    Loop loop(limits());
    int n = 0;
    RawServer srv(loop, [&n](const std::string&) {
        RawReply r;
        r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + std::to_string(n++ % 10);
        r.close = true;  // without saying Connection: close
        return r;
    });
    http::Client client(loop);
    auto r1 = fetch(loop, client, url(srv.port(), "/"));
    REQUIRE(r1);
    // The server's FIN arrives while the connection idles: the pool drops it.
    REQUIRE(loop.run_until([&] { return client.stats().connections_open == 0; }, 5s));
    auto r2 = fetch(loop, client, url(srv.port(), "/"));
    REQUIRE(r2);
    CHECK_FALSE(r2->reused_connection());
    CHECK(client.stats().retries == 0);

    // Back to back in one coroutine, the second fetch takes the pooled connection
    // before the loop has seen the server's FIN: the GET goes again on a new one.
    auto twice = [&]() -> Task<Result<std::string>> {
        auto a = co_await client.fetch(url(srv.port(), "/"));
        auto b = co_await client.fetch(url(srv.port(), "/"));
        if (!a || !b) co_return Error(Errc::io, "a fetch failed");
        co_return std::string(a->body()) + std::string(b->body());
    };
    REQUIRE(loop.run_until([&] { return client.stats().connections_open == 0; }, 5s));
    auto r3 = await_on(loop, twice());
    REQUIRE(r3);
    CHECK(*r3 == "23");
    CHECK(client.stats().retries == 1);
    // A POST is not repeated: it might have been processed.
    auto post_twice = [&]() -> Task<Result<void>> {
        auto a = co_await client.fetch(url(srv.port(), "/"));
        auto b = co_await client.fetch(url(srv.port(), "/"), {.method = http::Method::post, .body = "x"});
        if (!a) co_return a.error();
        if (!b) co_return b.error();
        co_return Result<void>();
    };
    REQUIRE(loop.run_until([&] { return client.stats().connections_open == 0; }, 5s));
    auto r4 = await_on(loop, post_twice());
    CHECK_FALSE(r4);
    CHECK(client.stats().retries == 1);
}

TEST_CASE("client: request bodies from a producer, chunked or with a length, and the echo streamed back") {
    Rig rig;
    http::Client client(rig.loop);
    for (int64_t length : {int64_t(-1), int64_t(100000)}) {
        CAPTURE(length);
        size_t produced = 0;
        FetchOptions o;
        o.method = http::Method::put;
        o.body_length = length;
        o.producer = [&produced](std::span<uint8_t> out) -> Task<Result<size_t>> {
            size_t n = std::min(out.size(), size_t(100000) - produced);
            n = std::min(n, size_t(7000));
            for (size_t i = 0; i < n; ++i) out[i] = uint8_t('a' + (produced + i) % 26);
            produced += n;
            co_return n;
        };
        size_t got = 0;
        bool in_order = true;
        o.on_chunk = [&got, &in_order](std::span<const uint8_t> d) {
            for (size_t i = 0; i < d.size(); ++i) in_order = in_order && d[i] == uint8_t('a' + (got + i) % 26);
            got += d.size();
            return Result<void>();
        };
        auto r = fetch(rig.loop, client, rig.url("/echo"), std::move(o));
        REQUIRE(r);
        CHECK(r->status() == 200);
        CHECK(got == 100000);
        CHECK(in_order);
        CHECK(r->body_size() == 100000);
    }
    // A producer that lies about its length fails the fetch and the connection.
    FetchOptions liar;
    liar.method = http::Method::post;
    liar.body_length = 10;
    liar.producer = [](std::span<uint8_t> out) -> Task<Result<size_t>> {
        out[0] = 'x';
        co_return size_t(1);
    };
    auto bad = fetch(rig.loop, client, rig.url("/echo"), std::move(liar));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::invalid_argument);
    // A sink's error aborts the fetch.
    FetchOptions refuse;
    refuse.on_chunk = [](std::span<const uint8_t>) { return Result<void>(Error(Errc::io, "disk full")); };
    auto aborted = fetch(rig.loop, client, rig.url("/hello"), std::move(refuse));
    REQUIRE_FALSE(aborted);
    CHECK(std::string(aborted.error().message) == "disk full");
}

TEST_CASE("client: when_all runs fetches concurrently; then() delivers to a callback") {
    Rig rig;
    http::Client client(rig.loop);
    auto both = [&]() -> Task<Result<std::string>> {
        auto [x, y] = co_await when_all(client.fetch(rig.url("/hello")), client.fetch(rig.url("/slow", rig.b)));
        if (!x || !y) co_return Error(Errc::io, "a fetch failed");
        co_return std::string(x->body()) + "+" + std::string(y->body());
    };
    auto r = await_on(rig.loop, both());
    REQUIRE(r);
    CHECK(*r == "Hello, world!+slow");
    std::string got;
    const std::string u = rig.url("/hello");  // the fetch starts later: the URL must outlive it
    REQUIRE(client.fetch(u).then([&got](Result<http::ClientResponse> res) {
        got = res ? std::string(res->body()) : std::string("error: ") + res.error().message;
    }));
    REQUIRE(rig.loop.run_until([&] { return !got.empty(); }, 5s));
    CHECK(got == "Hello, world!");
}

TEST_CASE("client: request headers are validated and the client's own framing headers win") {
    Loop loop(limits());
    RawServer srv(loop, [](const std::string&) {
        RawReply r;
        r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        return r;
    });
    http::Client client(loop);
    const http::Header injected[] = {{"X-Evil", "a\r\nInjected: yes"}};
    auto bad = fetch(loop, client, url(srv.port(), "/"), {.headers = injected});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::invalid_argument);
    const http::Header mine[] = {{"Content-Length", "999"}, {"User-Agent", "probe/1"}, {"Accept", "*/*"}};
    auto r = fetch(loop, client, url(srv.port(), "/p?q=1"), {.method = http::Method::post, .headers = mine, .body = "abc"});
    REQUIRE(r);
    const std::string& req = srv.requests().back();
    CHECK(req.rfind("POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:", 0) == 0);
    CHECK(req.find("Content-Length: 3\r\n") != std::string::npos);
    CHECK(req.find("999") == std::string::npos);
    CHECK(req.find("User-Agent: probe/1\r\n") != std::string::npos);
    CHECK(req.find("User-Agent: gust") == std::string::npos);
    CHECK(req.substr(req.size() - 3) == "abc");
    auto custom = fetch(loop, client, url(srv.port(), "/"), {.method_name = "PROPFIND"});
    REQUIRE(custom);
    CHECK(srv.requests().back().rfind("PROPFIND / HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("client and server over IPv6 loopback ([::1])") {
    auto probe = port::parse_address("[::1]:0");
    REQUIRE(probe);
    auto fd = port::tcp_listen(*probe, 1);
    if (!fd) {
        MESSAGE("no IPv6 loopback here: skipped");
        return;
    }
    port::close(*fd);
    Rig rig("[::1]:0");
    http::Client client(rig.loop);
    std::string u = "http://[::1]:" + std::to_string(rig.a->port()) + "/hello";
    auto r = fetch(rig.loop, client, u);
    REQUIRE(r);
    CHECK(r->body() == "Hello, world!");
    CHECK(r->url() == u);
}
