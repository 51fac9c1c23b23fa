// dns: the wire format (table-driven, every truncation point, inputs against a
// guard page), the config parsers, and the Resolver against a fake DNS server
// that runs on the same Loop (UDP on 127.0.0.1:<ephemeral>, plus TCP on the
// same port for truncated answers). The fake clock makes timeouts instant.
#include <doctest/doctest.h>

#include <gust/dns.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "test_support.hpp"

using namespace gust;
using namespace gust::dns;
using gust_test::FakeClock;
using Bytes = std::vector<uint8_t>;

namespace {

// ---- Message building (independent of the library's encoder) --------------------------

void put16(Bytes& b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
void put32(Bytes& b, uint32_t v) {
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}
void put_name(Bytes& b, const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
        size_t dot = dotted.find('.', start);
        if (dot == std::string::npos) dot = dotted.size();
        b.push_back(uint8_t(dot - start));
        b.insert(b.end(), dotted.begin() + long(start), dotted.begin() + long(dot));
        start = dot + 1;
    }
    b.push_back(0);
}
void put_header(Bytes& b, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    put16(b, id);
    put16(b, flags);
    put16(b, qd);
    put16(b, an);
    put16(b, ns);
    put16(b, ar);
}
std::string text(const IpAddress& ip) {
    char buf[64];
    size_t n = format_ip(ip, buf);
    return std::string(buf, n);
}
Name name_of(const char* s) {
    Name n;
    REQUIRE(encode_name(s, n));
    return n;
}
IpAddress ip_of(const char* s) {
    auto ip = parse_ip(s);
    REQUIRE_MESSAGE(ip.ok(), s);
    return *ip;
}

// What the fake server does for one (name, type).
struct Rule {
    std::string name = {};
    uint16_t qtype = kTypeA;
    std::vector<std::string> ips = {};
    std::vector<std::string> cname_chain = {};  // name -> chain[0] -> chain[1] ...; addresses belong to the last
    uint8_t rcode = kRcodeNoError;
    uint32_t ttl = 60;
    int soa_minimum = -1;  // >= 0: put an SOA in the authority section
    bool truncate_udp = false;
    bool spoof_id_first = false;
    bool wrong_question_first = false;
    bool other_port_first = false;
    bool silent = false;
    bool garbage = false;  // answer with a malformed message (right ID and question)
};

// A response to `q` following `rule` (nullptr: NXDOMAIN).
Bytes make_response(const Question& q, const Rule* rule, bool tc) {
    char qname[256];
    size_t n = name_to_text(q.name, qname);
    std::string name(qname, n);
    Bytes b;
    uint8_t rcode = rule ? rule->rcode : kRcodeNxDomain;
    uint16_t flags = uint16_t(0x8000 | 0x0100 | 0x0080 | rcode | (tc ? 0x0200 : 0));
    std::vector<std::string> owners{name};
    if (rule)
        for (auto& c : rule->cname_chain) owners.push_back(c);
    uint16_t an = 0;
    bool soa = rule && rule->soa_minimum >= 0;
    if (!tc && rule) an = uint16_t(owners.size() - 1 + rule->ips.size());
    if (rule && rule->garbage) an = 40;  // far more records than the message holds
    put_header(b, q.id, flags, 1, an, (!tc && soa) ? 1 : 0, 0);
    put_name(b, name);
    put16(b, q.qtype);
    put16(b, q.qclass);
    if (tc || !rule || rule->garbage) return b;
    auto put_owner = [&](size_t i) {
        if (i == 0) put16(b, 0xC00C);  // compressed: points at the question's name
        else put_name(b, owners[i]);
    };
    for (size_t i = 0; i + 1 < owners.size(); ++i) {
        put_owner(i);
        put16(b, kTypeCname);
        put16(b, kClassIn);
        put32(b, rule->ttl);
        Bytes target;
        put_name(target, owners[i + 1]);
        put16(b, uint16_t(target.size()));
        b.insert(b.end(), target.begin(), target.end());
    }
    for (auto& s : rule->ips) {
        IpAddress ip = ip_of(s.c_str());
        put_owner(owners.size() - 1);
        put16(b, ip.is_ipv4() ? kTypeA : kTypeAaaa);
        put16(b, kClassIn);
        put32(b, rule->ttl);
        put16(b, ip.length);
        b.insert(b.end(), ip.bytes, ip.bytes + ip.length);
    }
    if (soa) {
        put16(b, 0xC00C);
        put16(b, kTypeSoa);
        put16(b, kClassIn);
        put32(b, 3600);
        Bytes rd;
        put_name(rd, "ns.test");
        put_name(rd, "admin.test");
        for (int i = 0; i < 4; ++i) put32(rd, 1);
        put32(rd, uint32_t(rule->soa_minimum));
        put16(b, uint16_t(rd.size()));
        b.insert(b.end(), rd.begin(), rd.end());
    }
    return b;
}

port::Address sock(const char* text) {
    auto a = port::parse_address(text);
    REQUIRE_MESSAGE(a.ok(), text);
    return *a;
}

// A DNS server on the test's Loop answering from `rules` (unknown names: NXDOMAIN).
struct FakeServer {
    Loop& loop;
    int udp = -1, listener = -1, conn = -1, other = -1;
    WatchId udp_watch, listen_watch, conn_watch;
    uint16_t port = 0;
    std::vector<Rule> rules;
    int udp_queries = 0, tcp_queries = 0;
    Bytes tcp_in;

