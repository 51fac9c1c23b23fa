// Tests of the POSIX/Linux port against the real kernel: real sockets on
// 127.0.0.1 (and ::1 when present) with ephemeral ports, real /proc files.
#include <doctest/doctest.h>

#include <port.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

using namespace gust;
using namespace gust::port;

namespace {

std::span<const uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// True when `fd` becomes ready for `events` (POLLIN/POLLOUT) within `ms`.
bool ready_within(int fd, short events, int ms) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, ms) == 1;
}

Address must_parse(std::string_view text, int default_port = -1) {
    auto a = parse_address(text, default_port);
    REQUIRE_MESSAGE(a.ok(), text);
    return *a;
}

// Formats an address into a std::string_view backed by `buf`.
std::string_view text_of(const Address& a, char (&buf)[64]) { return {buf, format_address(a, buf)}; }

// Accepts on a non-blocking listener, waiting up to a second for the connection.
int accept_within(int listen_fd, Address* peer) {
    REQUIRE(ready_within(listen_fd, POLLIN, 1000));
    auto fd = tcp_accept(listen_fd, peer);
    REQUIRE(fd.ok());
    return *fd;
}

}  // namespace

TEST_CASE("addresses round-trip through parse and format") {
    const char* good[] = {"1.2.3.4:80", "0.0.0.0:8080", "127.0.0.1:0", "255.255.255.255:65535",
                          "[::1]:80", "[2001:db8::1]:443", "[::]:0", "[fe80::1:2:3:4]:8080"};
    for (const char* text : good) {
        INFO(text);
        Address a = must_parse(text);
        char buf[64];
        CHECK(text_of(a, buf) == std::string_view(text));
        CHECK(a.is_ipv6() == (text[0] == '['));
    }

    Address v4 = must_parse("10.0.0.1", 80);
    CHECK(v4.port() == 80);
    CHECK_FALSE(v4.is_ipv6());
    Address v6 = must_parse("::1", 443);
    CHECK(v6.is_ipv6());
    char buf[64];
    CHECK(text_of(v6, buf) == "[::1]:443");
    CHECK(text_of(must_parse("[::1]", 8), buf) == "[::1]:8");
    v6.set_port(9);
    CHECK(text_of(v6, buf) == "[::1]:9");
    CHECK(format_ip(v6, buf) == 3);
    CHECK(std::string_view(buf) == "::1");

    auto ip = parse_ip("192.168.1.1", 53);
    REQUIRE(ip.ok());
    CHECK(text_of(*ip, buf) == "192.168.1.1:53");
    CHECK_FALSE(parse_ip("[::1]", 1).ok());

    // Too small a buffer gives 0 and never overflows.
    char small[8];
    CHECK(format_address(must_parse("1.2.3.4:80"), small) == 0);
    CHECK(format_address(Address{}, buf) == 0);
}

TEST_CASE("bad addresses are rejected") {
    const char* bad[] = {"", "1.2.3.4:99999", "[::1", "abc:80", "1.2.3.4:", "1.2.3.4", ":80",
                         "[1.2.3.4]:80", "1.2.3.4:80x", "[::1]80", "1.2.3:80", "1.2.3.4:-1", "[::1]:", "[]:80",
                         "1.2.3.4:123456", "localhost:80"};
    for (const char* text : bad) {
        INFO(text);
        auto a = parse_address(text);
        CHECK_FALSE(a.ok());
        CHECK(a.error() == Errc::invalid_argument);
    }
    CHECK_FALSE(parse_address("1.2.3.4", 70000).ok());
}

