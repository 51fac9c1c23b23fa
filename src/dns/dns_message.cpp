// The DNS wire format (RFC 1035) and IP literals: pure functions over
// caller-owned bytes. Integers are assembled byte by byte in network order, so
// the code is the same on every CPU. The parser is strict: every record of
// every section is bounds-checked, and compression pointers must point strictly
// backwards (so following them always terminates) within a 255-byte name.
#include <gust/dns.hpp>

#include <cstring>

namespace gust::dns {

namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;

uint16_t get16(const uint8_t* p) { return uint16_t((uint16_t(p[0]) << 8) | p[1]); }
uint32_t get32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? uint8_t(c + ('a' - 'A')) : c; }

Error malformed(const char* why) { return Error(Errc::protocol, why); }
Error not_ours(const char* why) { return Error(Errc::invalid_argument, why); }

// Reads the possibly compressed name at `pos` into `out` (lower-cased wire
// form); `next` gets the offset after the name where it started. False when malformed.
bool read_name(std::span<const uint8_t> msg, size_t pos, Name& out, size_t& next) {
    size_t len = 0;
    bool jumped = false;
    size_t limit = pos;  // a pointer must land strictly before this
    for (;;) {
        if (pos >= msg.size()) return false;
        uint8_t label = msg[pos];
        if ((label & 0xC0) == 0xC0) {
            if (pos + 1 >= msg.size()) return false;
            size_t target = (size_t(label & 0x3F) << 8) | msg[pos + 1];
            if (!jumped) next = pos + 2;
            if (target >= limit) return false;  // forward or self pointer: could loop
            jumped = true;
            limit = target;
            pos = target;
            continue;
        }
        if (label & 0xC0) return false;  // 0x40 / 0x80: obsolete extended label types
        if (label == 0) {
            if (len + 1 > kMaxNameWire) return false;
            out.bytes[len++] = 0;
            out.length = uint8_t(len);
            if (!jumped) next = pos + 1;
            return true;
        }
        if (pos + 1 + label > msg.size()) return false;
        if (len + 1 + label + 1 > kMaxNameWire) return false;
        out.bytes[len++] = label;
        for (size_t i = 0; i < label; ++i) out.bytes[len++] = lower(msg[pos + 1 + i]);
        pos += 1 + label;
    }
}

// One resource record's fixed part; rdata is [rdata, rdata + rdlength).
struct Record {
    Name owner;
    uint16_t type = 0, rclass = 0;
    uint32_t ttl = 0;
    size_t rdata = 0;
    uint16_t rdlength = 0;
};

bool read_record(std::span<const uint8_t> msg, size_t& pos, Record& rr) {
    size_t p = 0;
    if (!read_name(msg, pos, rr.owner, p)) return false;
    if (p + 10 > msg.size()) return false;
    rr.type = get16(&msg[p]);
    rr.rclass = get16(&msg[p + 2]);
    rr.ttl = get32(&msg[p + 4]);
    if (rr.ttl & 0x80000000u) rr.ttl = 0;  // RFC 2181 §8: treat as zero
    rr.rdlength = get16(&msg[p + 8]);
    rr.rdata = p + 10;
    if (rr.rdata + rr.rdlength > msg.size()) return false;
    pos = rr.rdata + rr.rdlength;
    return true;
}

// Checks the rdata of the types we read; others are opaque.
bool check_rdata(std::span<const uint8_t> msg, const Record& rr) {
    if (rr.rclass != kClassIn) return true;
    size_t end = rr.rdata + rr.rdlength;
    Name n;
    size_t p = 0;
    switch (rr.type) {
        case kTypeA: return rr.rdlength == 4;
        case kTypeAaaa: return rr.rdlength == 16;
        case kTypeCname: return read_name(msg.first(end), rr.rdata, n, p) && p == end;
        case kTypeSoa:
            if (!read_name(msg.first(end), rr.rdata, n, p)) return false;
            if (!read_name(msg.first(end), p, n, p)) return false;
            return p + 20 == end;
        default: return true;
    }
}

uint32_t min_ttl(uint32_t a, uint32_t b) { return a < b ? a : b; }

}  // namespace

// ---- Names ------------------------------------------------------------------------

bool Name::operator==(const Name& o) const { return length == o.length && std::memcmp(bytes, o.bytes, length) == 0; }