    explicit FakeServer(Loop& l) : loop(l) {}
    ~FakeServer() {
        close_conn();
        if (udp >= 0) loop.remove_watch(udp_watch), port::close(udp);
        if (listener >= 0) loop.remove_watch(listen_watch), port::close(listener);
        port::close(other);
    }
    // Binds UDP (and TCP when `tcp`) on ip:port (port 0: ephemeral).
    bool start(const char* ip, uint16_t want_port = 0, bool tcp = true) {
        // UDP and TCP must share a port number; the kernel picks the UDP one,
        // and that number can be taken for TCP: then try another.
        for (int attempt = 0; attempt < 50; ++attempt) {
            auto a = port::parse_ip(ip, want_port);
            if (!a) return false;
            auto fd = port::udp_open(*a);
            if (!fd) return false;
            uint16_t p = port::local_address(*fd)->port();
            int l = -1;
            if (tcp) {
                a->set_port(p);
                auto lr = port::tcp_listen(*a, 8);
                if (!lr) {
                    port::close(*fd);
                    if (want_port) return false;
                    continue;
                }
                l = *lr;
            }
            udp = *fd;
            port = p;
            udp_watch = *loop.add_watch(udp);
            (void)loop.on_readable(udp_watch, [this] { on_udp(); });
            auto o = port::udp_open(sock("127.0.0.1:0"));
            other = o ? *o : -1;
            if (tcp) {
                listener = l;
                listen_watch = *loop.add_watch(listener);
                (void)loop.on_readable(listen_watch, [this] { on_accept(); });
            }
            return true;
        }
        return false;
    }
    const Rule* find(const Question& q) const {
        char buf[256];
        std::string name(buf, name_to_text(q.name, buf));
        const Rule* any_type = nullptr;
        for (auto& r : rules) {
            if (r.name != name) continue;
            if (r.qtype == q.qtype) return &r;
            any_type = &r;
        }
        static Rule nodata;  // the name exists, but not with this type
        if (any_type) {
            nodata = Rule();
            nodata.name = name;
            nodata.soa_minimum = any_type->soa_minimum;
            return &nodata;
        }
        return nullptr;
    }
    void send(int fd, const Bytes& b, const port::Address& to) {
        (void)port::udp_send(fd, std::span<const uint8_t>(b.data(), b.size()), to);
    }
    void on_udp() {
        uint8_t buf[1500];
        port::Address from;
        auto n = port::udp_receive(udp, buf, &from);
        if (!n) return;
        auto q = parse_question(std::span<const uint8_t>(buf, *n));
        if (!q) return;
        ++udp_queries;
        const Rule* r = find(*q);
        if (r && r->silent) return;
        if (r && r->spoof_id_first) {
            Question wrong = *q;
            wrong.id = uint16_t(q->id ^ 0x5555);
            send(udp, make_response(wrong, r, false), from);
        }
        if (r && r->wrong_question_first) {
            Question wrong = *q;
            (void)encode_name("evil.example", wrong.name);
            Rule evil = *r;
            evil.ips = {q->qtype == kTypeA ? "6.6.6.6" : "::6"};
            send(udp, make_response(wrong, &evil, false), from);
        }
        if (r && r->other_port_first && other >= 0) {
            Rule evil = *r;
            evil.ips = {q->qtype == kTypeA ? "6.6.6.6" : "::6"};
            send(other, make_response(*q, &evil, false), from);
        }
        send(udp, make_response(*q, r, r && r->truncate_udp), from);
    }
    void on_accept() {
        auto c = port::tcp_accept(listener, nullptr);
        if (!c) return;
        close_conn();
        conn = *c;
        tcp_in.clear();
        conn_watch = *loop.add_watch(conn);
        (void)loop.on_readable(conn_watch, [this] { on_tcp(); });
    }
    void close_conn() {
        if (conn < 0) return;
        loop.remove_watch(conn_watch);
        port::close(conn);
        conn = -1;
    }
    void on_tcp() {
        uint8_t buf[1024];
        auto n = port::read(conn, buf);
        if (!n || *n == 0) {
            if (!n && n.error().code == Errc::again) return;
            close_conn();
            return;
        }
        tcp_in.insert(tcp_in.end(), buf, buf + *n);
        if (tcp_in.size() < 2) return;
        size_t len = size_t(tcp_in[0]) << 8 | tcp_in[1];
        if (tcp_in.size() < 2 + len) return;
        auto q = parse_question(std::span<const uint8_t>(tcp_in.data() + 2, len));
        if (!q) return close_conn();
        ++tcp_queries;
        Bytes resp = make_response(*q, find(*q), false);
        Bytes framed;
        put16(framed, uint16_t(resp.size()));
        framed.insert(framed.end(), resp.begin(), resp.end());
        (void)port::write(conn, framed);
        close_conn();
    }
};

// A temp dir holding the resolver's resolv.conf and hosts.
struct TempConfig {
    char dir[64] = "/tmp/gust-dns-XXXXXX";
    std::string resolv, hosts;
    TempConfig() {
        REQUIRE(::mkdtemp(dir) != nullptr);
        resolv = std::string(dir) + "/resolv.conf";
        hosts = std::string(dir) + "/hosts";
        write_hosts("127.0.0.1 localhost\n");
    }
    ~TempConfig() {
        ::unlink(resolv.c_str());
        ::unlink(hosts.c_str());
        ::rmdir(dir);
    }
    static void write(const std::string& path, const std::string& content) {
        std::FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs(content.c_str(), f);
        std::fclose(f);
    }
    void write_resolv(const std::string& c) { write(resolv, c); }
    void write_hosts(const std::string& c) { write(hosts, c); }
    ResolverOptions options(uint16_t port) const {
        ResolverOptions o;
        o.resolv_conf_path = resolv.c_str();
        o.hosts_path = hosts.c_str();
        o.dns_port = port;
        return o;
    }
};

// Runs the loop until `done`, in steps of at most 10 ms: with the fake clock an
// idle turn jumps time by its whole wait, which would age the cache.
template <typename F>
void run_for(Loop& loop, F done, Duration limit = 600s) {
    TimePoint end = loop.now() + limit;
    while (!done() && loop.now() < end) loop.run_until([&] { return done(); }, 10ms);
}

Task<Result<AddressList>> resolve_task(Resolver& r, std::string host, Family f) {
    co_return co_await r.resolve(host, f);
}

// Resolves on the loop and returns the result (the fake clock jumps over timeouts).
Result<AddressList> run_resolve(Loop& loop, Resolver& r, const char* host, Family f = Family::any) {
    std::optional<Result<AddressList>> out;
    REQUIRE(spawn(loop, resolve_task(r, host, f), [&out](Result<AddressList> res) { out.emplace(std::move(res)); }));
    run_for(loop, [&] { return out.has_value(); });
    REQUIRE(out.has_value());
    return std::move(*out);
}

// Just the error of a lookup (Errc::ok on success).
Error resolve_error(Loop& loop, Resolver& r, const char* host, Family f = Family::any) {
    auto res = run_resolve(loop, r, host, f);
    return res.ok() ? Error() : res.error();
}

std::vector<std::string> texts(const Result<AddressList>& r) {
    std::vector<std::string> v;
    if (r)
        for (auto& ip : *r) v.push_back(text(ip));
    return v;
}

// The usual setup: a loop, a fake server on 127.0.0.1, config files pointing at it.
struct Fixture {
    FakeClock clock;
    Loop loop{gust_test::test_limits()};
    FakeServer server{loop};
    TempConfig cfg;
    Fixture(const char* resolv_extra = "") {
        REQUIRE(loop.status());
        REQUIRE(server.start("127.0.0.1"));
        cfg.write_resolv(std::string(resolv_extra) + "nameserver 127.0.0.1\n");
    }
    ResolverOptions options() const { return cfg.options(server.port); }
};


}  // namespace

