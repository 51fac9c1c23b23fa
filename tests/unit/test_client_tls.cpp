// https through the client against a TLS server on 127.0.0.1 with
// certificates the test makes: verification on by default, each failure with
// its message, --insecure accepted, keep-alive over TLS.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <gust/client.hpp>
#include <gust/tls.hpp>

#include "test_client_support.hpp"

using namespace gust;
using namespace gust_test;

namespace {

struct TempDir : gust_test::TempDir {
    TempDir() : gust_test::TempDir("gust-client") {}
};

// A certificate for `host` (valid now unless `expired`) in its own directory, loaded into a server config.
struct Cert {
    TempDir dir;
    TlsServerConfig server;
    explicit Cert(std::string_view host, bool expired = false) {
        DeviceCertOptions o;
        o.hostname = host;
        if (expired) {
            int64_t now = port::wall_clock_s();
            o.not_before = now - 10 * 86400;
            o.not_after = now - 86400;
        }
        REQUIRE(write_self_signed(dir.path, o));
        REQUIRE(server.load(dir.file("cert.pem").c_str(), dir.file("key.pem").c_str()));
    }
    std::string pem() const { return dir.file("cert.pem"); }
};

RawReply hello(const std::string&) {
    RawReply r;
    r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure";
    return r;
}

std::string https_url(uint16_t port) { return "https://localhost:" + std::to_string(port) + "/"; }

// The status of one fetch (the response itself cannot outlive its client).
Result<int> fetch_with(Loop& loop, Cert& served, const http::ClientOptions& co) {
    RawServer srv(loop, hello, "127.0.0.1:0", &served.server);
    http::Client client(loop, co);
    REQUIRE(client.status());
    std::string u = https_url(srv.port());
    auto r = fetch(loop, client, u, {.connect_timeout = 5s});
    if (!r) return r.error();
    CHECK(r->body() == "secure");
    return int(r->status());
}

}  // namespace

TEST_CASE("client: https verifies the server by default") {
    Loop loop(test_limits());
    Cert good("localhost");
    Cert other("localhost");
    std::string good_ca = good.pem(), other_ca = other.pem();

    SUBCASE("a trusted certificate naming the host is accepted, and the connection is kept") {
        http::ClientOptions co;
        co.tls.ca_file = good_ca.c_str();
        RawServer srv(loop, hello, "127.0.0.1:0", &good.server);
        http::Client client(loop, co);
        std::string u = https_url(srv.port());
        for (int i = 0; i < 3; ++i) {
            auto r = fetch(loop, client, u);
            REQUIRE(r);
            CHECK(r->status() == 200);
            CHECK(r->body() == "secure");
        }
        CHECK(srv.connections() == 1);
        CHECK(client.stats().connections_reused == 2);
    }
    SUBCASE("a certificate for another name: hostname mismatch") {
        Cert wrong("other.test");
        http::ClientOptions co;
        std::string ca = wrong.pem();
        co.tls.ca_file = ca.c_str();
        auto r = fetch_with(loop, wrong, co);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::tls);
        CHECK(std::string(r.error().message) == "hostname mismatch");
    }
    SUBCASE("a certificate nobody vouches for: not trusted") {
        http::ClientOptions co;
        co.tls.ca_file = other_ca.c_str();
        auto r = fetch_with(loop, good, co);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::tls);
        CHECK(std::string(r.error().message) == "certificate not trusted");
    }
    SUBCASE("an expired certificate") {
        Cert old("localhost", true);
        http::ClientOptions co;
        std::string ca = old.pem();
        co.tls.ca_file = ca.c_str();
        auto r = fetch_with(loop, old, co);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::tls);
        CHECK(std::string(r.error().message) == "certificate expired");
    }
    SUBCASE("insecure accepts the untrusted one, explicitly") {
        http::ClientOptions co;
        co.tls.insecure = true;
        auto r = fetch_with(loop, good, co);
        REQUIRE(r);
        CHECK(*r == 200);
    }
    SUBCASE("a CA file that does not exist fails the fetch, not the process") {
        http::ClientOptions co;
        co.tls.ca_file = "/nonexistent/ca.pem";
        auto r = fetch_with(loop, good, co);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::tls);
    }
    SUBCASE("plain HTTP to a TLS port is a protocol error, not a hang") {
        RawServer srv(loop, hello, "127.0.0.1:0", &good.server);
        http::Client client(loop);
        std::string u = "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
        auto r = fetch(loop, client, u, {.request_timeout = 5s});
        REQUIRE_FALSE(r);
        CHECK(r.error().code != Errc::timeout);
    }
}
