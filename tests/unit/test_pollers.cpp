// The same readiness checks run against every poller backend (poll, select,
// epoll), so the loop can switch backends without changing behaviour.
#include <doctest/doctest.h>

#include <port.hpp>

#include <sys/resource.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <string_view>

using namespace gust;
using namespace gust::port;

namespace {

struct Backend {
    const char* name;
    Poller* (*create)(size_t capacity);
};

const Backend kBackends[] = {
    {"poll", poller_poll_create},
    {"select", poller_select_create},
    {"epoll", poller_epoll_create},
};

// Owns a poller for one check and deletes it at scope exit.
struct PollerHolder {
    explicit PollerHolder(Poller* p) : poller(p) {}
    ~PollerHolder() { delete poller; }
    PollerHolder(const PollerHolder&) = delete;
    PollerHolder& operator=(const PollerHolder&) = delete;
    Poller* operator->() const { return poller; }
    Poller* poller;
};

// A connected socket pair closed at scope exit (unless closed earlier).
struct Pair {
    Pair() { REQUIRE(socket_pair(fd).ok()); }
    ~Pair() {
        port::close(fd[0]);
        port::close(fd[1]);
    }
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;
    void send(std::string_view s) const {
        auto w = write(fd[1], {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
        REQUIRE(w.ok());
    }
    int fd[2] = {-1, -1};
};

// Waits with a zero timeout; returns the events reported for `token` (0 when none)
// and how many tokens fired in total through `count`.
uint8_t events_for(Poller* p, uint32_t token, size_t* count = nullptr, int timeout_ms = 0) {
    Fired out[16];
    auto n = p->wait(timeout_ms, out);
    REQUIRE(n.ok());
    if (count) *count = *n;
    uint8_t ev = 0;
    for (size_t i = 0; i < *n; ++i)
        if (out[i].token == token) ev |= out[i].events;
    return ev;
}

}  // namespace

TEST_CASE("pollers report writable, readable, quiet and removed fds") {
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(8));
        REQUIRE(p.poller != nullptr);
        CHECK(std::string_view(p->name()) == b.name);
        Pair pair;
        int fd = pair.fd[0];

        size_t count = 99;
        CHECK(events_for(p.poller, 3, &count) == 0);  // nothing watched: returns 0 at once
        CHECK(count == 0);

        REQUIRE(p->add(fd, 3, kReadable | kWritable).ok());
        CHECK(events_for(p.poller, 3, &count) == kWritable);
        CHECK(count == 1);

        pair.send("ping");
        CHECK(events_for(p.poller, 3) == (kReadable | kWritable));

        REQUIRE(p->modify(fd, 3, kReadable).ok());
        CHECK(events_for(p.poller, 3) == kReadable);

        REQUIRE(p->modify(fd, 3, 0).ok());  // registered but quiet
        CHECK(events_for(p.poller, 3, &count) == 0);
        CHECK(count == 0);

        REQUIRE(p->modify(fd, 3, kReadable).ok());
        CHECK(events_for(p.poller, 3) == kReadable);

        p->remove(fd, 3);
        CHECK(events_for(p.poller, 3, &count) == 0);
        CHECK(count == 0);
        p->remove(fd, 3);  // removing twice is harmless

        // A quiet add (events 0) can be armed later.
        REQUIRE(p->add(fd, 5, 0).ok());
        CHECK(events_for(p.poller, 5) == 0);
        REQUIRE(p->modify(fd, 5, kWritable).ok());
        CHECK(events_for(p.poller, 5) == kWritable);
        p->remove(fd, 5);
    }
}

TEST_CASE("poller wait with a timeout sleeps about that long when nothing is ready") {
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(4));
        Pair pair;
        REQUIRE(p->add(pair.fd[0], 0, kReadable).ok());
        int64_t start = monotonic_ns();
        size_t count = 99;
        CHECK(events_for(p.poller, 0, &count, 50) == 0);
        CHECK(count == 0);
        CHECK(monotonic_ns() - start >= 40 * 1000000LL);
        p->remove(pair.fd[0], 0);
    }
}

TEST_CASE("pollers enforce capacity and reject bad tokens") {
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(4));
        Pair pairs[5];
        for (uint32_t i = 0; i < 4; ++i) REQUIRE(p->add(pairs[i].fd[0], i, kReadable).ok());
        auto full = p->add(pairs[4].fd[0], 4, kReadable);
        CHECK(full.error() == Errc::no_memory);
        CHECK(std::string_view(full.error().message).size() > 0);

        p->remove(pairs[2].fd[0], 2);
        CHECK(p->add(pairs[4].fd[0], 4, kReadable).error() == Errc::invalid_argument);  // token >= capacity
        CHECK(p->add(pairs[4].fd[0], 1, kReadable).error() == Errc::invalid_argument);  // token in use
        CHECK(p->modify(pairs[4].fd[0], 2, kReadable).error() == Errc::invalid_argument);  // not watched
        REQUIRE(p->add(pairs[4].fd[0], 2, kReadable).ok());  // the freed slot is usable again

        pairs[4].send("x");
        CHECK(events_for(p.poller, 2) == kReadable);
        for (uint32_t i = 0; i < 4; ++i) p->remove(pairs[i == 2 ? 4 : i].fd[0], i);
    }
}

