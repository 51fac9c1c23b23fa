// TLS over real 127.0.0.1 TCP connections on one gust::Loop: handshakes,
// echo, close_notify, client verification, protocol floor, timeouts, the
// self-signed device certificate, RSA keys, and (when installed) OpenSSL.
#include <doctest/doctest.h>

#include <malloc.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gust/tls.hpp>
#include <gust/when.hpp>

#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#ifndef MBEDTLS_PRIVATE  // mbedTLS 2.x: struct fields are public
#define MBEDTLS_PRIVATE(member) member
#endif

#include "../../src/tls/mbedtls_compat.hpp"
#include "test_support.hpp"

using namespace gust;
using gust_test::test_limits;

namespace {

struct TempDir : gust_test::TempDir {
    TempDir() : gust_test::TempDir("gust-tls") {}
};


constexpr std::string_view kHost = "device.test";
constexpr std::string_view kIps[] = {"127.0.0.1", "::1"};

DeviceCertOptions device_opts(std::string_view host = kHost) {
    DeviceCertOptions o;
    o.hostname = host;
    o.ips = kIps;
    return o;
}

// A connected TCP pair over 127.0.0.1: fds[0] accepted (server), fds[1] connected (client).
bool tcp_pair(int fds[2]) {
    auto addr = port::parse_address("127.0.0.1:0");
    if (!addr) return false;
    auto lfd = port::tcp_listen(*addr, 4);
    if (!lfd) return false;
    auto local = port::local_address(*lfd);
    auto cfd = local ? port::tcp_connect(*local) : Result<int>(Error(Errc::io, "no address"));
    if (!cfd) {
        port::close(*lfd);
        return false;
    }
    for (int i = 0; i < 2000; ++i) {
        auto a = port::tcp_accept(*lfd, nullptr);
        if (a) {
            fds[0] = *a;
            fds[1] = *cfd;
            port::close(*lfd);
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    port::close(*cfd);
    port::close(*lfd);
    return false;
}

struct Outcome {
    bool done = false;
    Error error;
};

void start(Loop& loop, Task<Result<void>> task, Outcome& out) {
    REQUIRE(spawn(loop, std::move(task), [&out](Result<void> r) {
        out.done = true;
        out.error = r.error();
    }));
}

// One loop, a TLS server stream and a TLS client stream connected to each other.
struct Pair {
    Loop loop{test_limits()};
    TlsStream server;
    TlsStream client;
    Outcome hs_server, hs_client;

    bool connect() {
        int fds[2];
        if (!tcp_pair(fds)) return false;
        return server.attach(loop, fds[0]).ok() && client.attach(loop, fds[1]).ok();
    }
    // Starts both sides and runs both handshakes to the end.
    bool handshake(TlsServerConfig& sc, TlsClientConfig& cc, std::string_view host = kHost) {
        return connect() && handshake_connected(sc, cc, host);
    }
    bool handshake_connected(TlsServerConfig& sc, TlsClientConfig& cc, std::string_view host = kHost) {
        REQUIRE(server.start_server(sc));
        REQUIRE(client.start_client(cc, host));
        start(loop, server.handshake(5s), hs_server);
        start(loop, client.handshake(5s), hs_client);
        return loop.run_until([&] { return hs_server.done && hs_client.done; }, 10s);
    }
};

Task<Result<void>> shutdown_when_writable(TlsStream& s) {
    for (;;) {
        auto r = s.shutdown();
        if (r || r.error().code != Errc::again) co_return r;
        if (auto w = co_await wait_writable(s.watch()); !w) co_return w;
    }
}

// Echoes everything back until close_notify, then sends its own close_notify.
Task<Result<void>> echo_server(TlsStream& s, std::vector<uint8_t>& buf, size_t& total) {
    for (;;) {
        auto n = co_await s.read(buf, 5s);
        if (!n) co_return n.error();
        if (*n == 0) break;
        total += *n;
        auto w = co_await s.write_all(std::span<const uint8_t>(buf.data(), *n), 5s);
        if (!w) co_return w.error();
    }
    co_return co_await shutdown_when_writable(s);
}

Task<Result<void>> send_all_then_close(TlsStream& s, std::span<const uint8_t> data) {
    auto w = co_await s.write_all(data, 5s);
    if (!w) co_return w.error();
    co_return co_await shutdown_when_writable(s);
}

Task<Result<void>> read_to_eof(TlsStream& s, std::vector<uint8_t>& got) {
    uint8_t buf[1500];
    for (;;) {
        auto n = co_await s.read(buf, 5s);
        if (!n) co_return n.error();
        if (*n == 0) co_return Result<void>();
        got.insert(got.end(), buf, buf + *n);
    }
}

void echo_round_trip(Pair& p, size_t size) {
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = uint8_t(i * 7 + (i >> 9));
    std::vector<uint8_t> server_buf(4096), got;
    size_t server_total = 0;
    Outcome srv, wr, rd;
    start(p.loop, echo_server(p.server, server_buf, server_total), srv);
    start(p.loop, send_all_then_close(p.client, data), wr);
    start(p.loop, read_to_eof(p.client, got), rd);
    REQUIRE(p.loop.run_until([&] { return srv.done && wr.done && rd.done; }, 20s));
    CHECK(srv.error.code == Errc::ok);
    CHECK(wr.error.code == Errc::ok);
    CHECK(rd.error.code == Errc::ok);
    CHECK(server_total == size);
    CHECK(got.size() == size);
    CHECK(got == data);
}

// The protocol a gust client and server agree on by default: the best this mbedTLS builds.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
constexpr std::string_view kBestProtocol = "TLSv1.3";
#else
constexpr std::string_view kBestProtocol = "TLSv1.2";
#endif

// Caps one side's policy at TLS 1.2, as a peer without TLS 1.3 has it.
void cap_at_tls12(mbedtls_ssl_config* conf) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

// The key type of the certificate the client was shown.
mbedtls_pk_type_t peer_key_type(TlsStream& client) {
    const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(client.native());
    return crt ? mbedtls_pk_get_type(&crt->pk) : MBEDTLS_PK_NONE;
}

struct Certs {
    TempDir dir;
    TlsServerConfig server;
    Certs() { REQUIRE(server.load_self_signed(dir.path, device_opts())); }
    std::string cert() const { return dir.file("cert.pem"); }
};

}  // namespace

TEST_CASE("tls: the self-signed device certificate is generated once and reused") {
    TempDir dir;
    REQUIRE(ensure_self_signed(dir.path, device_opts()));
    std::string cert1 = gust_test::read_file(dir.file("cert.pem"));
    std::string key1 = gust_test::read_file(dir.file("key.pem"));
    CHECK(cert1.find("BEGIN CERTIFICATE") != std::string::npos);
    CHECK(key1.find("PRIVATE KEY") != std::string::npos);
    struct stat st;
    REQUIRE(stat(dir.file("key.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(access(dir.file("key.pem.tmp").c_str(), F_OK) != 0);

    REQUIRE(ensure_self_signed(dir.path, device_opts()));  // the next start
    CHECK(gust_test::read_file(dir.file("cert.pem")) == cert1);
    CHECK(gust_test::read_file(dir.file("key.pem")) == key1);

    // The certificate says what it should.
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    REQUIRE(mbedtls_x509_crt_parse_file(&crt, dir.file("cert.pem").c_str()) == 0);
    char info[2048];
    REQUIRE(mbedtls_x509_crt_info(info, sizeof info, "", &crt) > 0);
    std::string text(info);
    CHECK(text.find("subject name      : CN=device.test") != std::string::npos);
    CHECK(text.find("device.test") != std::string::npos);
    CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
    CHECK(mbedtls_pk_get_bitlen(&crt.pk) == 256);
    mbedtls_x509_crt_free(&crt);

    // A new hostname replaces it; bad input is refused.
    REQUIRE(ensure_self_signed(dir.path, device_opts("other.test")));
    CHECK(gust_test::read_file(dir.file("cert.pem")) != cert1);
    CHECK(ensure_self_signed(dir.path, device_opts("bad host")).error().code == Errc::invalid_argument);
    DeviceCertOptions bad_ip = device_opts();
    std::string_view ips[] = {"300.1.1.1"};
    bad_ip.ips = ips;
    CHECK(write_self_signed(dir.path, bad_ip).error().code == Errc::invalid_argument);
}

TEST_CASE("tls: handshake, echo both ways and close_notify as end of stream") {
    Certs certs;
    char fp[96];
    CHECK(certs.server.fingerprint(fp) == 95);
    TlsClientConfig client;
    TlsClientOptions co;
    std::string ca = certs.cert();
    co.ca_file = ca.c_str();
    REQUIRE(client.init(co));

    SUBCASE("small") {
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        CHECK(p.hs_server.error.code == Errc::ok);
        CHECK(p.hs_client.error.code == Errc::ok);
        CHECK(std::string_view(p.server.protocol()) == kBestProtocol);
        CHECK(std::string_view(p.client.protocol()) == kBestProtocol);
        CHECK(std::string_view(p.client.ciphersuite()) == p.server.ciphersuite());
        // Our first choice in both versions' suite lists (TLS 1.3 suites name no key exchange).
        if (kBestProtocol == "TLSv1.3") CHECK(std::string_view(p.server.ciphersuite()) == "TLS1-3-AES-128-GCM-SHA256");
        else CHECK(std::string_view(p.server.ciphersuite()) == "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
        echo_round_trip(p, 5);
    }
    SUBCASE("1 MiB") {
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        echo_round_trip(p, 1 << 20);
    }
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    SUBCASE("a client with a small input record buffer asks for records that fit it") {
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        // Stock mbedTLS takes 16 KiB records and asks for nothing; a board
        // config with MBEDTLS_SSL_IN_CONTENT_LEN=4096 asks for 4 KiB records.
        unsigned char expected = kBestProtocol == "TLSv1.2"
                                     ? tls_compat::max_fragment_code(MBEDTLS_SSL_IN_CONTENT_LEN)
                                     : MBEDTLS_SSL_MAX_FRAG_LEN_NONE;
        CHECK(p.server.native()->MBEDTLS_PRIVATE(session)->MBEDTLS_PRIVATE(mfl_code) == expected);
        echo_round_trip(p, 64 * 1024);
    }
#endif
    SUBCASE("the server's first read runs the handshake") {
        Pair p;
        REQUIRE(p.connect());
        REQUIRE(p.server.start_server(certs.server));
        REQUIRE(p.client.start_client(client, kHost));
        std::vector<uint8_t> server_buf(4096), got;
        size_t server_total = 0;
        Outcome srv, wr, rd;
        start(p.loop, echo_server(p.server, server_buf, server_total), srv);  // no handshake() call
        start(p.loop, p.client.handshake(5s), p.hs_client);
        REQUIRE(p.loop.run_until([&] { return p.hs_client.done; }, 10s));
        CHECK(p.hs_client.error.code == Errc::ok);
        const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
        start(p.loop, send_all_then_close(p.client, hello), wr);
        start(p.loop, read_to_eof(p.client, got), rd);
        REQUIRE(p.loop.run_until([&] { return srv.done && wr.done && rd.done; }, 10s));
        CHECK(srv.error.code == Errc::ok);
        CHECK(std::string(got.begin(), got.end()) == "hello");
        CHECK(p.server.handshake_done());
    }
}

TEST_CASE("tls: client verification") {
    Certs certs;
    std::string ca = certs.cert();
    TlsClientOptions co;
    co.ca_file = ca.c_str();

    SUBCASE("trusted certificate and matching hostname: accepted; SNI reaches the hook") {
        struct Seen {
            std::string name;
        } seen;
        certs.server.set_sni_hook(
            [](void* user, std::string_view name) {
                static_cast<Seen*>(user)->name = std::string(name);
                return kTlsDefaultCertificate;
            },
            &seen);
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        CHECK(p.hs_client.error.code == Errc::ok);
        CHECK(p.hs_server.error.code == Errc::ok);
        CHECK(seen.name == "device.test");
    }
    SUBCASE("SNI hook can reject a name") {
        certs.server.set_sni_hook([](void*, std::string_view) { return kTlsRejectName; }, nullptr);
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        CHECK(p.hs_client.error.code == Errc::tls);
        CHECK(p.hs_server.error.code == Errc::tls);
    }
    SUBCASE("wrong hostname") {
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.handshake(certs.server, client, "wrong.test"));
        CHECK(p.hs_client.error.code == Errc::tls);
        CHECK(std::string(p.hs_client.error.message) == "hostname mismatch");
        CHECK(p.hs_server.error.code != Errc::ok);
    }
    SUBCASE("untrusted: a different self-signed certificate") {
        TempDir other;
        REQUIRE(ensure_self_signed(other.path, device_opts()));
        std::string other_ca = other.file("cert.pem");
        TlsClientOptions o2;
        o2.ca_file = other_ca.c_str();
        TlsClientConfig client;
        REQUIRE(client.init(o2));
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        CHECK(p.hs_client.error.code == Errc::tls);
        CHECK(std::string(p.hs_client.error.message) == "certificate not trusted");
    }
    SUBCASE("expired") {
        TempDir old;
        DeviceCertOptions o = device_opts();
        int64_t now = port::wall_clock_s();
        o.not_before = now - 10 * 86400;
        o.not_after = now - 86400;
        REQUIRE(write_self_signed(old.path, o));
        TlsServerConfig server;
        REQUIRE(server.load(old.file("cert.pem").c_str(), old.file("key.pem").c_str()));
        std::string old_ca = old.file("cert.pem");
        TlsClientOptions o2;
        o2.ca_file = old_ca.c_str();
        TlsClientConfig client;
        REQUIRE(client.init(o2));
        Pair p;
        REQUIRE(p.handshake(server, client));
        CHECK(p.hs_client.error.code == Errc::tls);
        CHECK(std::string(p.hs_client.error.message) == "certificate expired");
        // ensure_self_signed() replaces an expired pair.
        REQUIRE(ensure_self_signed(old.path, device_opts()));
        CHECK(gust_test::read_file(old.file("cert.pem")) != gust_test::read_file(certs.cert()));
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        REQUIRE(mbedtls_x509_crt_parse_file(&crt, old.file("cert.pem").c_str()) == 0);
        CHECK(mbedtls_x509_time_is_past(&crt.valid_to) == 0);
        mbedtls_x509_crt_free(&crt);
    }
    SUBCASE("insecure: anything goes, explicitly") {
        TlsClientOptions o2;
        o2.insecure = true;
        TlsClientConfig client;
        REQUIRE(client.init(o2));
        CHECK(client.insecure());
        Pair p;
        REQUIRE(p.handshake(certs.server, client, "whatever.test"));
        CHECK(p.hs_client.error.code == Errc::ok);
    }
    SUBCASE("a hostname is required when verifying") {
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.connect());
        CHECK(p.client.start_client(client, "").error().code == Errc::invalid_argument);
    }
    SUBCASE("missing CA file") {
        TlsClientOptions o2;
        o2.ca_file = "/nonexistent/ca.pem";
        TlsClientConfig client;
        CHECK(client.init(o2).error().code == Errc::tls);
    }
}

TEST_CASE("tls: the SNI hook picks among several EC certificates, each signing with its own key") {
    TempDir a, b;
    REQUIRE(write_self_signed(a.path, device_opts("a.test")));
    REQUIRE(write_self_signed(b.path, device_opts("b.test")));
    TlsServerConfig server;
    auto ia = server.add_certificate(a.file("cert.pem").c_str(), a.file("key.pem").c_str());
    auto ib = server.add_certificate(b.file("cert.pem").c_str(), b.file("key.pem").c_str());
    REQUIRE(ia);
    REQUIRE(ib);
    int picks[2] = {*ia, *ib};
    server.set_sni_hook(
        [](void* user, std::string_view name) { return static_cast<int*>(user)[name == "b.test" ? 1 : 0]; }, picks);
    // Each name twice: the second handshake signs with a table that is already there.
    for (int round = 0; round < 2; ++round) {
        for (const TempDir* d : {&a, &b}) {
            std::string ca = d->file("cert.pem");
            TlsClientOptions co;
            co.ca_file = ca.c_str();
            TlsClientConfig client;
            REQUIRE(client.init(co));
            Pair p;
            REQUIRE(p.handshake(server, client, d == &a ? "a.test" : "b.test"));
            CHECK(p.hs_client.error.code == Errc::ok);
            CHECK(p.hs_server.error.code == Errc::ok);
        }
    }
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000
TEST_CASE("tls: a TLS 1.1-only client is refused") {
    Certs certs;
    TlsClientOptions o;
    o.insecure = true;
    TlsClientConfig client;
    REQUIRE(client.init(o));
    // Lower this client's policy to exactly TLS 1.1 with any suite it knows.
    mbedtls_ssl_conf_min_version(client.native(), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
    mbedtls_ssl_conf_max_version(client.native(), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
    mbedtls_ssl_conf_ciphersuites(client.native(), mbedtls_ssl_list_ciphersuites());
    Pair p;
    REQUIRE(p.handshake(certs.server, client));
    CHECK(p.hs_server.error.code == Errc::tls);
    CHECK(std::string(p.hs_server.error.message) == "tls: protocol version refused");
    CHECK(p.hs_client.error.code == Errc::tls);
}
#endif

TEST_CASE("tls: the best protocol this mbedTLS has is negotiated, and TLS 1.2 when a peer stops there") {
    INFO("mbedTLS " << MBEDTLS_VERSION_STRING);
    Certs certs;
    std::string ca = certs.cert();
    TlsClientOptions co;
    co.ca_file = ca.c_str();

    SUBCASE("both sides gust") {
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        CHECK(std::string_view(p.client.protocol()) == kBestProtocol);
        CHECK(std::string_view(p.server.protocol()) == kBestProtocol);
        echo_round_trip(p, 3000);
    }
    SUBCASE("a client capped at TLS 1.2 gets 1.2 and an ECDHE AEAD suite") {
        TlsClientConfig client;
        REQUIRE(client.init(co));
        cap_at_tls12(client.native());
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        CHECK(std::string_view(p.server.protocol()) == "TLSv1.2");
        CHECK(std::string_view(p.server.ciphersuite()) == "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
        echo_round_trip(p, 3000);
    }
    SUBCASE("a server capped at TLS 1.2 gets 1.2 from a gust client") {
        cap_at_tls12(certs.server.native());
        TlsClientConfig client;
        REQUIRE(client.init(co));
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        CHECK(std::string_view(p.client.protocol()) == "TLSv1.2");
        echo_round_trip(p, 3000);
    }
#if defined(MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED) && defined(MBEDTLS_SSL_SESSION_TICKETS)
    SUBCASE("TLS 1.3 session tickets reported by mbedtls_ssl_read are skipped, not errors") {
        TlsClientConfig client;
        REQUIRE(client.init(co));
        mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(client.native(),
                                                                 MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
        Pair p;
        REQUIRE(p.handshake(certs.server, client));
        REQUIRE(p.hs_client.error.code == Errc::ok);
        CHECK(std::string_view(p.client.protocol()) == "TLSv1.3");
        echo_round_trip(p, 3000);  // the client's first read meets the server's tickets
    }
#endif
}

TEST_CASE("tls: a client that stalls mid-handshake hits the handshake timeout") {
    Certs certs;
    gust_test::FakeClock clock;
    Loop loop(test_limits());
    int fds[2];
    REQUIRE(tcp_pair(fds));
    TlsStream server;
    REQUIRE(server.attach(loop, fds[0]));
    REQUIRE(server.start_server(certs.server));
    // Half a record header of a ClientHello, then nothing.
    const uint8_t partial[] = {0x16, 0x03, 0x01};
    REQUIRE(port::write(fds[1], partial));
    Outcome hs;
    TimePoint t0 = loop.now();
    start(loop, server.handshake(5s), hs);
    REQUIRE(loop.run_until([&] { return hs.done; }, 60s));
    CHECK(hs.error.code == Errc::timeout);
    CHECK(loop.now() - t0 >= 5s);
    CHECK(loop.now() - t0 < 6s);
    port::close(fds[1]);
}

TEST_CASE("tls: RSA 2048 certificate and key from PEM files") {
    TempDir dir;
    DeviceCertOptions o = device_opts();
    o.key = TlsKeyType::rsa_2048;
    REQUIRE(write_self_signed(dir.path, o));
    CHECK(gust_test::read_file(dir.file("key.pem")).find("BEGIN RSA PRIVATE KEY") != std::string::npos);
    TlsServerConfig server;
    REQUIRE(server.load(dir.file("cert.pem").c_str(), dir.file("key.pem").c_str()));
    std::string ca = dir.file("cert.pem");
    TlsClientOptions co;
    co.ca_file = ca.c_str();
    TlsClientConfig client;
    REQUIRE(client.init(co));
    Pair p;
    REQUIRE(p.handshake(server, client));
    CHECK(p.hs_client.error.code == Errc::ok);
    CHECK(peer_key_type(p.client) == MBEDTLS_PK_RSA);  // TLS 1.3 signs with RSA-PSS
    if (kBestProtocol == "TLSv1.2") CHECK(std::string(p.server.ciphersuite()).find("ECDHE-RSA") != std::string::npos);
    echo_round_trip(p, 100);
    // A key that does not belong to the certificate is refused.
    TempDir other;
    REQUIRE(write_self_signed(other.path, device_opts()));
    TlsServerConfig mixed;
    CHECK(mixed.load(dir.file("cert.pem").c_str(), other.file("key.pem").c_str()).error().code == Errc::tls);
}

namespace {
// Blinding randomness for the signing test; its quality does not matter there.
int test_rng(void*, unsigned char* out, size_t len) {
    for (size_t i = 0; i < len; ++i) out[i] = static_cast<unsigned char>(std::rand());
    return 0;
}

int sign_sha256(mbedtls_pk_context* key, const unsigned char (&hash)[32], unsigned char (&sig)[MBEDTLS_ECDSA_MAX_LEN],
                size_t* len) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sizeof sig, len, test_rng, nullptr);
#else
    return mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, len, test_rng, nullptr);
#endif
}
}  // namespace

TEST_CASE("tls: an EC server key signs through a kept context whose base-point table is built at load") {
    REQUIRE(tls_compat::init_crypto() == 0);  // 3.x: keys and hashes may go through PSA
    TempDir dir;
    REQUIRE(write_self_signed(dir.path, device_opts()));
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    REQUIRE(mbedtls_x509_crt_parse_file(&crt, dir.file("cert.pem").c_str()) == 0);
    REQUIRE(tls_compat::pk_parse_keyfile(&key, dir.file("key.pem").c_str(), test_rng, nullptr) == 0);
    size_t before = mallinfo2().uordblks;
    REQUIRE(tls_compat::keep_signing_table(&key, test_rng, nullptr) == 0);
    MESSAGE("an EC key's kept signing context (mbedTLS " << MBEDTLS_VERSION_STRING << "): "
            << ptrdiff_t(mallinfo2().uordblks - before) << " B more heap per certificate");
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    // 2.28: an ECDSA context now, whose group already holds the table.
    REQUIRE(mbedtls_pk_get_type(&key) == MBEDTLS_PK_ECDSA);
    const mbedtls_ecp_point* table = mbedtls_pk_ec(key)->grp.T;
    CHECK(table != nullptr);
    CHECK(mbedtls_pk_ec(key)->grp.T_size > 0);
#else
    CHECK(mbedtls_pk_get_type(&key) == MBEDTLS_PK_ECKEY);  // 3.x: left alone
#endif
    // Its signatures verify under the certificate's public key, each time.
    unsigned char hash[32];
    for (int round = 0; round < 3; ++round) {
        REQUIRE(tls_compat::sha256(reinterpret_cast<const unsigned char*>(&round), sizeof round, hash) == 0);
        unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
        size_t len = 0;
        REQUIRE(sign_sha256(&key, hash, sig, &len) == 0);
        CHECK(mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, len) == 0);
        sig[len / 2] ^= 1;
        CHECK(mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, len) != 0);
    }
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    CHECK(mbedtls_pk_ec(key)->grp.T == table);  // signing reads the table, never rebuilds it
#endif
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&crt);
}

TEST_CASE("tls: handshake cost and per-connection memory (P-256, one core)") {
    Certs certs;
    std::string ca = certs.cert();
    TlsClientOptions co;
    co.ca_file = ca.c_str();
    TlsClientConfig client;
    REQUIRE(client.init(co));
    std::vector<double> server_ms, total_ms;
    for (int i = 0; i < 20; ++i) {
        Pair p;
        REQUIRE(p.connect());
        auto t0 = std::chrono::steady_clock::now();
        REQUIRE(p.handshake_connected(certs.server, client));
        auto t1 = std::chrono::steady_clock::now();
        REQUIRE(p.hs_client.error.code == Errc::ok);
        server_ms.push_back(std::chrono::duration<double, std::milli>(p.server.handshake_time()).count());
        total_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(server_ms.begin(), server_ms.end());
    std::sort(total_ms.begin(), total_ms.end());
    MESSAGE("tls handshake, median of 20: server side " << server_ms[10] << " ms, both sides in one process "
                                                       << total_ms[10] << " ms");
    CHECK(server_ms[10] > 0);

#if !defined(__SANITIZE_ADDRESS__)
    Pair p;
    REQUIRE(p.connect());
    size_t base = mallinfo2().uordblks;
    REQUIRE(p.server.start_server(certs.server));
    size_t after_server_start = mallinfo2().uordblks;
    REQUIRE(p.client.start_client(client, kHost));
    size_t after_client_start = mallinfo2().uordblks;
    start(p.loop, p.server.handshake(5s), p.hs_server);
    start(p.loop, p.client.handshake(5s), p.hs_client);
    REQUIRE(p.loop.run_until([&] { return p.hs_server.done && p.hs_client.done; }, 10s));
    size_t after_handshake = mallinfo2().uordblks;
    p.server.close();
    size_t after_server_close = mallinfo2().uordblks;
    MESSAGE("tls memory per connection (heap, mbedTLS " << MBEDTLS_VERSION_STRING << "): server after setup "
            << (after_server_start - base) << " B, client after setup "
            << (after_client_start - after_server_start) << " B, both after handshake "
            << (after_handshake - base) << " B, server freed at close "
            << (after_handshake - after_server_close) << " B");
    // Its two record buffers go back at close (stock: 16 KiB each).
    CHECK(after_handshake - after_server_close > MBEDTLS_SSL_IN_CONTENT_LEN + MBEDTLS_SSL_OUT_CONTENT_LEN);
#endif
}

TEST_CASE("tls: OpenSSL s_client interoperates (skipped without openssl)") {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
        MESSAGE("openssl not installed: skipped");
        return;
    }
    Certs certs;
    Loop loop(test_limits());
    auto addr = port::parse_address("127.0.0.1:0");
    REQUIRE(addr);
    auto lfd = port::tcp_listen(*addr, 8);
    REQUIRE(lfd);
    auto local = port::local_address(*lfd);
    REQUIRE(local);
    auto watch = loop.add_watch(*lfd);
    REQUIRE(watch);

    // Serves handshakes until told to stop: each connection gets a line and
    // close_notify (so s_client -ign_eof has read the TLS 1.3 tickets, which come
    // after the handshake, before it saves the session), then is read to EOF.
    int served = 0;
    bool stop = false;
    struct Server {
        static Task<Result<void>> run(Loop& loop, int lfd, WatchId watch, TlsServerConfig& cfg, int& served,
                                      bool& stop) {
            while (!stop) {
                if (auto w = co_await with_timeout(100ms, wait_readable(watch)); !w) continue;
                auto fd = port::tcp_accept(lfd, nullptr);
                if (!fd) continue;
                TlsStream s;
                if (!s.attach(loop, *fd)) {
                    port::close(*fd);
                    continue;
                }
                if (!s.start_server(cfg)) continue;
                if (!co_await s.handshake(5s)) continue;
                ++served;
                static const char kLine[] = "hello from gust\n";
                auto w = co_await s.write_all(std::span(reinterpret_cast<const uint8_t*>(kLine), sizeof kLine - 1), 2s);
                if (!w || !co_await shutdown_when_writable(s)) continue;
                uint8_t buf[256];
                for (;;) {
                    auto n = co_await s.read(buf, 2s);
                    if (!n || *n == 0) break;
                }
            }
            co_return Result<void>();
        }
    };
    Outcome out;
    start(loop, Server::run(loop, *lfd, *watch, certs.server, served, stop), out);

    // Two clients: the second resumes the first's session from its ticket
    // (s_client -reconnect cannot show it: in OpenSSL 3.0 it reconnects before
    // a TLS 1.3 ticket arrives, against any server).
    TempDir tmp;
    std::string session = tmp.file("session.pem");
    std::string logs[2] = {tmp.file("s_client1.txt"), tmp.file("s_client2.txt")};
    int status[2] = {-1, -1};
    std::atomic<bool> finished(false);
    std::thread t([&] {
        for (int i = 0; i < 2; ++i) {
            char cmd[1024];
            std::snprintf(cmd, sizeof cmd,
                          "openssl s_client -connect 127.0.0.1:%u -servername device.test -CAfile %s "
                          "-verify_return_error -verify_hostname device.test -ign_eof %s %s </dev/null >%s 2>&1",
                          unsigned(local->port()), certs.cert().c_str(), i == 0 ? "-sess_out" : "-sess_in",
                          session.c_str(), logs[i].c_str());
            status[i] = std::system(cmd);
        }
        finished = true;
    });
    loop.run_until([&] { return finished.load(); }, 30s);
    t.join();
    stop = true;
    loop.run_until([&] { return out.done; }, 2s);
    loop.remove_watch(*watch);
    port::close(*lfd);

    std::string first = gust_test::read_file(logs[0]);
    std::string second = gust_test::read_file(logs[1]);
    CHECK(status[0] == 0);
    CHECK(status[1] == 0);
    CHECK(first.find("Verify return code: 0 (ok)") != std::string::npos);
    CHECK(first.find("X25519") != std::string::npos);
    CHECK(first.find("hello from gust") != std::string::npos);
    CHECK(first.find("New, " + std::string(kBestProtocol)) != std::string::npos);
    CHECK(second.find("Reused, " + std::string(kBestProtocol)) != std::string::npos);  // session tickets resume
    CHECK(second.find("hello from gust") != std::string::npos);
    CHECK(served == 2);
    if (status[0] != 0 || status[1] != 0 || second.find("Reused,") == std::string::npos) MESSAGE(first << second);
}