Result<void> encode_name(std::string_view text, Name& out) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    if (text.empty()) return Error(Errc::invalid_argument, "dns: empty host name");
    size_t len = 0;
    size_t start = 0;
    while (start <= text.size()) {
        size_t dot = text.find('.', start);
        if (dot == std::string_view::npos) dot = text.size();
        size_t label = dot - start;
        if (label == 0 || label > 63) return Error(Errc::invalid_argument, "dns: invalid host name (label length)");
        if (len + 1 + label + 1 > kMaxNameWire) return Error(Errc::invalid_argument, "dns: host name too long");
        out.bytes[len++] = uint8_t(label);
        for (size_t i = start; i < dot; ++i) {
            uint8_t c = uint8_t(text[i]);
            bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!okc) return Error(Errc::invalid_argument, "dns: invalid character in host name");
            out.bytes[len++] = lower(c);
        }
        start = dot + 1;
    }
    out.bytes[len++] = 0;
    out.length = uint8_t(len);
    return {};
}

size_t name_to_text(const Name& name, std::span<char> out) {
    size_t o = 0;
    size_t i = 0;
    while (i < name.length && name.bytes[i] != 0) {
        size_t label = name.bytes[i];
        if (i + 1 + label > name.length) return 0;
        if (o != 0) {
            if (o + 1 >= out.size()) return 0;
            out[o++] = '.';
        }
        if (o + label >= out.size()) return 0;
        std::memcpy(&out[o], &name.bytes[i + 1], label);
        o += label;
        i += 1 + label;
    }
    if (o >= out.size()) return 0;
    out[o] = '\0';
    return o;
}

// ---- Messages ------------------------------------------------------------------------

Result<size_t> build_query(std::span<uint8_t> out, uint16_t id, const Name& name, uint16_t qtype) {
    if (name.length == 0) return Error(Errc::invalid_argument, "dns: empty name");
    size_t total = kHeader + name.length + 4;
    if (out.size() < total) return Error(Errc::too_large, "dns: query buffer too small");
    std::memset(out.data(), 0, kHeader);
    put16(&out[0], id);
    put16(&out[2], kFlagRd);
    put16(&out[4], 1);  // QDCOUNT
    std::memcpy(&out[kHeader], name.bytes, name.length);
    put16(&out[kHeader + name.length], qtype);
    put16(&out[kHeader + name.length + 2], kClassIn);
    return total;
}

Result<Question> parse_question(std::span<const uint8_t> msg) {
    if (msg.size() < kHeader) return malformed("dns: message shorter than its header");
    Question q;
    q.id = get16(&msg[0]);
    q.flags = get16(&msg[2]);
    if (get16(&msg[4]) != 1) return malformed("dns: message without exactly one question");
    size_t p = 0;
    if (!read_name(msg, kHeader, q.name, p)) return malformed("dns: bad name in question");
    if (p + 4 > msg.size()) return malformed("dns: question truncated");
    q.qtype = get16(&msg[p]);
    q.qclass = get16(&msg[p + 2]);
    q.end = p + 4;
    return q;
}

