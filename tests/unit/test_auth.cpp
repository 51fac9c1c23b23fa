// gust::Auth: token and credential files, Bearer and Basic checks, PBKDF2
// against known vectors, the failure delay and its bounded client table, and
// the server hook (401 challenges, the delay on the loop clock, the response
// cache kept away from authenticated requests unless the route opts in).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gust/auth.hpp>
#include <gust/cache.hpp>
#include <gust/executor.hpp>
#include <gust/http.hpp>
#include <gust/testing.hpp>

#include "../../src/tls/mbedtls_compat.hpp"
#include "alloc_counter.hpp"
#include "test_support.hpp"

using namespace gust;
using gust_test::FakeClock;
using testing::TestOptions;
using testing::TestResponse;
using testing::TestServer;

namespace {

constexpr std::string_view kToken = "s3cr3t-token-0123456789";
// Made with Python: hashlib.pbkdf2_hmac('sha256', b'correct horse', bytes(range(16)), 1000, 32).hex()
constexpr std::string_view kAdminLine =
    "admin:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0f:"
    "c914cc4f06cc6e8f46d157e3a1b5aa7abceebb17bb0444cd4c4ac16ca2ae9864";

// A file with `text` under /tmp, removed at the end.
struct TempFile {
    char path[64] = "/tmp/gust-auth-XXXXXX";
    explicit TempFile(const std::string& text) {
        int fd = ::mkstemp(path);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, text.data(), text.size()) == ssize_t(text.size()));
        ::close(fd);
    }
    ~TempFile() { ::unlink(path); }
};

