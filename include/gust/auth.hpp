// gust::Auth: per-route authentication with HTTP Bearer tokens and HTTP Basic
// passwords, and a growing delay for clients that keep failing.
//
//   Auth auth({.realm = "statusd"});                   // at start-up, before the Executor
//   auth.load_tokens("/etc/statusd/tokens");           // one token per line
//   auth.load_users("/etc/statusd/users");             // user:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX
//   app.get("/api/status", status, {.auth = &auth});   // one route,
//   app.protect(auth, {"/hello"});                     // or every route added so far but /hello
//
// The server checks a route's Auth before the handler runs, and so before its
// response cache (which serves requests carrying Authorization only with
// RouteCache::authenticated). What a request gets:
//  - no Authorization header: 401 with a WWW-Authenticate challenge per
//    configured scheme (Bearer realm="...", Basic realm="...", charset="UTF-8");
//    not counted as a failure (browsers ask first without credentials);
//  - a valid Bearer token or Basic user and password: the handler runs;
//  - anything else (wrong, unknown scheme, malformed): 401, the same bytes
//    whatever the reason. A denied request that carries a body is answered
//    with Connection: close, its body unread.
//
// Bearer tokens are kept as SHA-256 digests and a presented token is compared
// with every one of them in constant time. Basic passwords are PBKDF2-HMAC-
// SHA256 (RFC 8018) with a per-user salt, computed by mbedTLS on the loop's
// Executor (run_blocking), never on the loop: a route protected by Basic
// needs an Executor (500 without one; 503 with Retry-After when its queue or
// this Auth's GUST_AUTH_VERIFY_SLOTS are full). A verified password is
// remembered for AuthOptions::remember as a SHA-256 keyed with a random
// per-process secret, so a browser that sends it with every request costs one
// hash on the loop, not a PBKDF2 run. Unknown users cost a PBKDF2 run too, so
// timing does not tell which users exist.
//
// Failures are counted per client (an IPv4 address, or the /64 of an IPv6
// address) in a fixed table of GUST_AUTH_CLIENTS entries: from failure
// free_failures + 1 on, the 401 is sent after first_delay, doubling per
// failure up to max_delay, while the loop serves everyone else. A success or
// forget_after without a failure clears the count. A client that already has
// max_waiting delayed answers pending gets 429 (Retry-After) at once, without
// its credentials being checked, so parallel connections do not multiply its
// guesses. When the table is full, the entry with the oldest failure (and no
// answer pending) makes room. Clients behind one NAT address share a count.
//
// Memory: everything is in the object (tokens, users, the client table, the
// verification slots); nothing is allocated per request, except that
// mbedTLS allocates its HMAC context on the worker thread for each PBKDF2
// run. Threading: loop thread only; PBKDF2 jobs read the user table, fixed
// after start-up. An Auth must outlive the Server and the Executor that use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/clock.hpp>
#include <gust/result.hpp>

#ifndef GUST_AUTH_MAX_TOKENS
#define GUST_AUTH_MAX_TOKENS 16
#endif
#ifndef GUST_AUTH_MAX_USERS
#define GUST_AUTH_MAX_USERS 16
#endif
// Clients whose failures are remembered at once.
#ifndef GUST_AUTH_CLIENTS
#define GUST_AUTH_CLIENTS 64
#endif
// Basic passwords being verified on the Executor at once.
#ifndef GUST_AUTH_VERIFY_SLOTS
#define GUST_AUTH_VERIFY_SLOTS 4
#endif

namespace gust {

class Request;
class Response;

namespace http {
struct AuthAccess;  // the server's side (auth.cpp)
}

// Bearer tokens: 16..512 bytes of visible ASCII (no spaces).
inline constexpr size_t kAuthMinToken = 16;
inline constexpr size_t kAuthMaxToken = 512;
// Basic: user names up to 64 bytes (no ':'), passwords up to 256 bytes,
// salts 8..64 bytes, hashes 16..64 bytes, 1000..10 000 000 iterations.
inline constexpr size_t kAuthMaxUser = 64;
inline constexpr size_t kAuthMaxPassword = 256;
inline constexpr uint32_t kAuthMinIterations = 1000;
inline constexpr uint32_t kAuthMaxIterations = 10'000'000;

struct AuthOptions {
    const char* realm = "gust";      // copied; at most 64 bytes, no '"', '\\' or control bytes
    uint32_t free_failures = 3;      // failures answered without delay
    Duration first_delay = std::chrono::milliseconds(100);  // the delay of failure free_failures + 1
    Duration max_delay = std::chrono::seconds(5);          // the doubling stops here
    Duration forget_after = std::chrono::minutes(15);      // a client's count expires this long after its last failure
    uint32_t max_waiting = 2;        // delayed answers one client may have pending (429 past it)
    Duration remember = std::chrono::minutes(5);  // Basic: a verified password skips PBKDF2 this long; 0: never
};

// Whom failures count against: an IPv4 address, or an IPv6 address's /64 prefix.
struct AuthClient {
    uint64_t bits = 0;
    bool ipv6 = false;
    bool operator==(const AuthClient&) const = default;
    // From an IP literal ("192.0.2.7", "2001:db8::1"); Errc::invalid_argument otherwise.
    static Result<AuthClient> from_ip(std::string_view ip);
};

// Counters since start.
struct AuthStats {
    uint64_t allowed = 0;           // requests that reached their handler
    uint64_t challenged = 0;        // 401 to requests without credentials
    uint64_t failures = 0;          // 401 to wrong or malformed credentials
    uint64_t delayed = 0;           // of those, answered after a delay
    uint64_t throttled = 0;         // 429: the client had max_waiting answers pending
    uint64_t busy = 0;              // 503: no verification slot or Executor job free
    uint64_t pbkdf2_runs = 0;       // Basic passwords verified on the Executor
    uint64_t remembered = 0;        // Basic passwords accepted from the remembered digest
    uint64_t clients_replaced = 0;  // client entries given to another client while still counting
};

class Auth {
public:
    explicit Auth(const AuthOptions& options = {});
    ~Auth();
    Auth(const Auth&) = delete;
    Auth& operator=(const Auth&) = delete;