Result<Answer> parse_response(std::span<const uint8_t> msg, uint16_t id, const Name& name, uint16_t qtype) {
    // Only address records fit an IpAddress (found by the dns fuzzer: a TXT
    // answer to a TXT question was copied into the 16-byte address).
    if (qtype != kTypeA && qtype != kTypeAaaa)
        return Error(Errc::invalid_argument, "dns: only A and AAAA answers are parsed");
    if (msg.size() < kHeader) return malformed("dns: answer shorter than a header");
    uint16_t flags = get16(&msg[2]);
    if (get16(&msg[0]) != id) return not_ours("dns: answer with another ID");
    if (!(flags & kFlagQr)) return not_ours("dns: not a response");
    if ((flags >> 11) & 0xF) return not_ours("dns: not a standard query response");
    auto q = parse_question(msg);
    if (!q) return q.error();
    if (!(q->name == name) || q->qtype != qtype || q->qclass != kClassIn) return not_ours("dns: answer to another question");

    Answer a;
    a.id = id;
    a.rcode = uint8_t(flags & 0xF);
    a.truncated = (flags & kFlagTc) != 0;
    if (a.truncated) return a;  // the rest may be cut anywhere: ask again over TCP

    uint32_t an = get16(&msg[6]), ns = get16(&msg[8]), ar = get16(&msg[10]);
    size_t rest = msg.size() - q->end;
    if ((an + ns + ar) * 11 > rest) return malformed("dns: record counts larger than the message");

    // Validate every record once, remembering where the sections start.
    size_t pos = q->end;
    size_t answers = pos, authority = 0;
    Record rr;
    for (uint32_t i = 0; i < an + ns + ar; ++i) {
        if (i == an) authority = pos;
        if (!read_record(msg, pos, rr)) return malformed("dns: truncated or malformed record");
        if (!check_rdata(msg, rr)) return malformed("dns: record data of the wrong size");
    }
    if (an + ns + ar == an) authority = pos;

    // Follow the CNAME chain from the question's name through the answer section.
    Name target = name;
    uint32_t ttl = UINT32_MAX;
    for (;;) {
        bool found_cname = false;
        Name next_target;
        uint32_t cname_ttl = 0;
        pos = answers;
        for (uint32_t i = 0; i < an; ++i) {
            (void)read_record(msg, pos, rr);  // validated above
            if (rr.rclass != kClassIn || !(rr.owner == target)) continue;
            if (rr.type == qtype) {
                if (a.count < kMaxAddresses && rr.rdlength <= sizeof(IpAddress::bytes)) {
                    IpAddress ip;
                    ip.length = uint8_t(rr.rdlength);
                    std::memcpy(ip.bytes, &msg[rr.rdata], rr.rdlength);
                    bool dup = false;
                    for (size_t k = 0; k < a.count; ++k) dup = dup || a.addresses[k] == ip;
                    if (!dup) a.addresses[a.count++] = ip;
                }
                ttl = min_ttl(ttl, rr.ttl);
            } else if (rr.type == kTypeCname && !found_cname) {
                size_t p = 0;
                (void)read_name(msg, rr.rdata, next_target, p);
                found_cname = true;
                cname_ttl = rr.ttl;
            }
        }
        if (a.count > 0 || !found_cname) break;
        if (++a.cname_hops > kMaxCnameHops) return malformed("dns: CNAME chain too long");
        ttl = min_ttl(ttl, cname_ttl);
        target = next_target;
    }
    if (a.count > 0) {
        a.has_ttl = true;
        a.ttl = ttl;
        return a;
    }
    // No address: the negative TTL is min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pos = authority;
    for (uint32_t i = 0; i < ns; ++i) {
        (void)read_record(msg, pos, rr);
        if (rr.type != kTypeSoa || rr.rclass != kClassIn) continue;
        uint32_t minimum = get32(&msg[rr.rdata + rr.rdlength - 4]);
        a.has_ttl = true;
        a.ttl = min_ttl(rr.ttl, minimum);
        break;
    }
    return a;
}

// ---- IP literals --------------------------------------------------------------------

bool IpAddress::operator==(const IpAddress& o) const {
    return length == o.length && port == o.port && std::memcmp(bytes, o.bytes, length) == 0;
}

bool AddressList::add(const IpAddress& ip) {
    for (size_t i = 0; i < count; ++i)
        if (items[i] == ip) return true;
    if (count >= kMaxAddresses) return false;
    items[count++] = ip;
    return true;
}

