// Authentication (see <gust/auth.hpp>). Everything but PBKDF2 runs on the
// loop thread and is cheap: a token check is one SHA-256 and a scan of at
// most GUST_AUTH_MAX_TOKENS digests; a remembered Basic password is one
// SHA-256. PBKDF2 is slow on purpose, so it goes to the Executor with the
// password copied into one of the Auth's verification slots: the job must not
// point into a request that may be gone before the job ends.
#include <gust/auth.hpp>

#include <cstdio>
#include <cstring>

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>

#include <gust/executor.hpp>
#include <gust/http.hpp>
#include <gust/log.hpp>
#include <gust/router.hpp>

#include "../tls/mbedtls_compat.hpp"
#include "server_internal.hpp"

namespace gust {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr size_t kMaxFile = 16 * 1024;

bool ct_equal(const uint8_t* a, const uint8_t* b, size_t n) {
    uint8_t diff = 0;
    for (size_t i = 0; i < n; ++i) diff |= uint8_t(a[i] ^ b[i]);
    return diff == 0;
}

bool sha256(std::string_view s, uint8_t out[32]) {
    return tls_compat::sha256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out) == 0;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool visible_ascii(std::string_view s) {
    for (char c : s)
        if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f) return false;
    return true;
}

bool valid_user(std::string_view s) {
    if (s.empty() || s.size() > kAuthMaxUser) return false;
    for (char c : s)
        if (c == ':' || uint8_t(c) < 0x20 || c == 0x7f) return false;
    return true;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes `hex` of min..max bytes into out.
bool from_hex(std::string_view hex, uint8_t* out, size_t min, size_t max, uint8_t& n) {
    if (hex.size() % 2 || hex.size() / 2 < min || hex.size() / 2 > max) return false;
    for (size_t i = 0; i < hex.size() / 2; ++i) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = uint8_t(hi << 4 | lo);
    }
    n = uint8_t(hex.size() / 2);
    return true;
}

size_t to_hex(const uint8_t* in, size_t n, char* out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    return 2 * n;
}

bool parse_u32(std::string_view s, uint32_t& v) {
    if (s.empty() || s.size() > 10) return false;
    uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + uint64_t(c - '0');
    }
    if (n > UINT32_MAX) return false;
    v = uint32_t(n);
    return true;
}

// The text up to the next ':' (all of it when there is none), removed from `rest`.
std::string_view next_field(std::string_view& rest) {
    size_t colon = rest.find(':');
    std::string_view f = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    return f;
}

// Calls add(line) for each line of a small file that is neither blank nor a comment.
template <typename F>
Result<size_t> load_lines(const char* path, size_t* bad_line, F&& add) {
    if (bad_line) *bad_line = 0;
    // Start-up only: the file is read whole into the stack and wiped after.
    uint8_t buf[kMaxFile + 1];
    auto got = port::read_file(path, std::span<uint8_t>(buf, sizeof buf));
    if (!got) return got.error();
    std::string_view text(reinterpret_cast<const char*>(buf), *got);
    Result<size_t> out = size_t(0);
    if (*got > kMaxFile) out = Error(Errc::too_large, "auth: file larger than 16 KiB");
    size_t line_no = 0, added = 0;
    while (out && !text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') continue;
        Result<void> r = add(line);
        if (!r) {
            if (bad_line) *bad_line = line_no;
            out = r.error();
        }
        ++added;
    }
    mbedtls_platform_zeroize(buf, *got);
    if (out) out = added;
    return out;
}

AuthClient client_of(const port::Address& addr) {
    uint8_t b[16];
    size_t n = port::ip_bytes(addr, b);
    AuthClient c;
    c.ipv6 = n == 16;
    // IPv6: the /64, since one host usually holds a whole prefix.
    size_t take = n == 16 ? 8 : n;
    for (size_t i = 0; i < take; ++i) c.bits = c.bits << 8 | b[i];
    return c;
}

}  // namespace

Result<AuthClient> AuthClient::from_ip(std::string_view ip) {
    auto a = port::parse_ip(ip, 0);
    if (!a) return Error(Errc::invalid_argument, "auth: not an IP address");
    return client_of(*a);
}

// ---- Setting up -----------------------------------------------------------------------