TEST_CASE("pollers report a hang-up so readers see EOF") {
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(4));
        Pair pair;
        Pair quiet;
        REQUIRE(p->add(pair.fd[0], 0, kReadable).ok());
        REQUIRE(p->add(quiet.fd[0], 1, 0).ok());
        port::close(pair.fd[1]);
        pair.fd[1] = -1;
        port::close(quiet.fd[1]);
        quiet.fd[1] = -1;

        size_t count = 0;
        uint8_t ev = events_for(p.poller, 0, &count);
        CHECK((ev & kReadable) != 0);
        if (std::string_view(b.name) != "select") CHECK((ev & kError) != 0);
        CHECK(count == 1);  // the quiet fd's hang-up stays quiet
        uint8_t buf[8];
        auto r = read(pair.fd[0], buf);
        REQUIRE(r.ok());
        CHECK(*r == 0);
        p->remove(pair.fd[0], 0);
        p->remove(quiet.fd[0], 1);
    }
}

TEST_CASE("pollers handle 200 socket pairs") {
    constexpr uint32_t kPairs = 200;
    static Pair* pairs[kPairs];
    for (auto& pair : pairs) pair = new Pair();
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(kPairs));
        for (uint32_t i = 0; i < kPairs; ++i) REQUIRE(p->add(pairs[i]->fd[0], i, kReadable).ok());
        for (uint32_t i = 0; i < kPairs; i += 3) pairs[i]->send("x");
        // Remove every odd one: swap-with-last removal must keep the rest right.
        for (uint32_t i = 1; i < kPairs; i += 2) p->remove(pairs[i]->fd[0], i);

        static Fired out[kPairs];
        auto n = p->wait(0, out);
        REQUIRE(n.ok());
        bool seen[kPairs] = {};
        for (size_t k = 0; k < *n; ++k) {
            REQUIRE(out[k].token < kPairs);
            CHECK(out[k].events == kReadable);
            seen[out[k].token] = true;
        }
        size_t expected = 0;
        for (uint32_t i = 0; i < kPairs; ++i) {
            bool want = i % 3 == 0 && i % 2 == 0;
            expected += want;
            if (seen[i] != want) CHECK_MESSAGE(seen[i] == want, "token " << i);
        }
        CHECK(*n == expected);
        // Drain the data so the next backend starts from the same state.
        for (uint32_t i = 0; i < kPairs; i += 3) {
            uint8_t buf[4];
            (void)read(pairs[i]->fd[0], buf);
            pairs[i]->send("x");
        }
        for (uint32_t i = 0; i < kPairs; i += 2) p->remove(pairs[i]->fd[0], i);
        for (uint32_t i = 0; i < kPairs; i += 3) {
            uint8_t buf[4];
            (void)read(pairs[i]->fd[0], buf);
        }
    }
    for (auto& pair : pairs) delete pair;
}

namespace {
void on_alarm(int) {}
}  // namespace

TEST_CASE("poller wait returns 0 when a signal interrupts it") {
    struct sigaction sa{};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    struct sigaction old{};
    ::sigaction(SIGALRM, &sa, &old);  // no SA_RESTART: the wait sees EINTR
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(4));
        Pair pair;
        REQUIRE(p->add(pair.fd[0], 0, kReadable).ok());
        itimerval timer{};
        timer.it_value.tv_usec = 20000;
        ::setitimer(ITIMER_REAL, &timer, nullptr);
        int64_t start = monotonic_ns();
        Fired out[4];
        auto n = p->wait(5000, out);
        REQUIRE(n.ok());
        CHECK(*n == 0);
        CHECK(monotonic_ns() - start < 2000 * 1000000LL);
        p->remove(pair.fd[0], 0);
    }
    ::sigaction(SIGALRM, &old, nullptr);
}

TEST_CASE("select refuses an fd >= FD_SETSIZE; poll and epoll take it") {
    constexpr int kHighFd = FD_SETSIZE + 76;  // 1100 with glibc's 1024
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    if (saved.rlim_cur <= static_cast<rlim_t>(kHighFd)) {
        rlimit raised = saved;
        raised.rlim_cur = static_cast<rlim_t>(kHighFd) + 1;
        if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max <= static_cast<rlim_t>(kHighFd)) {
            MESSAGE("skipped: RLIMIT_NOFILE hard limit is below " << kHighFd);
            return;
        }
        if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
            MESSAGE("skipped: cannot raise RLIMIT_NOFILE");
            return;
        }
    }
    Pair pair;
    if (::dup2(pair.fd[0], kHighFd) != kHighFd) {
        MESSAGE("skipped: cannot dup2 to fd " << kHighFd);
        ::setrlimit(RLIMIT_NOFILE, &saved);
        return;
    }
    pair.send("x");
    for (const Backend& b : kBackends) {
        INFO(b.name);
        PollerHolder p(b.create(4));
        auto r = p->add(kHighFd, 0, kReadable);
        if (std::string_view(b.name) == "select") {
            CHECK(r.error() == Errc::invalid_argument);
            CHECK(std::string_view(r.error().message).find("FD_SETSIZE") != std::string_view::npos);
            CHECK(events_for(p.poller, 0) == 0);
        } else {
            REQUIRE(r.ok());
            CHECK(events_for(p.poller, 0) == kReadable);
            p->remove(kHighFd, 0);
        }
    }
    ::close(kHighFd);
    ::setrlimit(RLIMIT_NOFILE, &saved);
}