std::string hex(const uint8_t* p, size_t n) {
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

AuthClient ip(const char* text) {
    auto c = AuthClient::from_ip(text);
    REQUIRE(c);
    return *c;
}

TimePoint at_ms(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

Task<> ok_handler(Request&, Response& res) {
    res.text("secret\n");
    co_return;
}

Task<> hello(Request&, Response& res) {
    res.text("hello\n");
    co_return;
}

Task<> whoami(Request& req, Response& res) {
    char ip[46];
    res.text(req.peer_ip(ip));
    co_return;
}

TestOptions fake_clock_options() {
    TestOptions o;
    o.fake_clock = true;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 16;
    o.timeout = std::chrono::seconds(20);
    return o;
}

std::string basic(std::string_view user_pass) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out = "Authorization: Basic ";
    size_t i = 0;
    for (; i + 2 < user_pass.size(); i += 3) {
        uint32_t v = uint8_t(user_pass[i]) << 16 | uint8_t(user_pass[i + 1]) << 8 | uint8_t(user_pass[i + 2]);
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += t[v & 63];
    }
    if (i < user_pass.size()) {
        uint32_t v = uint8_t(user_pass[i]) << 16 | (i + 1 < user_pass.size() ? uint8_t(user_pass[i + 1]) << 8 : 0);
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += i + 1 < user_pass.size() ? t[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace

// ---- tokens -------------------------------------------------------------------------

TEST_CASE("auth: a token matches only itself, whole") {
    Auth a;
    REQUIRE(a.status());
    REQUIRE(a.add_token(kToken));
    REQUIRE(a.add_token("another-token-abcdefghij"));
    CHECK(a.token_valid(kToken));
    CHECK(a.token_valid("another-token-abcdefghij"));
    CHECK_FALSE(a.token_valid(""));
    CHECK_FALSE(a.token_valid(kToken.substr(0, kToken.size() - 1)));
    CHECK_FALSE(a.token_valid(std::string(kToken) + "x"));
    CHECK_FALSE(a.token_valid("S3cr3t-token-0123456789"));
    CHECK_FALSE(a.token_valid(std::string(600, 'a')));
}

TEST_CASE("auth: tokens must be 16..512 visible ASCII bytes; the table is bounded") {
    Auth a;
    CHECK(a.add_token("short").error().code == Errc::invalid_argument);
    CHECK(a.add_token("fifteen-bytes-x").error().code == Errc::invalid_argument);
    CHECK(a.add_token("sixteen-bytes-xx"));
    CHECK(a.add_token("with a space inside it").error().code == Errc::invalid_argument);
    CHECK(a.add_token("tab\tinside-the-token").error().code == Errc::invalid_argument);
    CHECK(a.add_token("caf\xc3\xa9-not-ascii-token").error().code == Errc::invalid_argument);
    CHECK(a.add_token(std::string(512, 'x')));
    CHECK(a.add_token(std::string(513, 'x')).error().code == Errc::invalid_argument);
    for (int i = 0; i < GUST_AUTH_MAX_TOKENS && a.token_count() < GUST_AUTH_MAX_TOKENS; ++i)
        CHECK(a.add_token("filler-token-number-" + std::to_string(i)));
    CHECK(a.token_count() == GUST_AUTH_MAX_TOKENS);
    CHECK(a.add_token("one-token-too-many").error().code == Errc::no_memory);
}

TEST_CASE("auth: token files skip comments and blank lines and name the bad line") {
    TempFile good("# statusd tokens\n\n  " + std::string(kToken) + "  \r\nsecond-token-abcdefgh\n   # indented comment\n");
    Auth a;
    size_t bad = 99;
    auto n = a.load_tokens(good.path, &bad);
    REQUIRE(n);
    CHECK(*n == 2);
    CHECK(a.token_valid(kToken));
    CHECK(a.token_valid("second-token-abcdefgh"));
    CHECK_FALSE(a.token_valid("# statusd tokens"));

    TempFile broken("# ok\n" + std::string(kToken) + "\ntoo-short\n");
    Auth b;
    auto r = b.load_tokens(broken.path, &bad);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(bad == 3);

    Auth c;
    CHECK_FALSE(c.load_tokens("/nonexistent/gust-tokens", &bad));
    CHECK(bad == 0);

    TempFile huge(std::string(20000, '#'));
    CHECK(c.load_tokens(huge.path, &bad).error().code == Errc::too_large);
}

TEST_CASE("auth: a realm with a quote, a backslash or a control byte is refused") {
    CHECK(Auth({.realm = "statusd"}).status());
    CHECK(Auth({.realm = "say \"hi\""}).status().error().code == Errc::invalid_argument);
    CHECK(Auth({.realm = "back\\slash"}).status().error().code == Errc::invalid_argument);
    CHECK(Auth({.realm = "line\r\nX-Injected: 1"}).status().error().code == Errc::invalid_argument);
    CHECK(Auth({.realm = ""}).status().error().code == Errc::invalid_argument);
}

// ---- Basic credentials ---------------------------------------------------------------

TEST_CASE("auth: PBKDF2-HMAC-SHA256 matches RFC 7914's vectors") {
    uint8_t out[64];
    auto run = [&](const char* pw, const char* salt, unsigned c) {
        REQUIRE(tls_compat::pbkdf2_sha256(reinterpret_cast<const unsigned char*>(pw), std::strlen(pw),
                                          reinterpret_cast<const unsigned char*>(salt), std::strlen(salt), c, out,
                                          sizeof out) == 0);
        return hex(out, sizeof out);
    };
    CHECK(run("passwd", "salt", 1) ==
          "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
          "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
    CHECK(run("Password", "NaCl", 80000) ==
          "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
          "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

TEST_CASE("auth: a Python-made credential line verifies its password and only it") {
    Auth a;
    REQUIRE(a.add_user(kAdminLine));
    CHECK(a.user_count() == 1);
    CHECK(a.password_valid_blocking("admin", "correct horse"));
    CHECK_FALSE(a.password_valid_blocking("admin", "correct horsE"));
    CHECK_FALSE(a.password_valid_blocking("admin", ""));
    CHECK_FALSE(a.password_valid_blocking("Admin", "correct horse"));
    CHECK_FALSE(a.password_valid_blocking("nobody", "correct horse"));
}

TEST_CASE("auth: malformed credential lines are refused with a reason") {
    Auth a;
    const std::string salt = "000102030405060708090a0b0c0d0e0f";
    const std::string hash = "c914cc4f06cc6e8f46d157e3a1b5aa7abceebb17bb0444cd4c4ac16ca2ae9864";
    auto bad = [&](const std::string& line) { return a.add_user(line).error().code == Errc::invalid_argument; };
    CHECK(bad("admin:pbkdf2-sha1:1000:" + salt + ":" + hash));
    CHECK(bad("admin:pbkdf2-sha256:999:" + salt + ":" + hash));
    CHECK(bad("admin:pbkdf2-sha256:10000001:" + salt + ":" + hash));
    CHECK(bad("admin:pbkdf2-sha256:1e3:" + salt + ":" + hash));
    CHECK(bad("admin:pbkdf2-sha256:1000:0001020304050607:" + hash.substr(1)));
    CHECK(bad("admin:pbkdf2-sha256:1000:00010203040506:" + hash));  // 7-byte salt
    CHECK(bad("admin:pbkdf2-sha256:1000:" + salt + ":" + hash.substr(0, 30)));  // 15-byte hash
    CHECK(bad("admin:pbkdf2-sha256:1000:" + salt + ":zz" + hash.substr(2)));
    CHECK(bad("admin:pbkdf2-sha256:1000:" + salt + ":" + hash + ":extra"));
    CHECK(bad(":pbkdf2-sha256:1000:" + salt + ":" + hash));
    CHECK(bad("admin"));
    CHECK(a.user_count() == 0);
    REQUIRE(a.add_user(kAdminLine));
    CHECK(bad(std::string(kAdminLine)));  // listed twice
    TempFile f("# users\n" + std::string(kAdminLine) + "\nbob:pbkdf2-sha256:5:" + salt + ":" + hash + "\n");
    Auth b;
    size_t line = 0;
    CHECK(b.load_users(f.path, &line).error().code == Errc::invalid_argument);
    CHECK(line == 3);
}

TEST_CASE("auth: make_password_line writes a line that add_user reads back") {
    char buf[256];
    auto line = make_password_line("operator", "pa:ss wörd", 1000, buf);
    REQUIRE(line);
    CHECK(line->substr(0, 27) == "operator:pbkdf2-sha256:1000");
    Auth a;
    REQUIRE(a.add_user(*line));
    CHECK(a.password_valid_blocking("operator", "pa:ss wörd"));
    CHECK_FALSE(a.password_valid_blocking("operator", "pa:ss word"));
    char a1[256], a2[256];
    auto l1 = make_password_line("x", "same", 1000, a1);
    auto l2 = make_password_line("x", "same", 1000, a2);
    REQUIRE(l1);
    REQUIRE(l2);
    CHECK(*l1 != *l2);  // a fresh salt each time
    CHECK(make_password_line("a:b", "pw", 1000, buf).error().code == Errc::invalid_argument);
    CHECK(make_password_line("a", "pw", 10, buf).error().code == Errc::invalid_argument);
    char tiny[20];
    CHECK(make_password_line("a", "pw", 1000, tiny).error().code == Errc::too_large);
}

// ---- the failure delay ---------------------------------------------------------------

TEST_CASE("auth: the delay starts at the 4th failure, doubles, and stops at 5 s") {
    Auth a;
    AuthClient c = ip("192.0.2.7");
    int64_t expect_ms[] = {0, 0, 0, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (size_t i = 0; i < sizeof expect_ms / sizeof expect_ms[0]; ++i) {
        Duration d = a.note_failure(c, at_ms(int64_t(i) * 1000));
        CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(d).count() == expect_ms[i]);
    }
    CHECK(a.failures(c, at_ms(12000)) == 12);
    // Another client is not slowed by it.
    CHECK(a.note_failure(ip("192.0.2.8"), at_ms(12000)) == Duration(0));
    // A success forgets.
    a.note_success(c);
    CHECK(a.failures(c, at_ms(12000)) == 0);
    CHECK(a.note_failure(c, at_ms(12000)) == Duration(0));
}

TEST_CASE("auth: failures expire forget_after the last one") {
    Auth a({.forget_after = std::chrono::minutes(15)});
    AuthClient c = ip("198.51.100.1");
    for (int i = 0; i < 6; ++i) (void)a.note_failure(c, at_ms(1000));
    CHECK(a.failures(c, at_ms(1000 + 15 * 60 * 1000 - 1)) == 6);
    CHECK(a.failures(c, at_ms(1000 + 15 * 60 * 1000)) == 0);
    CHECK(a.clients(at_ms(1000 + 15 * 60 * 1000)) == 0);
    CHECK(a.note_failure(c, at_ms(1000 + 15 * 60 * 1000)) == Duration(0));
}

TEST_CASE("auth: an IPv6 client is counted by its /64") {
    Auth a;
    for (int i = 0; i < 3; ++i) (void)a.note_failure(ip("2001:db8:1:2::1"), at_ms(0));
    CHECK(a.note_failure(ip("2001:db8:1:2:ffff::9"), at_ms(0)) == std::chrono::milliseconds(100));
    CHECK(a.failures(ip("2001:db8:1:3::1"), at_ms(0)) == 0);
    CHECK(a.failures(ip("192.0.2.1"), at_ms(0)) == 0);
    CHECK_FALSE(AuthClient::from_ip("not-an-ip"));
}

TEST_CASE("auth: the client table never grows; the oldest failure makes room") {
    Auth a;
    char text[32];
    for (int i = 0; i < GUST_AUTH_CLIENTS * 3; ++i) {
        std::snprintf(text, sizeof text, "10.0.%d.%d", i / 250, i % 250);
        (void)a.note_failure(ip(text), at_ms(i));
        CHECK(a.clients(at_ms(i)) <= GUST_AUTH_CLIENTS);
    }
    CHECK(a.clients(at_ms(GUST_AUTH_CLIENTS * 3)) == GUST_AUTH_CLIENTS);
    CHECK(a.stats().clients_replaced == uint64_t(GUST_AUTH_CLIENTS * 2));
    // The newest are kept, the oldest went.
    int last = GUST_AUTH_CLIENTS * 3 - 1;
    std::snprintf(text, sizeof text, "10.0.%d.%d", last / 250, last % 250);
    CHECK(a.failures(ip(text), at_ms(last)) == 1);
    CHECK(a.failures(ip("10.0.0.0"), at_ms(last)) == 0);
}

TEST_CASE("auth: checks and failure counting allocate nothing") {
    Auth a;
    REQUIRE(a.add_token(kToken));
    AuthClient c = ip("192.0.2.9");
    gust_test::AllocationScope scope;
    int valid = 0;
    for (int i = 0; i < 1000; ++i) {
        valid += a.token_valid(kToken);
        valid += a.token_valid("wrong-token-0123456789");
        (void)a.note_failure(c, at_ms(i));
    }
    CHECK(scope.count() == 0);
    CHECK(valid == 1000);
}

// ---- through the server ---------------------------------------------------------------

TEST_CASE("auth: a protected route answers 401 with a challenge, 200 with the token") {
    FakeClock clock;
    Auth auth({.realm = "statusd"});
    REQUIRE(auth.add_token(kToken));
    Router app;
    REQUIRE(app.get("/hello", hello));
    REQUIRE(app.get("/whoami", whoami));
    REQUIRE(app.get("/secret", ok_handler));
    REQUIRE(app.post("/secret", ok_handler));
    CHECK(app.protect(auth, {"/hello", "/whoami"}) == 2);
    TestServer srv(app, fake_clock_options());

    CHECK(srv.get("/hello").status == 200);
    CHECK(srv.get("/whoami").body == "127.0.0.1");
    TestResponse none = srv.get("/secret");
    CHECK(none.status == 401);
    CHECK(none.header("WWW-Authenticate") == "Bearer realm=\"statusd\"");
    CHECK(none.body == "401 Unauthorized\n");
    CHECK(none.body.find("secret") == std::string::npos);

    TestResponse good = srv.request("GET", "/secret", {}, {"Authorization: Bearer " + std::string(kToken)});
    CHECK(good.status == 200);
    CHECK(good.body == "secret\n");
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: bearer  " + std::string(kToken)}).status == 200);

    TestResponse wrong = srv.request("GET", "/secret", {}, {"Authorization: Bearer not-the-token-0123456"});
    CHECK(wrong.status == 401);
    CHECK(wrong.body == none.body);
    CHECK(wrong.header("WWW-Authenticate") == none.header("WWW-Authenticate"));
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: Basic " + std::string(kToken)}).status == 401);
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: " + std::string(kToken)}).status == 401);
    // HEAD follows the GET route's protection.
    CHECK(srv.head("/secret").status == 401);

    // A denied request with a body is not read: the connection closes.
    TestResponse post = srv.post("/secret", std::string(1000, 'b'));
    CHECK(post.status == 401);
    CHECK(post.header("Connection") == "close");

    const AuthStats& st = auth.stats();
    CHECK(st.allowed == 2);
    CHECK(st.challenged == 3);
    CHECK(st.failures == 3);
}

TEST_CASE("auth: repeated failures slow the answer on the loop clock; success resets") {
    FakeClock clock;
    Auth auth;
    REQUIRE(auth.add_token(kToken));
    Router app;
    REQUIRE(app.get("/secret", ok_handler, {.auth = &auth}));
    TestServer srv(app, fake_clock_options());
    auto timed = [&](const std::string& token, int* status) {
        TimePoint t0 = Clock::now();
        *status = srv.request("GET", "/secret", {}, {"Authorization: Bearer " + token}).status;
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    };
    int status = 0;
    int64_t expect_ms[] = {0, 0, 0, 100, 200, 400, 800};
    for (int64_t want : expect_ms) {
        int64_t took = timed("wrong-token-0123456789", &status);
        CHECK(status == 401);
        CHECK(took >= want);
        CHECK(took < want + 50);
    }
    CHECK(auth.stats().delayed == 4);
    // The right token is not delayed and clears the count.
    CHECK(timed(std::string(kToken), &status) < 50);
    CHECK(status == 200);
    CHECK(timed("wrong-token-0123456789", &status) < 50);
    CHECK(status == 401);
}

TEST_CASE("auth: Basic is verified on the executor once, then remembered") {
    Auth auth({.realm = "device"});
    REQUIRE(auth.add_user(kAdminLine));
    Router app;
    REQUIRE(app.get("/secret", ok_handler, {.auth = &auth}));
    TestOptions o;
    o.limits = gust_test::test_limits();
    TestServer srv(app, o);
    Executor exec(srv.loop(), 1, 4);
    REQUIRE(exec.status());

    TestResponse none = srv.get("/secret");
    CHECK(none.status == 401);
    CHECK(none.header("WWW-Authenticate") == "Basic realm=\"device\", charset=\"UTF-8\"");

    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 200);
    CHECK(auth.stats().pbkdf2_runs == 1);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 200);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 200);
    CHECK(auth.stats().pbkdf2_runs == 1);
    CHECK(auth.stats().remembered == 2);
    // A wrong password is not taken from memory: PBKDF2 runs and says no.
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horsE")}).status == 401);
    CHECK(auth.stats().pbkdf2_runs == 2);
    // An unknown user costs a PBKDF2 run too.
    CHECK(srv.request("GET", "/secret", {}, {basic("root:correct horse")}).status == 401);
    CHECK(auth.stats().pbkdf2_runs == 3);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin")}).status == 401);
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: Basic !!not-base64!!"}).status == 401);
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: Bearer " + std::string(kToken)}).status == 401);
    CHECK(auth.stats().pbkdf2_runs == 3);
    CHECK(auth.stats().allowed == 3);
}

TEST_CASE("auth: with both schemes the 401 offers both and either admits") {
    Auth auth;
    REQUIRE(auth.add_token(kToken));
    REQUIRE(auth.add_user(kAdminLine));
    Router app;
    REQUIRE(app.get("/secret", ok_handler, {.auth = &auth}));
    TestOptions o;
    o.limits = gust_test::test_limits();
    TestServer srv(app, o);
    Executor exec(srv.loop(), 1, 4);
    TestResponse none = srv.get("/secret");
    CHECK(none.status == 401);
    int challenges = 0;
    for (auto& [name, value] : none.headers)
        if (name == "WWW-Authenticate") {
            ++challenges;
            CHECK((value == "Bearer realm=\"gust\"" || value == "Basic realm=\"gust\", charset=\"UTF-8\""));
        }
    CHECK(challenges == 2);
    CHECK(srv.request("GET", "/secret", {}, {"Authorization: Bearer " + std::string(kToken)}).status == 200);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 200);
}

TEST_CASE("auth: Basic without an executor is a 500, never a PBKDF2 run on the loop") {
    Auth auth;
    REQUIRE(auth.add_user(kAdminLine));
    Router app;
    REQUIRE(app.get("/secret", ok_handler, {.auth = &auth}));
    TestOptions o;
    o.limits = gust_test::test_limits();
    TestServer srv(app, o);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 500);
    CHECK(auth.stats().allowed == 0);
    // The verification slot went back: with an executor the same request passes.
    Executor exec(srv.loop(), 1, 4);
    for (int i = 0; i < GUST_AUTH_VERIFY_SLOTS + 1; ++i)
        CHECK(srv.request("GET", "/secret", {}, {basic("admin:wrong")}).status == 401);
    CHECK(srv.request("GET", "/secret", {}, {basic("admin:correct horse")}).status == 200);
}

TEST_CASE("auth: the response cache serves authenticated requests only when the route opts in") {
    FakeClock clock;
    Auth auth;
    REQUIRE(auth.add_token(kToken));
    Cache cache(16, 16 * 1024);
    int runs_private = 0, runs_shared = 0;
    Router app;
    auto counting = [](int* runs) {
        return [runs](Request&, Response& res) -> Task<> {
            ++*runs;
            res.text("figures\n");
            co_return;
        };
    };
    RouteOptions priv{.cache = {.store = &cache, .ttl = std::chrono::seconds(60)}, .auth = &auth};
    RouteOptions shared{.cache = {.store = &cache, .ttl = std::chrono::seconds(60), .authenticated = true}, .auth = &auth};
    REQUIRE(app.get("/private", counting(&runs_private), priv));
    REQUIRE(app.get("/shared", counting(&runs_shared), shared));
    TestServer srv(app, fake_clock_options());
    std::string bearer = "Authorization: Bearer " + std::string(kToken);
    for (int i = 0; i < 3; ++i) {
        CHECK(srv.request("GET", "/private", {}, {bearer}).status == 200);
        CHECK(srv.request("GET", "/shared", {}, {bearer}).status == 200);
        // Never from the cache without credentials, even once it holds the answer.
        TestResponse anon = srv.get("/shared");
        CHECK(anon.status == 401);
        CHECK(anon.body.find("figures") == std::string::npos);
    }
    CHECK(runs_private == 3);
    CHECK(runs_shared == 1);
}