Auth::Auth(const AuthOptions& options) : options_(options) {
    std::string_view realm = options.realm ? options.realm : "";
    bool ok = !realm.empty() && realm.size() < sizeof realm_;
    for (char c : realm)
        if (c == '"' || c == '\\' || uint8_t(c) < 0x20 || c == 0x7f) ok = false;
    if (ok) std::memcpy(realm_, realm.data(), realm.size());
    else error_ = Error(Errc::invalid_argument, "auth: the realm must be 1..64 bytes without '\"', '\\' or control bytes");
    if (!port::random_bytes(secret_)) error_ = Error(Errc::io, "auth: no random bytes for the password cache key");
}

Auth::~Auth() {
    mbedtls_platform_zeroize(secret_, sizeof secret_);
    mbedtls_platform_zeroize(users_, sizeof users_);
    mbedtls_platform_zeroize(slots_, sizeof slots_);
}

Result<void> Auth::status() const {
    if (error_.code != Errc::ok) return error_;
    return {};
}

Result<void> Auth::add_token(std::string_view token) {
    if (token.size() < kAuthMinToken || token.size() > kAuthMaxToken || !visible_ascii(token))
        return Error(Errc::invalid_argument, "auth: a token must be 16..512 visible ASCII bytes");
    if (token_count_ == GUST_AUTH_MAX_TOKENS) return Error(Errc::no_memory, "auth: too many tokens (raise GUST_AUTH_MAX_TOKENS)");
    if (!sha256(token, tokens_[token_count_])) return Error(Errc::tls, "auth: SHA-256 failed");
    ++token_count_;
    return {};
}

Result<size_t> Auth::load_tokens(const char* path, size_t* bad_line) {
    return load_lines(path, bad_line, [this](std::string_view line) { return add_token(line); });
}

Result<void> Auth::add_user(std::string_view line) {
    std::string_view rest = line;
    std::string_view name = next_field(rest), scheme = next_field(rest), iterations = next_field(rest),
                     salt = next_field(rest), hash = rest;
    if (!valid_user(name)) return Error(Errc::invalid_argument, "auth: a user name must be 1..64 bytes without ':' or control bytes");
    if (scheme != kScheme) return Error(Errc::invalid_argument, "auth: expected user:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX");
    User u;
    if (!parse_u32(iterations, u.iterations) || u.iterations < kAuthMinIterations || u.iterations > kAuthMaxIterations)
        return Error(Errc::invalid_argument, "auth: iterations must be 1000..10000000");
    if (!from_hex(salt, u.salt, 8, sizeof u.salt, u.salt_len)) return Error(Errc::invalid_argument, "auth: the salt must be 8..64 bytes in hex");
    if (!from_hex(hash, u.hash, 16, sizeof u.hash, u.hash_len)) return Error(Errc::invalid_argument, "auth: the hash must be 16..64 bytes in hex");
    if (find_user(name)) return Error(Errc::invalid_argument, "auth: user listed twice");
    if (user_count_ == GUST_AUTH_MAX_USERS) return Error(Errc::no_memory, "auth: too many users (raise GUST_AUTH_MAX_USERS)");
    std::memcpy(u.name, name.data(), name.size());
    u.name_len = uint8_t(name.size());
    users_[user_count_++] = u;
    return {};
}

Result<size_t> Auth::load_users(const char* path, size_t* bad_line) {
    return load_lines(path, bad_line, [this](std::string_view line) { return add_user(line); });
}

// ---- Checks -----------------------------------------------------------------------------

bool Auth::token_valid(std::string_view token) const {
    uint8_t d[32];
    if (token.size() > kAuthMaxToken || !sha256(token, d)) return false;
    uint8_t found = 0;
    for (size_t i = 0; i < token_count_; ++i) found |= uint8_t(ct_equal(tokens_[i], d, sizeof d));
    return found != 0;
}

const Auth::User* Auth::find_user(std::string_view name) const {
    for (size_t i = 0; i < user_count_; ++i)
        if (std::string_view(users_[i].name, users_[i].name_len) == name) return &users_[i];
    return nullptr;
}

bool Auth::run_pbkdf2(const User* user, std::string_view password) const {
    if (user_count_ == 0) return false;
    // An unknown user costs the same as a known one: the first user's parameters, always false.
    const User& u = user ? *user : users_[0];
    uint8_t out[64];
    int ret = tls_compat::pbkdf2_sha256(reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                                        u.salt, u.salt_len, u.iterations, out, u.hash_len);
    bool ok = ret == 0 && ct_equal(out, u.hash, u.hash_len) && user != nullptr;
    mbedtls_platform_zeroize(out, sizeof out);
    return ok;
}

