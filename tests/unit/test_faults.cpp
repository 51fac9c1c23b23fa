// Fault injection through the port layer (port::set_fault_hook): the kernel
// failing or shortening the server's socket calls, and every server pool run
// dry in turn. Each case asserts that the server recovers and keeps serving.
#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include <gust/http.hpp>
#include <gust/when.hpp>

#include "test_support.hpp"

using namespace gust;

namespace {

Task<> hello(Request&, Response& res) {
    res.text("Hello, world!");
    co_return;
}

Task<> slow(Request&, Response& res) {
    co_await sleep(200ms);
    res.text("slept");
}

constexpr std::string_view kGet = "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
constexpr std::string_view kGetKeepAlive = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
constexpr std::string_view kSlow = "GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

// What the faults apply to: the server's side of one client connection,
// recognised by its peer port (the client's local port).
struct FaultPlan {
    uint16_t client_port = 0;  // 0: any server-side socket (never the client's own)
    int client_fd = -1;
    int listen_fd_faults = 0;    // accepts that fail with accept_errno
    int accept_errno = EMFILE;
    size_t short_write_at = SIZE_MAX;  // the first write is cut to this many bytes...
    int after_short = 0;               // ...and the next write fails with this errno once
    int read_errno_every = 0;          // every n-th read fails with read_errno
    int write_errno_every = 0;         // every n-th write fails with write_errno
    int read_errno = EINTR;
    int write_errno = EINTR;
    int reads = 0, writes = 0, injected = 0;
    bool short_done = false, after_done = false;

    bool targets(int fd) const {
        if (fd == client_fd) return false;
        auto peer = port::peer_address(fd);
        if (!peer) return false;  // not a connected socket (the wake fd, a listener)
        return client_port == 0 || peer->port() == client_port;
    }

    static int hook(void* user, port::FaultSite site, int fd, size_t* len) {
        FaultPlan& p = *static_cast<FaultPlan*>(user);
        if (site == port::FaultSite::accept) {
            if (p.listen_fd_faults > 0) {
                --p.listen_fd_faults;
                ++p.injected;
                return p.accept_errno;
            }
            return 0;
        }
        if (!p.targets(fd)) return 0;
        if (site == port::FaultSite::read) {
            if (p.read_errno_every && ++p.reads % p.read_errno_every == 0) {
                ++p.injected;
                return p.read_errno;
            }
            return 0;
        }
        if (!p.short_done && p.short_write_at != SIZE_MAX) {
            p.short_done = true;
            if (p.short_write_at < *len) *len = p.short_write_at;
            ++p.injected;
            return 0;
        }
        if (p.short_done && !p.after_done && p.after_short) {
            p.after_done = true;
            ++p.injected;
            return p.after_short;
        }
        if (p.write_errno_every && ++p.writes % p.write_errno_every == 0) {
            ++p.injected;
            return p.write_errno;
        }
        return 0;
    }
};

// The hook for one scope.
struct Faults {
    explicit Faults(FaultPlan& p) { port::set_fault_hook(&FaultPlan::hook, &p); }
    ~Faults() { port::set_fault_hook(nullptr, nullptr); }
};

struct Client {
    TcpStream stream;
    std::string got;
    bool done = false;
    Error error;
    uint16_t local_port = 0;
};

bool connect(Loop& loop, Client& c, uint16_t port) {
    auto addr = port::parse_ip("127.0.0.1", port);
    auto fd = addr ? port::tcp_connect(*addr) : Result<int>(addr.error());
    if (!fd || !c.stream.attach(loop, *fd)) return false;
    auto local = port::local_address(*fd);
    c.local_port = local ? local->port() : 0;
    return c.local_port != 0;
}

size_t count(const std::string& s, std::string_view what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

// Sends `request`, then reads until `bodies` copies of `body` arrived or the server closed.
Task<Result<void>> exchange(Client& c, std::string_view request, std::string_view body, size_t bodies) {
    auto w = co_await c.stream.write_all(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()), request.size()), 5s);
    if (!w) co_return w.error();
    uint8_t buf[1024];
    while (count(c.got, body) < bodies) {
        auto n = co_await c.stream.read(buf, 5s);
        if (!n) co_return n.error();
        if (*n == 0) break;
        c.got.append(reinterpret_cast<char*>(buf), *n);
    }
    co_return Result<void>();
}