    // Errc::invalid_argument for a bad realm, Errc::io when no random secret could be read.
    Result<void> status() const;

    // Adds a Bearer token. Errc::invalid_argument when it is not 16..512 visible
    // ASCII bytes; Errc::no_memory past GUST_AUTH_MAX_TOKENS.
    Result<void> add_token(std::string_view token);
    // Adds the tokens of a file: one per line; blank lines and lines starting with
    // '#' are skipped, surrounding spaces ignored. Returns how many were added; on
    // an error *bad_line (when given) is the 1-based line (0: the file itself).
    Result<size_t> load_tokens(const char* path, size_t* bad_line = nullptr);
    // Adds a Basic user from "user:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX"
    // (make_password_line() or Python's hashlib.pbkdf2_hmac write it).
    // Errc::invalid_argument for a malformed line or a user already added,
    // Errc::no_memory past GUST_AUTH_MAX_USERS.
    Result<void> add_user(std::string_view line);
    // Adds the users of a file, one line each, as load_tokens().
    Result<size_t> load_users(const char* path, size_t* bad_line = nullptr);
    size_t token_count() const { return token_count_; }
    size_t user_count() const { return user_count_; }

    // True when `token` is one of the tokens (constant time over all of them).
    bool token_valid(std::string_view token) const;
    // True when `password` is `user`'s. Runs PBKDF2 on this thread: for tools
    // and tests, never on the loop.
    bool password_valid_blocking(std::string_view user, std::string_view password) const;

    // Records a failure by `client` at `now`; returns the delay before its answer
    // (zero for the first free_failures).
    Duration note_failure(AuthClient client, TimePoint now);
    // Forgets `client`'s failures.
    void note_success(AuthClient client);
    // Failures on record for `client` at `now` (0 once forgotten).
    uint32_t failures(AuthClient client, TimePoint now) const;
    // Clients with failures on record at `now` (at most GUST_AUTH_CLIENTS).
    uint32_t clients(TimePoint now) const;

    const AuthStats& stats() const { return stats_; }

    // Sets `res` to the 401 with this Auth's challenges.
    void challenge(Response& res) const;

private:
    friend struct http::AuthAccess;

    struct User {
        char name[kAuthMaxUser];
        uint8_t name_len = 0;
        uint8_t salt_len = 0;
        uint8_t hash_len = 0;
        uint32_t iterations = 0;
        uint8_t salt[64];
        uint8_t hash[64];
        // The last verified password as SHA-256(secret, user, ':', password), until remembered_until.
        uint8_t remembered[32];
        TimePoint remembered_until{};
    };
    struct ClientEntry {
        AuthClient client;
        uint32_t failures = 0;   // 0: free
        uint32_t waiting = 0;    // delayed answers pending
        TimePoint last{};
    };
    // A Basic password on its way through PBKDF2: the job reads it on a worker.
    struct VerifySlot {
        bool busy = false;
        const User* user = nullptr;  // nullptr: an unknown user (a decoy run, always false)
        uint8_t password_len = 0;
        char password[kAuthMaxPassword];
    };

    const User* find_user(std::string_view name) const;
    ClientEntry* find_client(AuthClient client, TimePoint now);
    const ClientEntry* find_client(AuthClient client, TimePoint now) const;
    void remember_digest(std::string_view user, std::string_view password, uint8_t out[32]) const;
    bool run_pbkdf2(const User* user, std::string_view password) const;
    Duration delay_for(uint32_t failures) const;

    AuthOptions options_;
    Error error_;
    char realm_[65] = {};
    uint8_t secret_[32] = {};
    uint8_t tokens_[GUST_AUTH_MAX_TOKENS][32];
    size_t token_count_ = 0;
    User users_[GUST_AUTH_MAX_USERS];
    size_t user_count_ = 0;
    ClientEntry clients_[GUST_AUTH_CLIENTS];
    VerifySlot slots_[GUST_AUTH_VERIFY_SLOTS];
    AuthStats stats_;
};

// Writes a Basic credentials line "user:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX"
// for `password` with a fresh random 16-byte salt and a 32-byte hash into `out`;
// returns the view into `out`. Blocking (PBKDF2 runs here): for tools, not the loop.
Result<std::string_view> make_password_line(std::string_view user, std::string_view password, uint32_t iterations,
                                            std::span<char> out);

}  // namespace gust