bool Auth::password_valid_blocking(std::string_view user, std::string_view password) const {
    if (password.size() > kAuthMaxPassword) return false;
    return run_pbkdf2(find_user(user), password);
}

void Auth::remember_digest(std::string_view user, std::string_view password, uint8_t out[32]) const {
    uint8_t buf[sizeof secret_ + kAuthMaxUser + 1 + kAuthMaxPassword];
    size_t n = 0;
    std::memcpy(buf, secret_, sizeof secret_);
    n += sizeof secret_;
    std::memcpy(buf + n, user.data(), user.size());
    n += user.size();
    buf[n++] = ':';
    std::memcpy(buf + n, password.data(), password.size());
    n += password.size();
    if (tls_compat::sha256(buf, n, out) != 0) std::memset(out, 0xff, 32);
    mbedtls_platform_zeroize(buf, n);
}

// ---- Failures ---------------------------------------------------------------------------

const Auth::ClientEntry* Auth::find_client(AuthClient client, TimePoint now) const {
    for (const ClientEntry& e : clients_) {
        if (e.failures == 0 && e.waiting == 0) continue;
        if (!(e.client == client)) continue;
        if (e.waiting == 0 && now - e.last >= options_.forget_after) return nullptr;
        return &e;
    }
    return nullptr;
}

Auth::ClientEntry* Auth::find_client(AuthClient client, TimePoint now) {
    return const_cast<ClientEntry*>(static_cast<const Auth*>(this)->find_client(client, now));
}

Duration Auth::note_failure(AuthClient client, TimePoint now) {
    ClientEntry* e = find_client(client, now);
    if (!e) {
        // A free or expired entry, else the one whose last failure is oldest
        // (entries with answers pending go last).
        ClientEntry* pick = nullptr;
        bool pick_live = true;
        for (ClientEntry& c : clients_) {
            bool live = (c.failures || c.waiting) && (c.waiting || now - c.last < options_.forget_after);
            if (!live) {
                pick = &c;
                pick_live = false;
                break;
            }
            if (!pick || (c.waiting == 0 && pick->waiting != 0) ||
                ((c.waiting == 0) == (pick->waiting == 0) && c.last < pick->last))
                pick = &c;
        }
        if (pick_live) ++stats_.clients_replaced;
        *pick = ClientEntry();
        pick->client = client;
        e = pick;
    }
    if (e->failures < UINT32_MAX) ++e->failures;
    e->last = now;
    return delay_for(e->failures);
}

Duration Auth::delay_for(uint32_t failures) const {
    if (failures <= options_.free_failures) return Duration(0);
    uint32_t doublings = failures - options_.free_failures - 1;
    Duration d = options_.first_delay;
    for (uint32_t i = 0; i < doublings && d < options_.max_delay; ++i) d *= 2;
    return d < options_.max_delay ? d : options_.max_delay;
}

void Auth::note_success(AuthClient client) {
    for (ClientEntry& e : clients_)
        if ((e.failures || e.waiting) && e.client == client) e.failures = 0;
}

uint32_t Auth::failures(AuthClient client, TimePoint now) const {
    const ClientEntry* e = find_client(client, now);
    return e ? e->failures : 0;
}

uint32_t Auth::clients(TimePoint now) const {
    uint32_t n = 0;
    for (const ClientEntry& e : clients_)
        if (e.waiting || (e.failures && now - e.last < options_.forget_after)) ++n;
    return n;
}

void Auth::challenge(Response& res) const {
    char v[128];
    res.status(401);
    if (token_count_ || !user_count_) {
        int n = std::snprintf(v, sizeof v, "Bearer realm=\"%s\"", realm_);
        res.header("WWW-Authenticate", std::string_view(v, size_t(n)));
    }
    if (user_count_) {
        int n = std::snprintf(v, sizeof v, "Basic realm=\"%s\", charset=\"UTF-8\"", realm_);
        res.header("WWW-Authenticate", std::string_view(v, size_t(n)));
    }
    res.text("401 Unauthorized\n");
}

