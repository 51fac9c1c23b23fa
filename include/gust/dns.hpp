// gust::dns: a non-blocking stub resolver on the loop, and the DNS wire format
// it speaks (pure functions over caller-owned bytes, fuzzable).
//
//   dns::Resolver resolver(loop);                                  // reads /etc/resolv.conf and /etc/hosts
//   auto r = co_await resolver.resolve("example.com");             // Result<dns::AddressList>, IPv4 first
//   auto s = co_await with_timeout(2s, resolver.resolve(host, dns::Family::ipv6, 443));
//
// A lookup tries, in order: a literal IP ("1.2.3.4", "::1", "[::1]") and
// "localhost" (answered at once), the hosts file, the TTL cache, then the
// nameservers of resolv.conf: A and/or AAAA over UDP from a fresh socket on a
// kernel-chosen port with a random ID per try, one timeout per try, each server
// in turn for `attempts` rounds, and over TCP when an answer is truncated.
// An answer counts only when its source address and port, ID and question all
// match; anything else is dropped and the wait goes on. There is no search
// list: a name is always asked as given (fully qualified).
//
// Memory: everything is allocated once by the Resolver's constructor from
// ResolverOptions (lookup slots with their answer buffers, cache, hosts text).
// Lookups beyond max_lookups fail with Errc::no_memory rather than queue.
// Identical concurrent lookups (same name, same address families) share one
// set of queries. Destroying an awaiting coroutine (e.g. with_timeout) detaches
// it; the last one to leave cancels the queries (sockets closed, timers gone).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/clock.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>

namespace gust::port { struct Address; }

namespace gust::dns {

// Most addresses one lookup returns (more in an answer are dropped).
inline constexpr size_t kMaxAddresses = 8;
// Longest domain name in wire form, terminating root label included.
inline constexpr size_t kMaxNameWire = 255;
// Most nameservers taken from resolv.conf (resolv.conf's MAXNS).
inline constexpr size_t kMaxServers = 3;
// Longest CNAME chain followed inside one answer.
inline constexpr int kMaxCnameHops = 8;

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kClassIn = 1;

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

// ---- Addresses ---------------------------------------------------------------

// An IPv4 or IPv6 address plus a port, by value (network byte order bytes).
struct IpAddress {
    uint8_t bytes[16] = {};
    uint8_t length = 0;  // 4 (IPv4), 16 (IPv6), 0 (none)
    uint16_t port = 0;
    bool is_ipv4() const { return length == 4; }
    bool is_ipv6() const { return length == 16; }
    bool operator==(const IpAddress& o) const;
};

// Parses a bare IP literal "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4" or "[::1]" (no port, no zone).
Result<IpAddress> parse_ip(std::string_view text);
// Writes "1.2.3.4" or the RFC 5952 form "2001:db8::1" into `out` (NUL-terminated); returns the length, 0 if it did not fit.
size_t format_ip(const IpAddress& ip, std::span<char> out);
// The port layer's socket address for `ip` (used inside gust to connect); false when `ip` is empty.
bool to_socket_address(const IpAddress& ip, port::Address& out);

// Which addresses a lookup wants, and in which order they come back.
enum class Family : uint8_t {
    any,             // A and AAAA, IPv4 first
    any_ipv6_first,  // A and AAAA, IPv6 first
    ipv4,            // A only
    ipv6,            // AAAA only
};

// Up to kMaxAddresses addresses, stored in place.
struct AddressList {
    IpAddress items[kMaxAddresses];
    uint8_t count = 0;

