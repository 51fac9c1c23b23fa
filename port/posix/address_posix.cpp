// Address parsing and formatting with inet_pton/inet_ntop: numeric literals
// only, never a name lookup (DNS is the resolver's job, and it is async).
#include <port.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace gust::port {

static_assert(sizeof(sockaddr_in6) <= sizeof(Address::storage), "Address::storage must hold a sockaddr_in6");
static_assert(sizeof(sockaddr_in) <= sizeof(Address::storage), "Address::storage must hold a sockaddr_in");
// sin_port and sin6_port sit at the same offset, so port() need not branch.
static_assert(offsetof(sockaddr_in, sin_port) == offsetof(sockaddr_in6, sin6_port));

namespace {

constexpr size_t kMaxIpText = INET6_ADDRSTRLEN;  // 46, includes the NUL

sa_family_t family_of(const Address& addr) {
    sa_family_t family = AF_UNSPEC;
    if (addr.length >= sizeof(sa_family_t) + offsetof(sockaddr, sa_family))
        std::memcpy(&family, addr.storage + offsetof(sockaddr, sa_family), sizeof family);
    return family;
}

// Accepts 1-5 decimal digits with a value up to 65535.
bool parse_port(std::string_view text, uint16_t* port) {
    if (text.empty() || text.size() > 5) return false;
    uint32_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value > 65535) return false;
    *port = static_cast<uint16_t>(value);
    return true;
}

}  // namespace

bool Address::is_ipv6() const { return family_of(*this) == AF_INET6; }

uint16_t Address::port() const {
    if (length == 0) return 0;
    uint16_t net = 0;
    std::memcpy(&net, storage + offsetof(sockaddr_in, sin_port), sizeof net);
    return ntohs(net);
}

void Address::set_port(uint16_t port) {
    if (length == 0) return;
    uint16_t net = htons(port);
    std::memcpy(storage + offsetof(sockaddr_in, sin_port), &net, sizeof net);
}

Result<Address> parse_ip(std::string_view ip, uint16_t port) {
    char text[kMaxIpText];
    if (ip.empty() || ip.size() >= sizeof text) return Error(Errc::invalid_argument, "not an IP address");
    std::memcpy(text, ip.data(), ip.size());
    text[ip.size()] = '\0';

    Address addr;
    if (ip.find(':') == std::string_view::npos) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        if (::inet_pton(AF_INET, text, &sin.sin_addr) != 1)
            return Error(Errc::invalid_argument, "not an IPv4 address");
        std::memcpy(addr.storage, &sin, sizeof sin);
        addr.length = sizeof sin;
    } else {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        if (::inet_pton(AF_INET6, text, &sin6.sin6_addr) != 1)
            return Error(Errc::invalid_argument, "not an IPv6 address");
        std::memcpy(addr.storage, &sin6, sizeof sin6);
        addr.length = sizeof sin6;
    }
    return addr;
}

Result<Address> parse_address(std::string_view text, int default_port) {
    if (text.empty()) return Error(Errc::invalid_argument, "empty address");
    std::string_view ip;
    std::string_view port_text;
    bool has_port = false;

    if (text.front() == '[') {
        // "[v6]" or "[v6]:port"
        size_t close = text.find(']');
        if (close == std::string_view::npos) return Error(Errc::invalid_argument, "missing ']' in IPv6 address");
        ip = text.substr(1, close - 1);
        if (ip.find(':') == std::string_view::npos)
            return Error(Errc::invalid_argument, "brackets are only for IPv6 addresses");
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return Error(Errc::invalid_argument, "expected ':' after ']'");
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        size_t first = text.find(':');
        size_t last = text.rfind(':');
        if (first == std::string_view::npos) {
            ip = text;                      // bare IPv4
        } else if (first == last) {
            ip = text.substr(0, first);     // IPv4:port
            port_text = text.substr(first + 1);
            has_port = true;
        } else {
            ip = text;                      // bare IPv6 without brackets
        }
    }

    uint16_t port = 0;
    if (has_port) {
        if (!parse_port(port_text, &port)) return Error(Errc::invalid_argument, "bad port (expected 0-65535)");
    } else {
        if (default_port < 0) return Error(Errc::invalid_argument, "address needs a port");
        if (default_port > 65535) return Error(Errc::invalid_argument, "default port out of range");
        port = static_cast<uint16_t>(default_port);
    }
    return parse_ip(ip, port);
}

size_t format_ip(const Address& addr, std::span<char> out) {
    char text[kMaxIpText];
    const void* raw = nullptr;
    sockaddr_in sin{};
    sockaddr_in6 sin6{};
    sa_family_t family = family_of(addr);
    if (family == AF_INET && addr.length >= sizeof sin) {
        std::memcpy(&sin, addr.storage, sizeof sin);
        raw = &sin.sin_addr;
    } else if (family == AF_INET6 && addr.length >= sizeof sin6) {
        std::memcpy(&sin6, addr.storage, sizeof sin6);
        raw = &sin6.sin6_addr;
    } else {
        return 0;
    }
    if (!::inet_ntop(family, raw, text, sizeof text)) return 0;
    size_t len = std::strlen(text);
    if (len + 1 > out.size()) return 0;
    std::memcpy(out.data(), text, len + 1);
    return len;
}

size_t format_address(const Address& addr, std::span<char> out) {
    char ip[kMaxIpText];
    size_t ip_len = format_ip(addr, ip);
    if (ip_len == 0) return 0;

    char port[6];
    size_t port_len = 0;
    char digits[5];
    size_t n = 0;
    uint32_t value = addr.port();
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) port[port_len++] = digits[--n];

    bool v6 = addr.is_ipv6();
    size_t total = ip_len + (v6 ? 2 : 0) + 1 + port_len;
    if (total + 1 > out.size()) return 0;
    char* p = out.data();
    if (v6) *p++ = '[';
    std::memcpy(p, ip, ip_len);
    p += ip_len;
    if (v6) *p++ = ']';
    *p++ = ':';
    std::memcpy(p, port, port_len);
    p += port_len;
    *p = '\0';
    return total;
}

size_t ip_bytes(const Address& addr, std::span<uint8_t, 16> out) {
    sa_family_t family = family_of(addr);
    if (family == AF_INET && addr.length >= sizeof(sockaddr_in)) {
        std::memcpy(out.data(), addr.storage + offsetof(sockaddr_in, sin_addr), 4);
        return 4;
    }
    if (family == AF_INET6 && addr.length >= sizeof(sockaddr_in6)) {
        std::memcpy(out.data(), addr.storage + offsetof(sockaddr_in6, sin6_addr), 16);
        return 16;
    }
    return 0;
}

Result<size_t> local_addresses(std::span<Address> out) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return Error(Errc::io, "getifaddrs failed");
    size_t n = 0;
    for (ifaddrs* i = list; i && n < out.size(); i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
        int family = i->ifa_addr->sa_family;
        socklen_t len;
        if (family == AF_INET) {
            len = sizeof(sockaddr_in);
        } else if (family == AF_INET6) {
            // fe80::/10 needs a scope to mean anything; no certificate names one.
            const auto* a6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
            len = sizeof(sockaddr_in6);
        } else {
            continue;
        }
        Address a;
        std::memcpy(a.storage, i->ifa_addr, len);
        a.length = uint32_t(len);
        a.set_port(0);
        out[n++] = a;
    }
    freeifaddrs(list);
    return n;
}

}  // namespace gust::port