Result<std::string_view> make_password_line(std::string_view user, std::string_view password, uint32_t iterations,
                                            std::span<char> out) {
    if (!valid_user(user)) return Error(Errc::invalid_argument, "auth: a user name must be 1..64 bytes without ':' or control bytes");
    if (password.size() > kAuthMaxPassword) return Error(Errc::invalid_argument, "auth: a password is at most 256 bytes");
    if (iterations < kAuthMinIterations || iterations > kAuthMaxIterations)
        return Error(Errc::invalid_argument, "auth: iterations must be 1000..10000000");
    uint8_t salt[16], hash[32];
    if (!port::random_bytes(salt)) return Error(Errc::io, "auth: no random bytes for the salt");
    if (tls_compat::pbkdf2_sha256(reinterpret_cast<const unsigned char*>(password.data()), password.size(), salt,
                                  sizeof salt, iterations, hash, sizeof hash) != 0)
        return Error(Errc::tls, "auth: PBKDF2 failed");
    char line[kAuthMaxUser + 64 + 2 * (sizeof salt + sizeof hash)];
    int n = std::snprintf(line, sizeof line, "%.*s:%.*s:%u:", int(user.size()), user.data(), int(kScheme.size()),
                          kScheme.data(), unsigned(iterations));
    size_t len = size_t(n);
    len += to_hex(salt, sizeof salt, line + len);
    line[len++] = ':';
    len += to_hex(hash, sizeof hash, line + len);
    mbedtls_platform_zeroize(hash, sizeof hash);
    if (len > out.size()) return Error(Errc::too_large, "auth: output too small for the line");
    std::memcpy(out.data(), line, len);
    return std::string_view(out.data(), len);
}

// A Router hook that belongs with the Auth it installs.
size_t Router::protect(Auth& auth, std::initializer_list<std::string_view> except) {
    size_t n = 0;
    for (size_t i = 0; i < count_; ++i) {
        bool skip = false;
        for (std::string_view p : except) skip = skip || routes_[i].pattern == p;
        if (skip) continue;
        routes_[i].options.auth = &auth;
        ++n;
    }
    return n;
}

// ---- In the server ----------------------------------------------------------------------

namespace http {

struct AuthAccess {
    enum class Outcome : uint8_t { allow, deny, verify, busy };
    struct Check {
        Outcome outcome = Outcome::deny;
        Auth::VerifySlot* slot = nullptr;
        Auth::User* user = nullptr;
        uint8_t digest[32];  // the remembered-password digest, kept when PBKDF2 says yes
    };

    // A PBKDF2 verdict; gives its slot back when destroyed on the loop thread,
    // whether the waiting coroutine takes it or is gone.
    struct Verified {
        Auth::VerifySlot* slot = nullptr;
        bool ok = false;
        Verified(Auth::VerifySlot* s, bool v) : slot(s), ok(v) {}
        Verified(Verified&& o) : slot(o.slot), ok(o.ok) { o.slot = nullptr; }
        Verified& operator=(Verified&&) = delete;
        ~Verified() {
            if (slot) release(*slot);
        }
    };

    static void release(Auth::VerifySlot& s) {
        mbedtls_platform_zeroize(s.password, s.password_len);
        s.password_len = 0;
        s.user = nullptr;
        s.busy = false;
    }

    // Decides what the loop can decide now.
    static void check(Auth& a, std::string_view authorization, TimePoint now, Check& out) {
        std::string_view v = trim(authorization);
        size_t sp = v.find(' ');
        std::string_view scheme = v.substr(0, sp);
        std::string_view cred = sp == std::string_view::npos ? std::string_view() : trim(v.substr(sp + 1));
        out.outcome = Outcome::deny;
        if (iequals(scheme, "Bearer")) {
            if (a.token_count_ && a.token_valid(cred)) out.outcome = Outcome::allow;
            return;
        }
        if (!iequals(scheme, "Basic") || a.user_count_ == 0) return;
        unsigned char buf[kAuthMaxUser + 1 + kAuthMaxPassword];
        size_t n = 0;
        if (mbedtls_base64_decode(buf, sizeof buf, &n, reinterpret_cast<const unsigned char*>(cred.data()),
                                  cred.size()) != 0)
            return;
        std::string_view text(reinterpret_cast<const char*>(buf), n);
        size_t colon = text.find(':');
        std::string_view user = text.substr(0, colon);
        std::string_view password = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
        if (colon != std::string_view::npos && user.size() <= kAuthMaxUser && password.size() <= kAuthMaxPassword) {
            out.user = const_cast<Auth::User*>(a.find_user(user));
            a.remember_digest(user, password, out.digest);
            if (out.user && a.options_.remember > Duration(0) && now < out.user->remembered_until &&
                ct_equal(out.digest, out.user->remembered, sizeof out.digest)) {
                ++a.stats_.remembered;
                out.outcome = Outcome::allow;
            } else {
                out.outcome = Outcome::busy;
                for (Auth::VerifySlot& s : a.slots_) {
                    if (s.busy) continue;
                    s.busy = true;
                    s.user = out.user;
                    std::memcpy(s.password, password.data(), password.size());
                    s.password_len = uint8_t(password.size());
                    out.slot = &s;
                    out.outcome = Outcome::verify;
                    break;
                }
            }
        }
        mbedtls_platform_zeroize(buf, sizeof buf);
    }