    size_t size() const { return count; }
    bool empty() const { return count == 0; }
    const IpAddress& operator[](size_t i) const { return items[i]; }
    const IpAddress* begin() const { return items; }
    const IpAddress* end() const { return items + count; }
    // Appends `ip` unless full or already present; returns false when full.
    bool add(const IpAddress& ip);
};

// ---- Wire format (RFC 1035) ----------------------------------------------------

// A domain name in uncompressed wire form: length-prefixed labels, ASCII
// lower-cased, ending with the root label 0. length 0 means "none".
struct Name {
    uint8_t bytes[kMaxNameWire] = {};
    uint8_t length = 0;
    bool operator==(const Name& o) const;
};

// Converts "www.Example.com" or "www.example.com." to wire form (lower-cased).
// Labels are 1..63 of [A-Za-z0-9_-]; Errc::invalid_argument otherwise.
Result<void> encode_name(std::string_view text, Name& out);
// Writes `name` as dotted text without the final dot into `out` (NUL-terminated); returns the length, 0 if it did not fit.
size_t name_to_text(const Name& name, std::span<char> out);

// Builds a recursive (RD) query for (name, qtype, class IN) with `id`; returns its length.
Result<size_t> build_query(std::span<uint8_t> out, uint16_t id, const Name& name, uint16_t qtype);

// The question of a DNS message (for servers and tests).
struct Question {
    uint16_t id = 0;
    uint16_t flags = 0;
    Name name;
    uint16_t qtype = 0;
    uint16_t qclass = 0;
    size_t end = 0;  // offset just after the question
};
// Parses the header and the single question of `msg`; Errc::protocol when malformed.
Result<Question> parse_question(std::span<const uint8_t> msg);

// What a response says about the question it answers.
struct Answer {
    uint16_t id = 0;
    uint8_t rcode = 0;
    bool truncated = false;          // TC: ask again over TCP (nothing else was parsed)
    uint8_t count = 0;               // addresses of the asked type at the end of the CNAME chain
    IpAddress addresses[kMaxAddresses];
    uint8_t cname_hops = 0;
    bool has_ttl = false;            // ttl is valid (positive: from the records; negative: from the SOA)
    uint32_t ttl = 0;                // seconds
};

// Parses a response to (id, name, qtype, class IN). Errc::invalid_argument when
// the message is not an answer to that question (wrong ID, not a response,
// other question): a resolver ignores it. Errc::protocol when it is malformed
// (bad compression, pointer loops or out of bounds, truncated records, counts
// larger than the message, wrong address lengths, CNAME chain too long).
// Records in all sections are checked; only the answer chain from `name` is used.
// Trailing bytes after the last record are ignored.
Result<Answer> parse_response(std::span<const uint8_t> msg, uint16_t id, const Name& name, uint16_t qtype);

// ---- Configuration (pure parsers behind the Resolver, usable on their own) ------

struct ResolvConf {
    IpAddress servers[kMaxServers];  // their port is the one passed to parse_resolv_conf
    uint8_t server_count = 0;
    uint8_t timeout_s = 5;  // options timeout:N (1..30)
    uint8_t attempts = 2;   // options attempts:N (1..5)
};
// Parses resolv.conf text: up to 3 `nameserver` lines (IP literals; others are
// skipped) and `options timeout:N attempts:N`; other lines are ignored. With no
// usable nameserver, 127.0.0.1 (as glibc does).
ResolvConf parse_resolv_conf(std::string_view text, uint16_t port);
// Looks `host` up in hosts-file text: every line naming it adds its address when
// of a wanted family, in `family`'s order, at `port`. Returns how many were added.
size_t hosts_lookup(std::string_view text, std::string_view host, Family family, uint16_t port, AddressList& out);

// ---- Resolver --------------------------------------------------------------------

struct ResolverOptions {
    const char* resolv_conf_path = "/etc/resolv.conf";  // must outlive the Resolver
    const char* hosts_path = "/etc/hosts";              // must outlive the Resolver
    uint16_t dns_port = 53;       // port every nameserver is asked on (tests point it at a fake server)
    uint16_t max_lookups = 16;    // distinct lookups in flight; beyond, Errc::no_memory
    uint16_t cache_entries = 32;  // (name, type) answers kept, least recently used evicted; 0 disables
    uint16_t max_message = 2048;  // bytes per answer buffer (two per lookup slot); larger TCP answers fail
    uint32_t hosts_bytes = 4096;  // bytes of the hosts file consulted (the rest is ignored, with a warning)
    Duration negative_ttl = 30s;  // NXDOMAIN / no-data TTL when the answer carries no SOA
    Duration max_negative_ttl = 300s;
    Duration max_ttl = 3600s;     // cap on positive TTLs
    Duration recheck = 1s;        // config files are stat()ed at most this often
};

// Counters for tests and status pages.
struct ResolverStats {
    uint64_t queries_sent = 0;     // UDP datagrams sent
    uint64_t tcp_retries = 0;      // truncated answers asked again over TCP
    uint64_t ignored = 0;          // datagrams dropped (wrong source, ID or question)
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;
    uint64_t shared = 0;           // lookups that joined one already in flight
    uint64_t config_reloads = 0;   // resolv.conf or hosts re-read after a change
};

namespace detail { struct Lookup; }
class Resolver;

// The awaiter behind Resolver::resolve(): `co_await` yields Result<AddressList>.
// Movable only until awaited. Destroying it while suspended leaves the lookup.
class [[nodiscard]] ResolveAwaiter {
public:
    ResolveAwaiter(Resolver& r, std::string_view host, Family family, uint16_t port)
        : resolver_(&r), host_(host), family_(family), port_(port) {}
    ResolveAwaiter(ResolveAwaiter&& o) : resolver_(o.resolver_), host_(o.host_), family_(o.family_), port_(o.port_) {}
    ResolveAwaiter& operator=(ResolveAwaiter&&) = delete;
    ~ResolveAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) { resume_.handle = h; }
    Result<AddressList> await_resume() const {
        return error_.code == Errc::ok ? Result<AddressList>(list_) : Result<AddressList>(error_);
    }

private:
    friend class Resolver;
    Resolver* resolver_;
    std::string_view host_;
    Family family_;
    uint16_t port_;
    detail::Lookup* lookup_ = nullptr;  // while waiting on queries
    ResolveAwaiter* next_ = nullptr;    // waiters of the same lookup
    ResolveAwaiter* prev_ = nullptr;
    ResumeNode resume_;
    AddressList list_;
    Error error_;
};