void start(Loop& loop, Client& c, std::string_view request, std::string_view body = "Hello, world!",
           size_t bodies = 1) {
    REQUIRE(spawn(loop, exchange(c, request, body, bodies), [&c](Result<void> r) {
        c.done = true;
        c.error = r.error();
    }));
}

struct Fixture {
    Router app;
    Loop loop;
    explicit Fixture(Limits limits = gust_test::test_limits()) : loop(limits) {
        REQUIRE(app.get("/hello", hello));
        REQUIRE(app.get("/slow", slow));
    }
    http::ServerOptions options() {
        http::ServerOptions o;
        o.http = "127.0.0.1:0";
        o.max_connections = 16;
        return o;
    }
    // One GET /hello on a fresh connection, without faults: the server still serves.
    bool healthy(http::Server& srv) {
        Client c;
        if (!connect(loop, c, srv.port())) return false;
        start(loop, c, kGet);
        return loop.run_until([&] { return c.done; }, 5s) && c.error.code == Errc::ok &&
               count(c.got, "HTTP/1.1 200 OK") == 1;
    }
};

}  // namespace

TEST_CASE("faults: accept failing with EMFILE and ENFILE backs off, then serves") {
    for (int err : {EMFILE, ENFILE}) {
        CAPTURE(err);
        Fixture f;
        http::Server srv(f.loop, f.app, f.options());
        REQUIRE(srv.status());
        FaultPlan plan;
        plan.listen_fd_faults = 3;
        plan.accept_errno = err;
        Faults faults(plan);
        Client c;
        REQUIRE(connect(f.loop, c, srv.port()));
        plan.client_fd = c.stream.fd();
        TimePoint t0 = f.loop.now();
        start(f.loop, c, kGet);
        REQUIRE(f.loop.run_until([&] { return c.done; }, 5s));
        CHECK(c.error.code == Errc::ok);
        CHECK(count(c.got, "HTTP/1.1 200 OK") == 1);
        CHECK(plan.injected == 3);
        // Each failure paused accepting for 100 ms instead of spinning.
        CHECK(f.loop.now() - t0 >= 250ms);
    }
}

TEST_CASE("faults: a short write at every byte offset of a response, then EAGAIN") {
    Fixture f;
    http::Server srv(f.loop, f.app, f.options());
    REQUIRE(srv.status());
    // The whole response once, to know its length.
    Client first;
    REQUIRE(connect(f.loop, first, srv.port()));
    start(f.loop, first, kGet);
    REQUIRE(f.loop.run_until([&] { return first.done; }, 5s));
    REQUIRE(first.error.code == Errc::ok);
    const size_t length = first.got.size();
    REQUIRE(length > 100);
    const std::string body_and_tail = first.got.substr(first.got.find("\r\n\r\n"));

    int exact = 0;
    for (size_t at = 1; at < length; ++at) {
        FaultPlan plan;
        plan.short_write_at = at;
        plan.after_short = EAGAIN;
        Client c;
        REQUIRE(connect(f.loop, c, srv.port()));
        plan.client_fd = c.stream.fd();
        plan.client_port = c.local_port;
        Faults faults(plan);
        start(f.loop, c, kGet);
        REQUIRE(f.loop.run_until([&] { return c.done; }, 5s));
        CHECK(c.error.code == Errc::ok);
        CHECK(plan.injected == 2);
        // Byte for byte the same response (the Date header aside).
        if (c.got.size() == length && c.got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
            c.got.substr(c.got.find("\r\n\r\n")) == body_and_tail)
            ++exact;
    }
    CHECK(exact == int(length - 1));
    CHECK(srv.stats().connections_open == 0);
    CHECK(f.healthy(srv));
}