TEST_CASE("tcp on 127.0.0.1: listen, connect, accept, read, write, EOF") {
    auto lfd = tcp_listen(must_parse("127.0.0.1:0"), 16);
    REQUIRE(lfd.ok());
    auto bound = local_address(*lfd);
    REQUIRE(bound.ok());
    CHECK(bound->port() != 0);
    CHECK(tcp_accept(*lfd, nullptr).error() == Errc::again);  // nothing pending yet

    auto cfd = tcp_connect(*bound);
    REQUIRE(cfd.ok());
    REQUIRE(ready_within(*cfd, POLLOUT, 1000));
    CHECK(tcp_connect_result(*cfd).ok());
    CHECK(tcp_set_nodelay(*cfd, true).ok());

    Address peer;
    int sfd = accept_within(*lfd, &peer);
    auto client_local = local_address(*cfd);
    REQUIRE(client_local.ok());
    CHECK(peer.port() == client_local->port());
    auto server_peer = peer_address(sfd);
    REQUIRE(server_peer.ok());
    CHECK(server_peer->port() == client_local->port());

    // Accepted sockets are non-blocking and close-on-exec.
    CHECK((::fcntl(sfd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(sfd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(*cfd, F_GETFD) & FD_CLOEXEC) != 0);

    uint8_t buf[64];
    CHECK(read(sfd, buf).error() == Errc::again);

    auto w = write(*cfd, bytes("hello"));
    REQUIRE(w.ok());
    CHECK(*w == 5);
    REQUIRE(ready_within(sfd, POLLIN, 1000));
    auto r = read(sfd, buf);
    REQUIRE(r.ok());
    CHECK(std::string_view(reinterpret_cast<char*>(buf), *r) == "hello");

    std::span<const uint8_t> parts[] = {bytes("one "), bytes(""), bytes("two "), bytes("three")};
    auto wv = writev(sfd, parts);
    REQUIRE(wv.ok());
    CHECK(*wv == 13);
    size_t got = 0;
    while (got < 13 && ready_within(*cfd, POLLIN, 1000)) {
        auto n = read(*cfd, std::span<uint8_t>(buf + got, sizeof buf - got));
        REQUIRE(n.ok());
        got += *n;
    }
    CHECK(std::string_view(reinterpret_cast<char*>(buf), got) == "one two three");

    CHECK(shutdown_write(*cfd).ok());
    REQUIRE(ready_within(sfd, POLLIN, 1000));
    auto eof = read(sfd, buf);
    REQUIRE(eof.ok());
    CHECK(*eof == 0);

    port::close(sfd);
    port::close(*cfd);
    port::close(*lfd);
    port::close(-1);  // harmless
}

TEST_CASE("connecting to a closed port is refused") {
    auto lfd = tcp_listen(must_parse("127.0.0.1:0"), 1);
    REQUIRE(lfd.ok());
    Address addr = *local_address(*lfd);
    port::close(*lfd);  // nothing listens on that port any more

    auto cfd = tcp_connect(addr);
    if (!cfd.ok()) {  // some kernels refuse loopback connects at once
        CHECK(cfd.error() == Errc::refused);
        return;
    }
    REQUIRE(ready_within(*cfd, POLLOUT, 2000));
    auto result = tcp_connect_result(*cfd);
    CHECK(result.error() == Errc::refused);
    CHECK(result.error().sys == ECONNREFUSED);
    CHECK(std::strlen(result.error().message) > 0);
    port::close(*cfd);
}

TEST_CASE("writing to a closed peer is an error, not SIGPIPE") {
    int fds[2];
    REQUIRE(socket_pair(fds).ok());
    port::close(fds[1]);
    auto w = write(fds[0], bytes("x"));
    CHECK(w.error() == Errc::reset);
    std::span<const uint8_t> parts[] = {bytes("x")};
    CHECK(writev(fds[0], parts).error() == Errc::reset);
    port::close(fds[0]);
}

TEST_CASE("write and read work on pipes and fill up with Errc::again") {
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    auto w = write(p[1], bytes("pipe"));
    REQUIRE(w.ok());
    CHECK(*w == 4);
    uint8_t buf[4096] = {};
    auto r = read(p[0], buf);
    REQUIRE(r.ok());
    CHECK(*r == 4);
    Result<size_t> fill = size_t{0};
    for (int i = 0; i < 10000 && fill.ok(); ++i) fill = write(p[1], buf);
    CHECK(fill.error() == Errc::again);
    port::close(p[0]);
    port::close(p[1]);
}

TEST_CASE("udp send and receive on 127.0.0.1") {
    auto a = udp_open(must_parse("127.0.0.1:0"));
    auto b = udp_open(must_parse("127.0.0.1:0"));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    Address a_addr = *local_address(*a);
    Address b_addr = *local_address(*b);

    uint8_t buf[64];
    Address from;
    CHECK(udp_receive(*b, buf, &from).error() == Errc::again);

    auto sent = udp_send(*a, bytes("datagram"), b_addr);
    REQUIRE(sent.ok());
    CHECK(*sent == 8);
    REQUIRE(ready_within(*b, POLLIN, 1000));
    auto got = udp_receive(*b, buf, &from);
    REQUIRE(got.ok());
    CHECK(std::string_view(reinterpret_cast<char*>(buf), *got) == "datagram");
    CHECK(from.port() == a_addr.port());

    // A datagram larger than the buffer is reported, not silently cut.
    REQUIRE(udp_send(*a, bytes("a longer datagram"), b_addr).ok());
    REQUIRE(ready_within(*b, POLLIN, 1000));
    uint8_t tiny[4];
    CHECK(udp_receive(*b, tiny, &from).error() == Errc::too_large);
    port::close(*a);
    port::close(*b);
}

TEST_CASE("tcp on [::1] when the machine has IPv6") {
    auto lfd = tcp_listen(must_parse("[::1]:0"), 4);
    if (!lfd.ok()) {
        MESSAGE("skipped: cannot bind [::1] here (" << lfd.error().message << ")");
        return;
    }
    Address addr = *local_address(*lfd);
    CHECK(addr.is_ipv6());
    auto cfd = tcp_connect(addr);
    REQUIRE(cfd.ok());
    REQUIRE(ready_within(*cfd, POLLOUT, 1000));
    CHECK(tcp_connect_result(*cfd).ok());
    Address peer;
    int sfd = accept_within(*lfd, &peer);
    char buf[64];
    CHECK(std::string_view(buf, format_ip(peer, buf)) == "::1");
    REQUIRE(write(sfd, bytes("six")).ok());
    REQUIRE(ready_within(*cfd, POLLIN, 1000));
    uint8_t in[8];
    auto r = read(*cfd, in);
    REQUIRE(r.ok());
    CHECK(*r == 3);
    port::close(sfd);
    port::close(*cfd);
    port::close(*lfd);
}

TEST_CASE("wake fd: signal makes it readable, drain empties it") {
    auto w = wake_open();
    REQUIRE(w.ok());
    CHECK_FALSE(ready_within(w->read_fd, POLLIN, 0));
    wake_signal(*w);
    wake_signal(*w);
    wake_signal(*w);
    CHECK(ready_within(w->read_fd, POLLIN, 0));
    wake_drain(*w);
    CHECK_FALSE(ready_within(w->read_fd, POLLIN, 0));
    wake_close(*w);
    CHECK(w->read_fd == -1);

    // The pipe flavour (kernels without eventfd) behaves the same.
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    WakeFd pipe_wake{p[0], p[1]};
    for (int i = 0; i < 100000; ++i) wake_signal(pipe_wake);  // a full pipe is not an error
    CHECK(ready_within(pipe_wake.read_fd, POLLIN, 0));
    wake_drain(pipe_wake);
    CHECK_FALSE(ready_within(pipe_wake.read_fd, POLLIN, 0));
    wake_close(pipe_wake);
}

TEST_CASE("stop signals set the flag and wake the poller") {
    auto w = wake_open();
    REQUIRE(w.ok());
    static volatile int flag = 0;
    catch_stop_signals(&flag, &*w);
    errno = 1234;
    ::raise(SIGTERM);
    CHECK(errno == 1234);  // the handler preserved errno
    CHECK(flag == SIGTERM);
    CHECK(ready_within(w->read_fd, POLLIN, 0));
    catch_stop_signals(nullptr, nullptr);
    struct sigaction now{};
    ::sigaction(SIGTERM, nullptr, &now);
    CHECK((now.sa_handler == SIG_DFL));
    ignore_sigpipe();
    ::sigaction(SIGPIPE, nullptr, &now);
    CHECK((now.sa_handler == SIG_IGN));
    wake_close(*w);
}

TEST_CASE("random bytes differ between calls and are not all zero") {
    uint8_t a[32] = {}, b[32] = {};
    REQUIRE(random_bytes(a).ok());
    REQUIRE(random_bytes(b).ok());
    CHECK(std::memcmp(a, b, sizeof a) != 0);
    uint8_t zero[32] = {};
    CHECK(std::memcmp(a, zero, sizeof a) != 0);
    static uint8_t big[1 << 16];
    REQUIRE(random_bytes(big).ok());
    CHECK(random_bytes(std::span<uint8_t>()).ok());
}

TEST_CASE("clocks: monotonic, wall, and the fake clock") {
    int64_t t0 = monotonic_ns();
    int64_t t1 = monotonic_ns();
    CHECK(t1 >= t0);
    CHECK(wall_clock_s() > 1600000000);  // after 2020: the clock is set and not truncated

    CHECK_FALSE(fake_clock_enabled());
    fake_clock_enable(5000000000LL);  // past 2^32 on purpose: no 32-bit truncation
    CHECK(fake_clock_enabled());
    CHECK(monotonic_ns() == 5000000000LL);
    CHECK(monotonic_ns() == 5000000000LL);  // it stands still
    fake_clock_advance(250);
    CHECK(monotonic_ns() == 5000000250LL);
    fake_clock_advance(-1000);  // ignored
    CHECK(monotonic_ns() == 5000000250LL);
    fake_clock_disable();
    CHECK_FALSE(fake_clock_enabled());
    fake_clock_advance(1000);  // ignored while disabled
    CHECK(monotonic_ns() >= t1);
}

TEST_CASE("log lines go to stderr whole, one write each") {
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    int saved = ::dup(STDERR_FILENO);
    REQUIRE(saved >= 0);
    ::dup2(p[1], STDERR_FILENO);
    log_write(LogLevel::warn, "disk almost full");
    log_write(LogLevel::off, "never shown");
    static char long_line[3000];
    std::memset(long_line, 'x', sizeof long_line);
    log_write(LogLevel::debug, std::string_view(long_line, sizeof long_line));
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);

    static char out[4096];
    ssize_t n = ::read(p[0], out, sizeof out);
    REQUIRE(n > 0);
    std::string_view text(out, static_cast<size_t>(n));
    CHECK(text.substr(0, 22) == "WARN disk almost full\n");
    std::string_view second = text.substr(22);
    CHECK(second.substr(0, 6) == "DEBUG ");
    CHECK(second.size() < sizeof long_line);  // cut to a bounded line
    CHECK(second.substr(second.size() - 4) == "...\n");
    ::close(p[0]);
    ::close(p[1]);
}

TEST_CASE("system facts are plausible") {
    auto up = uptime_s();
    REQUIRE(up.ok());
    CHECK(*up > 0);

    auto load = load_average();
    REQUIRE(load.ok());
    CHECK(load->one >= 0);
    CHECK(load->fifteen >= 0);

    auto mem = memory();
    REQUIRE(mem.ok());
    CHECK(mem->total_bytes > 0);
    CHECK(mem->available_bytes > 0);
    CHECK(mem->total_bytes > mem->available_bytes);

    char name[256];
    auto host = hostname(name);
    REQUIRE(host.ok());
    CHECK(*host > 0);
    CHECK(std::strlen(name) == *host);
    char one[1];
    CHECK(hostname(one).error() == Errc::too_large);

    Interface itfs[64];
    auto count = interfaces(itfs);
    REQUIRE(count.ok());
    bool has_lo = false;
    for (size_t i = 0; i < *count; ++i) has_lo = has_lo || std::string_view(itfs[i].name) == "lo";
    CHECK(has_lo);

    auto rss = process_rss();
    REQUIRE(rss.ok());
    CHECK(*rss > 4096);

    CHECK(max_open_files() > 2);

    Temperature real[8];
    auto real_count = temperatures(real, "/sys/class/thermal");
    if (real_count.ok()) MESSAGE(*real_count << " thermal zone(s) on this machine");
}

TEST_CASE("temperatures read zones in number order from a thermal directory") {
    char dir[] = "/tmp/gust_thermal_XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    struct Zone { int index; const char* type; const char* temp; };
    const Zone zones[] = {{10, "gpu-thermal\n", "-1500\n"}, {2, "cpu-thermal\n", "48250\n"}, {0, "soc\n", "40000\n"}};
    char path[128];
    for (const Zone& z : zones) {
        std::snprintf(path, sizeof path, "%s/thermal_zone%d", dir, z.index);
        REQUIRE(::mkdir(path, 0700) == 0);
        const char* files[2][2] = {{"type", z.type}, {"temp", z.temp}};
        for (auto& f : files) {
            std::snprintf(path, sizeof path, "%s/thermal_zone%d/%s", dir, z.index, f[0]);
            int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            REQUIRE(fd >= 0);
            REQUIRE(::write(fd, f[1], std::strlen(f[1])) > 0);
            ::close(fd);
        }
    }
    std::snprintf(path, sizeof path, "%s/cooling_device0", dir);
    REQUIRE(::mkdir(path, 0700) == 0);  // not a zone: ignored

    Temperature t[8];
    auto n = temperatures(t, dir);
    REQUIRE(n.ok());
    REQUIRE(*n == 3);
    CHECK(std::string_view(t[0].name) == "soc");
    CHECK(t[0].millicelsius == 40000);
    CHECK(std::string_view(t[1].name) == "cpu-thermal");
    CHECK(t[1].millicelsius == 48250);
    CHECK(std::string_view(t[2].name) == "gpu-thermal");
    CHECK(t[2].millicelsius == -1500);
    auto limited = temperatures(std::span<Temperature>(t, 1), dir);
    REQUIRE(limited.ok());
    CHECK(*limited == 1);
    CHECK(temperatures(t, "/nonexistent/thermal").error() == Errc::io);

    for (const Zone& z : zones) {
        for (const char* f : {"type", "temp"}) {
            std::snprintf(path, sizeof path, "%s/thermal_zone%d/%s", dir, z.index, f);
            ::unlink(path);
        }
        std::snprintf(path, sizeof path, "%s/thermal_zone%d", dir, z.index);
        ::rmdir(path);
    }
    std::snprintf(path, sizeof path, "%s/cooling_device0", dir);
    ::rmdir(path);
    ::rmdir(dir);
}

TEST_CASE("process_open_fds counts a new socket") {
    auto before = process_open_fds();
    REQUIRE(before.ok());
    CHECK(*before >= 3);
    auto fd = udp_open(must_parse("127.0.0.1:0"));
    REQUIRE(fd.ok());
    auto during = process_open_fds();
    REQUIRE(during.ok());
    CHECK(*during == *before + 1);
    port::close(*fd);
    auto after = process_open_fds();
    REQUIRE(after.ok());
    CHECK(*after == *before);
}