class Resolver {
public:
    // Allocates every pool from `options` and reads the config files. Check status().
    explicit Resolver(Loop& loop, const ResolverOptions& options = ResolverOptions());
    // Cancels lookups in flight: their waiters resume with Errc::cancelled on the next turn.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Success, or Errc::no_memory when the pools could not be allocated.
    Result<void> status() const { return init_error_.code == Errc::ok ? Result<void>() : Result<void>(init_error_); }

    // `co_await resolve(host)` yields up to kMaxAddresses addresses at `port`.
    // `host` is read when the co_await starts (it must live until then).
    // Errors: not_found ("host not found": NXDOMAIN, or no address of the family),
    // timeout (no nameserver answered), dns (SERVFAIL/REFUSED), protocol (malformed
    // answers), invalid_argument (bad name), no_memory (max_lookups in flight).
    ResolveAwaiter resolve(std::string_view host, Family family = Family::any, uint16_t port = 0) {
        return ResolveAwaiter(*this, host, family, port);
    }

    // Forgets every cached answer.
    void clear_cache();
    // Re-reads the config files now if they changed (resolve() does this at most once per recheck).
    void check_config();
    // The nameservers in use (their port is the DNS port).
    std::span<const IpAddress> nameservers() const { return {conf_.servers, conf_.server_count}; }
    // Seconds per try and rounds over the nameservers, from resolv.conf.
    int timeout_s() const { return conf_.timeout_s; }
    int attempts() const { return conf_.attempts; }
    // Lookups in flight now.
    uint32_t lookups_in_flight() const { return in_flight_; }
    const ResolverStats& stats() const { return stats_; }

private:
    friend class ResolveAwaiter;
    struct Impl;  // the machinery, in resolver.cpp
    struct CacheEntry;

    Loop& loop_;
    ResolverOptions options_;
    Error init_error_;
    detail::Lookup* lookups_ = nullptr;
    uint8_t* buffers_ = nullptr;
    CacheEntry* cache_ = nullptr;
    char* hosts_ = nullptr;
    size_t hosts_len_ = 0;
    ResolvConf conf_;
    uint64_t hosts_stamp_[3] = {};
    uint64_t resolv_stamp_[3] = {};
    bool config_loaded_ = false;
    TimePoint last_check_{};
    uint64_t use_counter_ = 0;
    uint32_t in_flight_ = 0;
    ResolverStats stats_;
};

}  // namespace gust::dns