    static auto verify(Auth& a, Auth::VerifySlot* s) {
        return run_blocking([a = &a, s] {
            return Verified(s, a->run_pbkdf2(s->user, std::string_view(s->password, s->password_len)));
        });
    }

    // Counts a delayed answer pending for `who` while in scope, so a client
    // cannot have more than max_waiting of them.
    struct Waiting {
        Auth& a;
        AuthClient who;
        Waiting(Auth& auth, AuthClient c) : a(auth), who(c) {
            if (Auth::ClientEntry* e = a.find_client(who, Clock::now())) ++e->waiting;
        }
        ~Waiting() {
            for (Auth::ClientEntry& e : a.clients_)
                if (e.waiting && e.client == who) {
                    --e.waiting;
                    e.last = Clock::now();  // its delay counts from the answer
                    break;
                }
        }
    };

    static void deny(Connection& c, const Request& req, Response& res, const Auth& a) {
        // Reading an unauthenticated body only helps whoever sends it.
        if (req.has_body()) c.close_after = true;
        a.challenge(res);
    }

    static void busy(Response& res) {
        if (res.head_sent() || res.complete()) return;
        res.status(503).header("Retry-After", "1").text("503 Service Unavailable\n");
    }

    static Task<> serve(Connection& c, const Route& route, Request& req, Response& res) {
        Auth& a = *route.options.auth;
        AuthClient who = client_of(c.peer);
        std::string_view authorization = req.header("Authorization");
        if (!authorization.data()) {
            ++a.stats_.challenged;
            deny(c, req, res, a);
            co_return;
        }
        TimePoint now = Clock::now();
        uint32_t max_waiting = a.options_.max_waiting ? a.options_.max_waiting : 1;
        if (const Auth::ClientEntry* e = a.find_client(who, now); e && e->waiting >= max_waiting) {
            ++a.stats_.throttled;
            c.close_after = true;
            // Retry-After: the delay its next failure would earn, in whole seconds.
            auto secs = std::chrono::ceil<std::chrono::seconds>(a.delay_for(e->failures + 1)).count();
            char after[24];
            int n = std::snprintf(after, sizeof after, "%lld", static_cast<long long>(secs > 0 ? secs : 1));
            res.status(429).header("Retry-After", std::string_view(after, size_t(n))).text("429 Too Many Requests\n");
            co_return;
        }
        Check ck;
        check(a, authorization, now, ck);
        if (ck.outcome == Outcome::busy) {
            ++a.stats_.busy;
            busy(res);
            co_return;
        }
        bool ok = ck.outcome == Outcome::allow;
        if (ck.outcome == Outcome::verify) {
            ++a.stats_.pbkdf2_runs;
            auto v = co_await verify(a, ck.slot);
            if (!v) {
                // The job never started: the slot is still ours to give back.
                release(*ck.slot);
                if (v.error().code == Errc::no_memory) {
                    ++a.stats_.busy;
                    busy(res);
                } else {
                    log_error("auth: cannot verify a Basic password: %s", v.error().message);
                    res.status(500).text("500 Internal Server Error\n");
                }
                co_return;
            }
            ok = v->ok;
            if (ok && ck.user && a.options_.remember > Duration(0)) {
                std::memcpy(ck.user->remembered, ck.digest, sizeof ck.digest);
                ck.user->remembered_until = Clock::now() + a.options_.remember;
            }
        }
        mbedtls_platform_zeroize(ck.digest, sizeof ck.digest);
        if (ok) {
            a.note_success(who);
            ++a.stats_.allowed;
            auto done = co_await route.handler(req, res);
            if (!done) busy(res);
            co_return;
        }
        ++a.stats_.failures;
        Duration delay = a.note_failure(who, Clock::now());
        if (delay > Duration(0)) {
            ++a.stats_.delayed;
            Waiting pending(a, who);
            (void)co_await sleep(delay);  // no timer free: answer at once rather than not at all
        }
        deny(c, req, res, a);
    }
};

Task<> serve_authorized(Connection& c, const Route& route, Request& req, Response& res) {
    return AuthAccess::serve(c, route, req, res);
}

}  // namespace http

}  // namespace gust