TEST_CASE("faults: ECONNRESET in the middle of a response closes that connection only") {
    Fixture f;
    http::Server srv(f.loop, f.app, f.options());
    REQUIRE(srv.status());
    for (int err : {ECONNRESET, EPIPE}) {
        CAPTURE(err);
        FaultPlan plan;
        plan.short_write_at = 20;
        plan.after_short = err;
        Client c;
        REQUIRE(connect(f.loop, c, srv.port()));
        plan.client_fd = c.stream.fd();
        plan.client_port = c.local_port;
        {
            Faults faults(plan);
            start(f.loop, c, kGet);
            REQUIRE(f.loop.run_until([&] { return c.done; }, 5s));
        }
        CHECK(c.got.size() == 20);  // what went out before the reset, and then the close
        CHECK(plan.injected == 2);
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 0; }, 5s));
        CHECK(f.healthy(srv));
    }
}

TEST_CASE("faults: EINTR on every other read and write changes nothing") {
    Fixture f;
    http::Server srv(f.loop, f.app, f.options());
    REQUIRE(srv.status());
    FaultPlan plan;
    plan.read_errno_every = 2;
    plan.write_errno_every = 2;
    plan.read_errno = plan.write_errno = EINTR;
    plan.listen_fd_faults = 1;
    plan.accept_errno = EINTR;
    Client c;
    REQUIRE(connect(f.loop, c, srv.port()));
    plan.client_fd = c.stream.fd();
    Faults faults(plan);
    std::string pipelined;
    for (int i = 0; i < 20; ++i) pipelined += kGetKeepAlive;
    start(f.loop, c, pipelined, "Hello, world!", 20);
    REQUIRE(f.loop.run_until([&] { return c.done; }, 5s));
    CHECK(c.error.code == Errc::ok);
    CHECK(count(c.got, "HTTP/1.1 200 OK") == 20);
    CHECK(plan.injected > 3);
}

TEST_CASE("faults: EAGAIN on reads and writes only delays") {
    Fixture f;
    http::Server srv(f.loop, f.app, f.options());
    REQUIRE(srv.status());
    FaultPlan plan;
    plan.read_errno_every = 2;
    plan.write_errno_every = 2;
    plan.read_errno = plan.write_errno = EAGAIN;
    Client c;
    REQUIRE(connect(f.loop, c, srv.port()));
    plan.client_fd = c.stream.fd();
    Faults faults(plan);
    std::string pipelined;
    for (int i = 0; i < 10; ++i) pipelined += kGetKeepAlive;
    start(f.loop, c, pipelined, "Hello, world!", 10);
    REQUIRE(f.loop.run_until([&] { return c.done; }, 10s));
    CHECK(c.error.code == Errc::ok);
    CHECK(count(c.got, "HTTP/1.1 200 OK") == 10);
    CHECK(plan.injected > 2);
}