namespace {

bool parse_ipv4(std::string_view s, uint8_t out[4]) {
    size_t part = 0, i = 0;
    while (part < 4) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
        unsigned v = 0;
        size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (digits > 0 && v == 0) return false;  // no leading zeros (octal ambiguity)
            v = v * 10 + unsigned(s[i] - '0');
            if (v > 255) return false;
            ++digits;
            ++i;
        }
        out[part++] = uint8_t(v);
        if (part < 4) {
            if (i >= s.size() || s[i] != '.') return false;
            ++i;
        }
    }
    return i == s.size();
}

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_ipv6(std::string_view s, uint8_t out[16]) {
    uint8_t words[16] = {};
    size_t n = 0;         // bytes written
    int gap = -1;         // where "::" was, in bytes
    size_t i = 0;
    if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
        if (i == s.size()) {
            std::memset(out, 0, 16);
            return true;
        }
    } else if (!s.empty() && s[0] == ':') {
        return false;
    }
    for (;;) {
        if (n >= 16) return false;
        // An embedded IPv4 tail: only where 4 bytes remain.
        size_t end = s.find(':', i);
        std::string_view group = s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        if (end == std::string_view::npos && group.find('.') != std::string_view::npos) {
            if (n + 4 > 16 || !parse_ipv4(group, &words[n])) return false;
            n += 4;
            break;
        }
        if (group.empty() || group.size() > 4) return false;
        unsigned v = 0;
        for (char c : group) {
            int h = hex(c);
            if (h < 0) return false;
            v = v * 16 + unsigned(h);
        }
        words[n++] = uint8_t(v >> 8);
        words[n++] = uint8_t(v);
        if (end == std::string_view::npos) break;
        i = end + 1;
        if (i < s.size() && s[i] == ':') {
            if (gap >= 0) return false;  // a second "::"
            gap = int(n);
            ++i;
            if (i == s.size()) break;
        } else if (i == s.size()) {
            return false;  // trailing single ':'
        }
    }
    if (gap < 0) {
        if (n != 16) return false;
        std::memcpy(out, words, 16);
        return true;
    }
    if (n >= 16) return false;  // "::" must stand for at least one group
    size_t tail = n - size_t(gap);
    std::memset(out, 0, 16);
    std::memcpy(out, words, size_t(gap));
    std::memcpy(out + 16 - tail, words + gap, tail);
    return true;
}

}  // namespace

Result<IpAddress> parse_ip(std::string_view text) {
    IpAddress ip;
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        if (!parse_ipv6(text.substr(1, text.size() - 2), ip.bytes))
            return Error(Errc::invalid_argument, "not an IPv6 address");
        ip.length = 16;
        return ip;
    }
    if (text.find(':') != std::string_view::npos) {
        if (!parse_ipv6(text, ip.bytes)) return Error(Errc::invalid_argument, "not an IPv6 address");
        ip.length = 16;
        return ip;
    }
    if (!parse_ipv4(text, ip.bytes)) return Error(Errc::invalid_argument, "not an IPv4 address");
    ip.length = 4;
    return ip;
}

size_t format_ip(const IpAddress& ip, std::span<char> out) {
    char buf[48];
    size_t o = 0;
    auto put_dec = [&](unsigned v) {
        char d[3];
        int k = 0;
        do {
            d[k++] = char('0' + v % 10);
            v /= 10;
        } while (v);
        while (k) buf[o++] = d[--k];
    };
    if (ip.length == 4) {
        for (int i = 0; i < 4; ++i) {
            if (i) buf[o++] = '.';
            put_dec(ip.bytes[i]);
        }
    } else if (ip.length == 16 && std::memcmp(ip.bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        std::memcpy(buf, "::ffff:", 7);  // IPv4-mapped: RFC 5952 §5 mixed notation
        o = 7;
        for (int i = 12; i < 16; ++i) {
            if (i != 12) buf[o++] = '.';
            put_dec(ip.bytes[i]);
        }
    } else if (ip.length == 16) {
        uint16_t w[8];
        for (int i = 0; i < 8; ++i) w[i] = get16(&ip.bytes[2 * i]);
        int best = -1, best_len = 1;  // RFC 5952: only runs of two or more zero groups
        for (int i = 0; i < 8;) {
            if (w[i] != 0) {
                ++i;
                continue;
            }
            int j = i;
            while (j < 8 && w[j] == 0) ++j;
            if (j - i > best_len) best = i, best_len = j - i;
            i = j;
        }
        for (int i = 0; i < 8; ++i) {
            if (i == best) {
                buf[o++] = ':';
                if (i == 0) buf[o++] = ':';
                i += best_len - 1;
                continue;
            }
            static const char kHex[] = "0123456789abcdef";
            bool lead = true;
            for (int s = 12; s >= 0; s -= 4) {
                unsigned nib = (w[i] >> s) & 0xF;
                if (lead && nib == 0 && s != 0) continue;
                lead = false;
                buf[o++] = kHex[nib];
            }
            if (i != 7) buf[o++] = ':';
        }
    } else {
        return 0;
    }
    if (o + 1 > out.size()) return 0;
    std::memcpy(out.data(), buf, o);
    out[o] = '\0';
    return o;
}

}  // namespace gust::dns