// ---- Wire format --------------------------------------------------------------------

TEST_CASE("dns: IP literals parse and format (RFC 5952)") {
    struct Row {
        const char* in;
        const char* out;  // nullptr: rejected
    } rows[] = {
        {"1.2.3.4", "1.2.3.4"},
        {"255.255.255.255", "255.255.255.255"},
        {"0.0.0.0", "0.0.0.0"},
        {"::1", "::1"},
        {"[::1]", "::1"},
        {"::", "::"},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"},
        {"1::", "1::"},
        {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1"},
        {"1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"},
        {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
        {"::ffff:102:304", "::ffff:1.2.3.4"},
        {"1.2.3", nullptr},
        {"1.2.3.4.5", nullptr},
        {"256.1.1.1", nullptr},
        {"01.2.3.4", nullptr},
        {"1.2.3.4 ", nullptr},
        {"", nullptr},
        {":::", nullptr},
        {"1:2:3:4:5:6:7:8:9", nullptr},
        {"1::2::3", nullptr},
        {"12345::", nullptr},
        {"1:2:3:4:5:6:7:8::", nullptr},
        {"[1.2.3.4]", nullptr},
        {"example.com", nullptr},
        {":1::", nullptr},
        {"1:", nullptr},
    };
    for (auto& row : rows) {
        CAPTURE(row.in);
        auto ip = parse_ip(row.in);
        if (!row.out) {
            CHECK_FALSE(ip.ok());
            continue;
        }
        REQUIRE(ip.ok());
        CHECK(text(*ip) == row.out);
        port::Address a;
        REQUIRE(to_socket_address(*ip, a));
        char buf[64];
        size_t n = port::format_ip(a, buf);
        CHECK(std::string(buf, n) == row.out);  // agrees with the OS's inet_ntop
    }
}

TEST_CASE("dns: names encode to lower-cased wire form and invalid names are refused") {
    Name n;
    REQUIRE(encode_name("WWW.Example.COM.", n));
    const uint8_t want[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
    REQUIRE(n.length == sizeof want);
    CHECK(std::memcmp(n.bytes, want, sizeof want) == 0);
    char buf[256];
    CHECK(std::string(buf, name_to_text(n, buf)) == "www.example.com");

    std::string l63(63, 'a'), l64(64, 'a');
    CHECK(encode_name(l63 + ".com", n));
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += l63 + ".";
    CHECK_FALSE(encode_name(long_name, n));  // 4*64 + 1 > 255
    for (std::string_view bad : {std::string_view(""), std::string_view("."), std::string_view("a..b"),
                                  std::string_view(".a"), std::string_view("a b"), std::string_view("a/b"),
                                  std::string_view("exa\xc3\xa9mple.com"), std::string_view("a.\0b", 4)})
        CHECK_FALSE(encode_name(bad, n));
    CHECK_FALSE(encode_name(l64 + ".com", n));
}

TEST_CASE("dns: build_query writes the header, question, type and class in network order") {
    uint8_t out[300];
    auto len = build_query(out, 0xBEEF, name_of("a.io"), kTypeAaaa);
    REQUIRE(len.ok());
    const uint8_t want[] = {0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 2, 'i', 'o', 0, 0, 28, 0, 1};
    REQUIRE(*len == sizeof want);
    CHECK(std::memcmp(out, want, sizeof want) == 0);
    auto q = parse_question(std::span<const uint8_t>(out, *len));
    REQUIRE(q.ok());
    CHECK(q->id == 0xBEEF);
    CHECK(q->qtype == kTypeAaaa);
    CHECK(q->name == name_of("a.io"));
    CHECK_FALSE(build_query(std::span<uint8_t>(out, 10), 1, name_of("a.io"), kTypeA).ok());
}

TEST_CASE("dns: parse_response reads addresses, follows CNAMEs and rejects others' answers") {
    Question q;
    q.id = 0x1234;
    q.name = name_of("www.example.com");
    q.qtype = kTypeA;
    q.qclass = kClassIn;
    Rule r;
    r.ips = {"10.0.0.1", "10.0.0.2"};
    r.ttl = 77;
    Bytes m = make_response(q, &r, false);
    auto a = parse_response(m, 0x1234, q.name, kTypeA);
    REQUIRE(a.ok());
    CHECK(a->rcode == kRcodeNoError);
    REQUIRE(a->count == 2);
    CHECK(text(a->addresses[0]) == "10.0.0.1");
    CHECK(text(a->addresses[1]) == "10.0.0.2");
    CHECK(a->ttl == 77);

    CHECK(parse_response(m, 0x1235, q.name, kTypeA).error().code == Errc::invalid_argument);
    CHECK(parse_response(m, 0x1234, name_of("other.example.com"), kTypeA).error().code == Errc::invalid_argument);
    CHECK(parse_response(m, 0x1234, q.name, kTypeAaaa).error().code == Errc::invalid_argument);
    Bytes query = m;
    query[2] &= 0x7F;  // QR clear: a query, not a response
    CHECK(parse_response(query, 0x1234, q.name, kTypeA).error().code == Errc::invalid_argument);

    r.cname_chain = {"edge.cdn.test", "node7.cdn.test"};
    r.ttl = 30;
    m = make_response(q, &r, false);
    a = parse_response(m, 0x1234, q.name, kTypeA);
    REQUIRE(a.ok());
    CHECK(a->count == 2);
    CHECK(a->cname_hops == 2);

    // Addresses for a name outside the chain are not taken (cache poisoning).
    Rule stray;
    stray.cname_chain = {"edge.cdn.test"};
    m = make_response(q, &stray, false);
    Bytes extra;
    put_name(extra, "victim.test");
    put16(extra, kTypeA), put16(extra, kClassIn), put32(extra, 60), put16(extra, 4);
    extra.insert(extra.end(), {6, 6, 6, 6});
    m.insert(m.end(), extra.begin(), extra.end());
    m[7] += 1;  // ANCOUNT
    a = parse_response(m, 0x1234, q.name, kTypeA);
    REQUIRE(a.ok());
    CHECK(a->count == 0);

    // NXDOMAIN with an SOA: negative TTL = min(SOA TTL, MINIMUM).
    Rule nx;
    nx.rcode = kRcodeNxDomain;
    nx.soa_minimum = 45;
    m = make_response(q, &nx, false);
    a = parse_response(m, 0x1234, q.name, kTypeA);
    REQUIRE(a.ok());
    CHECK(a->rcode == kRcodeNxDomain);
    CHECK(a->has_ttl);
    CHECK(a->ttl == 45);

    // Truncated: only the header and question matter.
    m = make_response(q, &r, true);
    a = parse_response(m, 0x1234, q.name, kTypeA);
    REQUIRE(a.ok());
    CHECK(a->truncated);
}

namespace {

// A response for www.example.com/A (id 7) whose answer section is `records`.
Bytes with_answers(uint16_t an, const Bytes& records, uint16_t ns = 0) {
    Bytes b;
    put_header(b, 7, 0x8180, 1, an, ns, 0);
    put_name(b, "www.example.com");  // the name starts at offset 12
    put16(b, kTypeA);
    put16(b, kClassIn);
    b.insert(b.end(), records.begin(), records.end());
    return b;
}
Bytes rr(const Bytes& owner, uint16_t type, const Bytes& rdata, int rdlength = -1) {
    Bytes b = owner;
    put16(b, type);
    put16(b, kClassIn);
    put32(b, 60);
    put16(b, uint16_t(rdlength < 0 ? int(rdata.size()) : rdlength));
    b.insert(b.end(), rdata.begin(), rdata.end());
    return b;
}
Bytes ptr(uint16_t offset) { return {uint8_t(0xC0 | (offset >> 8)), uint8_t(offset)}; }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (auto& p : parts) b.insert(b.end(), p.begin(), p.end());
    return b;
}

}  // namespace

TEST_CASE("dns: malformed responses are rejected, whole and cut at every byte, without over-reading") {
    const Bytes four = {1, 2, 3, 4};
    const size_t after_q = 12 + 17 + 4;  // header, name, type+class
    Bytes self_loop = rr(ptr(uint16_t(after_q)), kTypeA, four);  // owner points at itself
    Bytes loop_a = cat({Bytes{1, 'x'}, ptr(uint16_t(after_q + 2 + 2 + 2 + 4 + 2 + 4))});  // forward pointer
    Bytes long_chain;
    Bytes prev = ptr(12);
    size_t off = after_q;
    for (int i = 0; i <= kMaxCnameHops; ++i) {  // 9 CNAMEs: www -> c0 -> c1 ... -> c8
        Bytes target = {2, 'c', uint8_t('0' + i), 0};
        Bytes rec = rr(prev, kTypeCname, target);
        prev = ptr(uint16_t(off + rec.size() - target.size()));
        off += rec.size();
        long_chain.insert(long_chain.end(), rec.begin(), rec.end());
    }
    Bytes last = rr(prev, kTypeA, four);
    long_chain.insert(long_chain.end(), last.begin(), last.end());
    std::string l63(63, 'a');
    Bytes too_long_name;
    for (int i = 0; i < 5; ++i) {
        too_long_name.push_back(63);
        too_long_name.insert(too_long_name.end(), l63.begin(), l63.end());
    }
    too_long_name.push_back(0);

    struct Row {
        const char* what;
        Bytes msg;
    } rows[] = {
        {"compression pointer to itself", with_answers(1, self_loop)},
        {"forward compression pointer", with_answers(1, rr(loop_a, kTypeA, four))},
        {"pointer out of bounds", with_answers(1, rr(ptr(0x3FFF), kTypeA, four))},
        {"pointer into the header", with_answers(1, rr(ptr(2), kTypeA, four))},
        {"pointer cut in half", with_answers(1, Bytes{0xC0})},
        {"extended label type", with_answers(1, rr(Bytes{0x41, 'x', 0}, kTypeA, four))},
        {"name longer than 255 bytes", with_answers(1, rr(too_long_name, kTypeA, four))},
        {"rdlength past the end", with_answers(1, rr(ptr(12), kTypeA, four, 200))},
        {"A record of 5 bytes", with_answers(1, rr(ptr(12), kTypeA, Bytes{1, 2, 3, 4, 5}))},
        {"AAAA record of 4 bytes", with_answers(1, rr(ptr(12), kTypeAaaa, four))},
        {"CNAME rdata longer than its name", with_answers(1, rr(ptr(12), kTypeCname, Bytes{1, 'a', 0, 9}))},
        {"CNAME rdata cut inside its name", with_answers(1, rr(ptr(12), kTypeCname, Bytes{3, 'a', 'b', 'c', 0}, 3))},
        {"SOA rdata too short", with_answers(0, rr(ptr(12), kTypeSoa, Bytes{0, 0, 1, 2, 3}), 1)},
        {"ANCOUNT larger than the message", with_answers(0xFFFF, rr(ptr(12), kTypeA, four))},
        {"one record missing", with_answers(2, rr(ptr(12), kTypeA, four))},
        {"CNAME chain too long", with_answers(uint16_t(kMaxCnameHops + 2), long_chain)},
        {"header only", Bytes{0, 7, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0}},
    };
    gust_test::Guarded guard(1 << 16);
    Name www = name_of("www.example.com");
    for (auto& row : rows) {
        CAPTURE(row.what);
        auto whole = parse_response(guard.place(row.msg.data(), row.msg.size()), 7, www, kTypeA);
        CHECK_FALSE(whole.ok());
        if (!whole.ok()) CHECK(whole.error().code == Errc::protocol);
        for (size_t cut = 0; cut < row.msg.size(); ++cut)
            CHECK_FALSE(parse_response(guard.place(row.msg.data(), cut), 7, www, kTypeA).ok());
    }

    // A good answer cut anywhere is an error, never a partial success.
    Bytes good = with_answers(2, cat({rr(ptr(12), kTypeCname, Bytes{1, 'z', 0}), rr(Bytes{1, 'z', 0}, kTypeA, four)}));
    auto ok = parse_response(guard.place(good.data(), good.size()), 7, www, kTypeA);
    REQUIRE(ok.ok());
    CHECK(ok->count == 1);
    for (size_t cut = 0; cut < good.size(); ++cut) {
        CAPTURE(cut);
        CHECK_FALSE(parse_response(guard.place(good.data(), cut), 7, www, kTypeA).ok());
    }

    // Random corruption never crashes or reads outside the message (ASan and the guard page watch).
    uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1103515245u + 12345u, seed >> 8; };
    for (int i = 0; i < 20000; ++i) {
        Bytes m = good;
        int flips = 1 + int(next() % 4);
        for (int f = 0; f < flips; ++f) m[next() % m.size()] = uint8_t(next());
        size_t len = next() % 4 == 0 ? next() % (m.size() + 1) : m.size();
        (void)parse_response(guard.place(m.data(), len), 7, www, kTypeA);
        (void)parse_question(guard.place(m.data(), len));
    }
}

// ---- Config files -----------------------------------------------------------------------

TEST_CASE("dns: resolv.conf parsing keeps three nameservers and clamps options") {
    auto c = parse_resolv_conf(
        "# comment\n"
        "domain lan\n"
        "search lan example.com\n"
        "nameserver 10.0.0.1\n"
        "nameserver fe80::1%eth0\n"  // scoped: skipped
        "nameserver 2001:db8::53  # trailing comment\n"
        "nameserver bogus\n"
        "nameserver 10.0.0.3\n"
        "nameserver 10.0.0.4\n"
        "options ndots:2 timeout:3 attempts:4 rotate\n",
        5353);
    REQUIRE(c.server_count == 3);
    CHECK(text(c.servers[0]) == "10.0.0.1");
    CHECK(text(c.servers[1]) == "2001:db8::53");
    CHECK(text(c.servers[2]) == "10.0.0.3");
    CHECK(c.servers[0].port == 5353);
    CHECK(c.timeout_s == 3);
    CHECK(c.attempts == 4);

    c = parse_resolv_conf("options timeout:0 attempts:99\r\n", 53);
    CHECK(c.timeout_s == 1);
    CHECK(c.attempts == 5);
    REQUIRE(c.server_count == 1);
    CHECK(text(c.servers[0]) == "127.0.0.1");  // glibc's default

    c = parse_resolv_conf("", 53);
    CHECK(c.timeout_s == 5);
    CHECK(c.attempts == 2);
}

TEST_CASE("dns: hosts file lookup is case-insensitive, honours comments and orders by family") {
    const char* hosts =
        "127.0.0.1 localhost\n"
        "# 10.9.9.9 router\n"
        "10.0.0.1\trouter Router.lan  # the box\n"
        "fd00::1 router\n"
        "10.0.0.2 other router\n"
        "not-an-ip router\n";
    AddressList l;
    CHECK(hosts_lookup(hosts, "ROUTER", Family::any, 80, l) == 3);
    REQUIRE(l.size() == 3);
    CHECK(text(l[0]) == "10.0.0.1");
    CHECK(text(l[1]) == "10.0.0.2");
    CHECK(text(l[2]) == "fd00::1");
    CHECK(l[0].port == 80);
    l = AddressList();
    CHECK(hosts_lookup(hosts, "router.", Family::any_ipv6_first, 0, l) == 3);
    CHECK(text(l[0]) == "fd00::1");
    l = AddressList();
    CHECK(hosts_lookup(hosts, "router", Family::ipv6, 0, l) == 1);
    l = AddressList();
    CHECK(hosts_lookup(hosts, "router.lan", Family::ipv4, 0, l) == 1);
    l = AddressList();
    CHECK(hosts_lookup(hosts, "router9", Family::any, 0, l) == 0);
}

// ---- Resolver against the fake server ----------------------------------------------------------

TEST_CASE("dns: resolver asks A and AAAA and orders the answer by family") {
    Fixture f;
    f.server.rules.push_back({.name = "dual.test", .qtype = kTypeA, .ips = {"192.0.2.1", "192.0.2.2"}});
    f.server.rules.push_back({.name = "dual.test", .qtype = kTypeAaaa, .ips = {"2001:db8::1"}});
    Resolver r(f.loop, f.options());
    REQUIRE(r.status());
    REQUIRE(r.nameservers().size() == 1);
    CHECK(r.nameservers()[0].port == f.server.port);

    auto any = run_resolve(f.loop, r, "dual.test");
    REQUIRE(any.ok());
    CHECK(texts(any) == std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1"});
    CHECK(f.server.udp_queries == 2);
    r.clear_cache();
    auto six = run_resolve(f.loop, r, "DUAL.test.", Family::any_ipv6_first);
    CHECK(texts(six) == std::vector<std::string>{"2001:db8::1", "192.0.2.1", "192.0.2.2"});
    r.clear_cache();
    CHECK(texts(run_resolve(f.loop, r, "dual.test", Family::ipv6)) == std::vector<std::string>{"2001:db8::1"});
    CHECK(texts(run_resolve(f.loop, r, "dual.test", Family::ipv4)).size() == 2);
    CHECK(r.lookups_in_flight() == 0);
    CHECK(f.loop.timers_pending() == 0);
}

TEST_CASE("dns: literal IPs and localhost are answered without a query; hosts entries win") {
    Fixture f;
    f.server.rules.push_back({.name = "router.lan", .ips = {"10.10.10.10"}});
    f.cfg.write_hosts("127.0.0.1 localhost\n192.168.1.1 router.lan\n");
    Resolver r(f.loop, f.options());
    REQUIRE(r.status());
    CHECK(texts(run_resolve(f.loop, r, "10.1.2.3")) == std::vector<std::string>{"10.1.2.3"});
    CHECK(texts(run_resolve(f.loop, r, "[::1]")) == std::vector<std::string>{"::1"});
    CHECK(texts(run_resolve(f.loop, r, "2001:db8::7")) == std::vector<std::string>{"2001:db8::7"});
    CHECK(texts(run_resolve(f.loop, r, "localhost")) == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(texts(run_resolve(f.loop, r, "LocalHost.", Family::ipv6)) == std::vector<std::string>{"::1"});
    CHECK(texts(run_resolve(f.loop, r, "db.localhost", Family::ipv4)) == std::vector<std::string>{"127.0.0.1"});
    CHECK(texts(run_resolve(f.loop, r, "router.lan")) == std::vector<std::string>{"192.168.1.1"});
    CHECK(resolve_error(f.loop, r, "10.1.2.3", Family::ipv6).code == Errc::not_found);
    CHECK(resolve_error(f.loop, r, "bad name!", Family::any).code == Errc::invalid_argument);
    CHECK(resolve_error(f.loop, r, "[1.2.3.4]", Family::any).code == Errc::invalid_argument);
    CHECK(f.server.udp_queries == 0);

    // The port is carried into every address.
    std::optional<Result<AddressList>> out;
    auto task = [](Resolver& res) -> Task<Result<AddressList>> { co_return co_await res.resolve("1.2.3.4", Family::any, 8080); };
    REQUIRE(spawn(f.loop, task(r), [&out](Result<AddressList> res) { out.emplace(std::move(res)); }));
    run_for(f.loop, [&] { return out.has_value(); });
    REQUIRE(out.has_value());
    REQUIRE(out->ok());
    CHECK((**out)[0].port == 8080);
}

TEST_CASE("dns: spoofed answers (wrong ID, wrong question, wrong source port) are ignored") {
    Fixture f;
    f.server.rules.push_back({.name = "id.test", .ips = {"192.0.2.10"}, .spoof_id_first = true});
    f.server.rules.push_back({.name = "q.test", .ips = {"192.0.2.11"}, .wrong_question_first = true});
    f.server.rules.push_back({.name = "port.test", .ips = {"192.0.2.12"}, .other_port_first = true});
    Resolver r(f.loop, f.options());
    CHECK(texts(run_resolve(f.loop, r, "id.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.10"});
    CHECK(r.stats().ignored == 1);
    CHECK(texts(run_resolve(f.loop, r, "q.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.11"});
    CHECK(r.stats().ignored == 2);
    CHECK(texts(run_resolve(f.loop, r, "port.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.12"});
    CHECK(r.stats().ignored == 3);
    CHECK(r.stats().queries_sent == 3);  // each answered at the first try
}

TEST_CASE("dns: a truncated answer is asked again over TCP") {
    Fixture f;
    Rule big{.name = "big.test", .ips = {}, .truncate_udp = true};
    for (int i = 1; i <= 8; ++i) big.ips.push_back("198.51.100." + std::to_string(i));
    f.server.rules.push_back(big);
    Resolver r(f.loop, f.options());
    auto res = run_resolve(f.loop, r, "big.test", Family::ipv4);
    REQUIRE(res.ok());
    CHECK(res->size() == 8);
    CHECK(f.server.udp_queries == 1);
    CHECK(f.server.tcp_queries == 1);
    CHECK(r.stats().tcp_retries == 1);
    CHECK(f.loop.timers_pending() == 0);
}

TEST_CASE("dns: a dead first nameserver is skipped after its timeout; all dead gives a timeout") {
    Fixture f("options timeout:2 attempts:2\n");
    auto dead_addr = port::parse_ip("127.0.0.2", f.server.port);
    REQUIRE(dead_addr);
    auto dead = port::udp_open(*dead_addr);  // bound, never answers
    REQUIRE(dead.ok());
    f.cfg.write_resolv("options timeout:2 attempts:2\nnameserver 127.0.0.2\nnameserver 127.0.0.1\n");
    f.server.rules.push_back({.name = "alive.test", .ips = {"192.0.2.20"}});
    Resolver r(f.loop, f.options());
    REQUIRE(r.nameservers().size() == 2);
    CHECK(r.timeout_s() == 2);
    TimePoint start = f.loop.now();
    auto res = run_resolve(f.loop, r, "alive.test", Family::ipv4);
    CHECK(texts(res) == std::vector<std::string>{"192.0.2.20"});
    CHECK(f.loop.now() - start >= 2s);
    CHECK(f.loop.now() - start < 3s);
    CHECK(r.stats().queries_sent == 2);

    f.cfg.write_resolv("options timeout:2 attempts:2\nnameserver 127.0.0.2\n");
    f.clock.advance(2s);
    start = f.loop.now();
    auto none = run_resolve(f.loop, r, "alive.test", Family::ipv4);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::timeout);
    CHECK(std::string(none.error().message) == "dns: no answer from any nameserver");
    CHECK(f.loop.now() - start >= 4s);  // 2 attempts x 1 server x 2 s
    CHECK(f.loop.timers_pending() == 0);
    port::close(*dead);
}

TEST_CASE("dns: NXDOMAIN is 'host not found' and is cached negatively; SERVFAIL moves on") {
    Fixture f;
    Resolver r(f.loop, f.options());
    auto res = run_resolve(f.loop, r, "nowhere.test");
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == Errc::not_found);
    CHECK(std::string(res.error().message) == "dns: host not found");
    int asked = f.server.udp_queries;
    CHECK(asked == 2);
    CHECK(resolve_error(f.loop, r, "nowhere.test").code == Errc::not_found);
    CHECK(f.server.udp_queries == asked);  // negative cache
    f.clock.advance(31s);                   // negative_ttl (no SOA) is 30 s
    CHECK(resolve_error(f.loop, r, "nowhere.test").code == Errc::not_found);
    CHECK(f.server.udp_queries == asked + 2);

    // Only an A record: IPv6 lookups get "no address of the requested family".
    f.server.rules.push_back({.name = "v4only.test", .ips = {"192.0.2.30"}, .soa_minimum = 5});
    auto six = run_resolve(f.loop, r, "v4only.test", Family::ipv6);
    CHECK(six.error().code == Errc::not_found);
    CHECK(texts(run_resolve(f.loop, r, "v4only.test")) == std::vector<std::string>{"192.0.2.30"});

    f.server.rules.push_back({.name = "broken.test", .rcode = kRcodeServFail});
    auto sf = run_resolve(f.loop, r, "broken.test", Family::ipv4);
    CHECK(sf.error().code == Errc::dns);
    CHECK(std::string(sf.error().message) == "dns: nameserver failure (SERVFAIL)");
    f.server.rules.push_back({.name = "garbage.test", .garbage = true});
    auto bad = run_resolve(f.loop, r, "garbage.test", Family::ipv4);
    CHECK(bad.error().code == Errc::protocol);
}

TEST_CASE("dns: the cache answers within the TTL and asks again after it") {
    Fixture f;
    f.server.rules.push_back({.name = "cached.test", .ips = {"192.0.2.40"}, .ttl = 10});
    Resolver r(f.loop, f.options());
    CHECK(texts(run_resolve(f.loop, r, "cached.test", Family::ipv4)).size() == 1);
    CHECK(texts(run_resolve(f.loop, r, "Cached.Test", Family::ipv4)).size() == 1);
    CHECK(f.server.udp_queries == 1);
    CHECK(r.stats().cache_hits == 1);
    f.clock.advance(9s);
    (void)run_resolve(f.loop, r, "cached.test", Family::ipv4);
    CHECK(f.server.udp_queries == 1);
    f.clock.advance(2s);
    CHECK(texts(run_resolve(f.loop, r, "cached.test", Family::ipv4)).size() == 1);
    CHECK(f.server.udp_queries == 2);
}

TEST_CASE("dns: the cache is fixed-size and evicts the least recently used") {
    Fixture f;
    for (int i = 0; i < 4; ++i) f.server.rules.push_back({.name = "n" + std::to_string(i) + ".test", .ips = {"192.0.2.1"}});
    ResolverOptions o = f.options();
    o.cache_entries = 3;
    Resolver r(f.loop, o);
    for (int i = 0; i < 3; ++i) (void)run_resolve(f.loop, r, ("n" + std::to_string(i) + ".test").c_str(), Family::ipv4);
    (void)run_resolve(f.loop, r, "n0.test", Family::ipv4);  // n0 used: n1 is now the oldest
    CHECK(f.server.udp_queries == 3);
    (void)run_resolve(f.loop, r, "n3.test", Family::ipv4);  // evicts n1
    (void)run_resolve(f.loop, r, "n0.test", Family::ipv4);
    (void)run_resolve(f.loop, r, "n2.test", Family::ipv4);
    CHECK(f.server.udp_queries == 4);
    (void)run_resolve(f.loop, r, "n1.test", Family::ipv4);
    CHECK(f.server.udp_queries == 5);
}

TEST_CASE("dns: a rewritten resolv.conf is picked up and the cache flushed") {
    Fixture f;
    FakeServer second(f.loop);
    REQUIRE(second.start("127.0.0.3", f.server.port, false));
    f.server.rules.push_back({.name = "moved.test", .ips = {"192.0.2.1"}});
    second.rules.push_back({.name = "moved.test", .ips = {"192.0.2.3"}});
    Resolver r(f.loop, f.options());
    CHECK(texts(run_resolve(f.loop, r, "moved.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.1"});
    f.cfg.write_resolv("# moved\nnameserver 127.0.0.3\n");
    CHECK(texts(run_resolve(f.loop, r, "moved.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.1"});  // < 1 s: not checked yet
    f.clock.advance(1500ms);
    CHECK(texts(run_resolve(f.loop, r, "moved.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.3"});
    CHECK(second.udp_queries == 1);
    CHECK(r.stats().config_reloads == 1);

    f.cfg.write_hosts("127.0.0.1 localhost\n10.0.0.9 moved.test\n");
    f.clock.advance(1500ms);
    CHECK(texts(run_resolve(f.loop, r, "moved.test", Family::ipv4)) == std::vector<std::string>{"10.0.0.9"});
}

TEST_CASE("dns: CNAME chains are followed") {
    Fixture f;
    f.server.rules.push_back({.name = "www.alias.test", .ips = {"192.0.2.50"}, .cname_chain = {"cdn.alias.test", "edge.cdn.test"}});
    Resolver r(f.loop, f.options());
    CHECK(texts(run_resolve(f.loop, r, "www.alias.test", Family::ipv4)) == std::vector<std::string>{"192.0.2.50"});
}

TEST_CASE("dns: concurrent identical lookups share one query; too many lookups give no_memory") {
    Fixture f;
    f.server.rules.push_back({.name = "shared.test", .ips = {"192.0.2.60"}});
    ResolverOptions o = f.options();
    o.max_lookups = 2;
    Resolver r(f.loop, o);
    std::vector<std::optional<Result<AddressList>>> out(4);
    const char* names[] = {"shared.test", "shared.test", "other1.test", "other2.test"};
    for (int i = 0; i < 4; ++i) {
        auto* slot = &out[size_t(i)];
        REQUIRE(spawn(f.loop, resolve_task(r, names[i], Family::ipv4),
                      [slot](Result<AddressList> res) { slot->emplace(std::move(res)); }));
    }
    run_for(f.loop, [&] { return out[0] && out[1] && out[2] && out[3]; });
    REQUIRE((out[0] && out[1] && out[2] && out[3]));
    CHECK(texts(*out[0]) == std::vector<std::string>{"192.0.2.60"});
    CHECK(texts(*out[1]) == std::vector<std::string>{"192.0.2.60"});
    CHECK(out[2]->error().code == Errc::not_found);
    CHECK(out[3]->error().code == Errc::no_memory);
    CHECK(r.stats().shared == 1);
    CHECK(f.server.udp_queries == 2);  // shared.test once, other1.test once
}

TEST_CASE("dns: cancelling a lookup with with_timeout closes its socket and cancels its timer") {
    Fixture f;
    f.server.rules.push_back({.name = "slow.test", .qtype = kTypeA, .silent = true});
    f.server.rules.push_back({.name = "slow.test", .qtype = kTypeAaaa, .silent = true});
    Resolver r(f.loop, f.options());
    auto fds_before = port::process_open_fds();
    REQUIRE(fds_before.ok());
    std::optional<Result<AddressList>> out;
    auto task = [](Resolver& res) -> Task<Result<AddressList>> {
        co_return co_await with_timeout(300ms, res.resolve("slow.test"));
    };
    REQUIRE(spawn(f.loop, task(r), [&out](Result<AddressList> res) { out.emplace(std::move(res)); }));
    run_for(f.loop, [&] { return out.has_value(); });
    REQUIRE(out.has_value());
    CHECK(out->error().code == Errc::timeout);
    CHECK(f.server.udp_queries == 2);
    CHECK(r.lookups_in_flight() == 0);
    CHECK(f.loop.timers_pending() == 0);
    auto fds_after = port::process_open_fds();
    REQUIRE(fds_after.ok());
    CHECK(*fds_after == *fds_before);
}

TEST_CASE("dns: parse_response refuses non-address question types (fuzzer regression)") {
    // Found by tests/fuzz/dns.cpp: a TXT (or CNAME) answer to a question of the
    // same type was copied into the 16-byte IpAddress. Inputs kept in
    // tests/fuzz/crashes/dns/.
    constexpr uint16_t kTypeTxt = 16;
    Bytes txt = with_answers(1, rr(ptr(12), kTypeTxt, Bytes(200, 'x')));
    txt[12 + 17] = 0;  // the question's type (after the 17-byte name): TXT
    txt[12 + 18] = kTypeTxt;
    auto r = parse_response(txt, 7, name_of("www.example.com"), kTypeTxt);
    CHECK(r.error().code == Errc::invalid_argument);
    auto c = parse_response(txt, 7, name_of("www.example.com"), kTypeCname);
    CHECK(c.error().code == Errc::invalid_argument);
}