TEST_CASE("faults: every server pool run dry in turn answers 503, then recovers") {
    SUBCASE("connections") {
        Fixture f;
        http::ServerOptions o = f.options();
        o.max_connections = 1;
        http::Server srv(f.loop, f.app, o);
        REQUIRE(srv.status());
        Client a, b;
        REQUIRE(connect(f.loop, a, srv.port()));
        start(f.loop, a, kSlow, "slept");
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 1; }, 5s));
        REQUIRE(connect(f.loop, b, srv.port()));
        start(f.loop, b, kGet);
        REQUIRE(f.loop.run_until([&] { return a.done && b.done; }, 5s));
        CHECK(count(a.got, "slept") == 1);
        CHECK(b.got.rfind("HTTP/1.1 503 ", 0) == 0);
        CHECK(srv.stats().connections_refused == 1);
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 0; }, 5s));
        CHECK(f.healthy(srv));
    }
    SUBCASE("buffers") {
        Fixture f;
        http::ServerOptions o = f.options();
        o.buffers = 2;  // the slow request's input buffer and one more
        http::Server srv(f.loop, f.app, o);
        REQUIRE(srv.status());
        Client a, b;
        REQUIRE(connect(f.loop, a, srv.port()));
        start(f.loop, a, kSlow, "slept");
        REQUIRE(f.loop.run_until([&] { return srv.stats().buffers_in_use == 1; }, 5s));
        REQUIRE(connect(f.loop, b, srv.port()));
        start(f.loop, b, kGet);
        REQUIRE(f.loop.run_until([&] { return a.done && b.done; }, 5s));
        // b got an input buffer but found no output buffer; a, later, finds one.
        CHECK_MESSAGE(b.got.rfind("HTTP/1.1 503 ", 0) == 0, b.got);
        CHECK(b.got.find("Retry-After: 1") != std::string::npos);
        CHECK_MESSAGE(count(a.got, "slept") == 1, a.got);
        CHECK(srv.stats().buffers_in_use == 0);
        CHECK(f.healthy(srv));
    }
    SUBCASE("coroutine frames") {
        Limits limits = gust_test::test_limits();
        for (auto& n : limits.frame_counts) n = 64;
        Fixture f(limits);
        http::Server srv(f.loop, f.app, f.options());
        REQUIRE(srv.status());
        Client a, b;
        REQUIRE(connect(f.loop, a, srv.port()));
        start(f.loop, a, kSlow, "slept");
        REQUIRE(f.loop.run_until([&] { return srv.stats().requests == 1; }, 5s));
        // The largest class the request in flight uses: 4 KiB with -O2 on
        // x86-64, 2 KiB with -Os on 32-bit boards. Taking every frame left in
        // it (and, through spilling, in the larger ones) leaves one request
        // in flight; the small classes stay free for a's own completion.
        int big = 0;
        for (int i = 0; i < kFrameClasses; ++i)
            if (FramePool::local().stats(i).in_use > 0) big = i;
        CAPTURE(big);
        REQUIRE(big >= 3);
        // b's client coroutine (on this loop, from this pool) starts first.
        REQUIRE(connect(f.loop, b, srv.port()));
        start(f.loop, b, kGet);
        void* taken[3 * 64];
        int n_taken = 0;
        while (n_taken < 3 * 64) {
            void* p = FramePool::local().allocate(frame_class_size(big));
            if (!p) break;
            taken[n_taken++] = p;
        }
        REQUIRE(n_taken < 3 * 64);
        uint64_t refused_before = FramePool::local().stats(big).refused;
        REQUIRE(f.loop.run_until([&] { return b.done; }, 5s));
        CHECK(b.got.rfind("HTTP/1.1 503 ", 0) == 0);
        CHECK(FramePool::local().stats(big).refused > refused_before);
        for (int i = 0; i < n_taken; ++i) FramePool::local().release(taken[i], frame_class_size(big));
        REQUIRE(f.loop.run_until([&] { return a.done; }, 5s));
        CHECK(count(a.got, "slept") == 1);
        CHECK(f.healthy(srv));
    }
    SUBCASE("timers") {
        Limits limits = gust_test::test_limits();
        limits.max_timers = 2;  // the slow request's sleep and one connection timer
        Fixture f(limits);
        http::Server srv(f.loop, f.app, f.options());
        REQUIRE(srv.status());
        Client a;
        REQUIRE(connect(f.loop, a, srv.port()));
        start(f.loop, a, kSlow, "slept");
        REQUIRE(f.loop.run_until([&] { return a.done; }, 5s));
        // Whatever ran dry (the idle timer, the sleep, an I/O timeout) gave an
        // answer or a close, never a hang; once the timers are back, all is well.
        CHECK((count(a.got, "slept") == 1 || a.got.rfind("HTTP/1.1 5", 0) == 0 || a.got.empty()));
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 0; }, 5s));
        CHECK(f.healthy(srv));
    }
    SUBCASE("fd watches") {
        Limits limits = gust_test::test_limits();
        // The wake fd, the listener, client a and its server side, client b: b's server side finds none.
        limits.max_watches = 5;
        Fixture f(limits);
        http::Server srv(f.loop, f.app, f.options());
        REQUIRE(srv.status());
        Client a, b;
        REQUIRE(connect(f.loop, a, srv.port()));
        start(f.loop, a, kSlow, "slept");
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 1; }, 5s));
        REQUIRE(connect(f.loop, b, srv.port()));
        start(f.loop, b, kGet);
        REQUIRE(f.loop.run_until([&] { return a.done && b.done; }, 5s));
        CHECK(count(a.got, "slept") == 1);
        CHECK(b.got.rfind("HTTP/1.1 503 ", 0) == 0);
        CHECK(srv.stats().connections_refused >= 1);
        a.stream.close();
        b.stream.close();
        REQUIRE(f.loop.run_until([&] { return srv.stats().connections_open == 0; }, 5s));
        CHECK(f.healthy(srv));
    }
}
