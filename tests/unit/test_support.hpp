// Shared helpers for gust's unit tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include <gust/gust.hpp>

#include "port.hpp"

namespace gust_test {

// Every poller a loop can use on this machine.
inline constexpr gust::PollerKind kPollers[] = {gust::PollerKind::poll, gust::PollerKind::select,
                                                 gust::PollerKind::epoll};
inline const char* poller_name(gust::PollerKind k) {
    return k == gust::PollerKind::poll ? "poll" : k == gust::PollerKind::select ? "select" : "epoll";
}

// Limits small enough for tests, with the chosen poller.
inline gust::Limits test_limits(gust::PollerKind poller = gust::PollerKind::poll) {
    gust::Limits l;
    l.poller = poller;
    l.max_watches = 256;
    l.max_timers = 20000;
    l.post_queue = 1024;
    return l;
}

// The fake clock while in scope: time stands still unless the loop jumps it.
struct FakeClock {
    explicit FakeClock(int64_t start_ns = 1'000'000'000) { gust::port::fake_clock_enable(start_ns); }
    ~FakeClock() { gust::port::fake_clock_disable(); }
    void advance(gust::Duration d) { gust::port::fake_clock_advance(d.count()); }
};

// A fresh directory under /tmp ("/tmp/<prefix>-XXXXXX"), removed with its contents at scope exit.
struct TempDir {
    char path[64];
    explicit TempDir(const char* prefix = "gust-test") {
        std::snprintf(path, sizeof path, "/tmp/%s-XXXXXX", prefix);
        REQUIRE(mkdtemp(path) != nullptr);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const char* name) const { return std::string(path) + "/" + name; }
};

// A blocking TCP socket connected to 127.0.0.1:`port` whose reads give up
// after `recv_timeout_s` seconds, or -1. The connect completes from the
// listen backlog, so the loop need not run meanwhile.
inline int connect_loopback(uint16_t port, int recv_timeout_s = 10) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{recv_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// The whole file at `path`, or "" when it cannot be read.
inline std::string read_file(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

}  // namespace gust_test
