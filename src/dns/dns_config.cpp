// /etc/resolv.conf and /etc/hosts: pure text parsers, and the Resolver's
// change detection (one stat per file at most once per `recheck`).
#include <gust/dns.hpp>
#include <gust/log.hpp>

#include <cstring>

#include "port.hpp"

namespace gust::dns {

namespace {

// Calls fn(tokens, count) for each line, comments (from `#`, or `;` at a
// token start) removed, split on blanks; at most 16 tokens per line.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        std::string_view tokens[16];
        size_t count = 0;
        size_t i = 0;
        while (i < line.size() && count < 16) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            if (i >= line.size() || line[i] == '#' || line[i] == ';') break;
            size_t t = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#') ++i;
            tokens[count++] = line.substr(t, i - t);
            if (i < line.size() && line[i] == '#') break;
        }
        if (count) fn(tokens, count);
    }
}

bool equal_nocase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = char(x + 32);
        if (y >= 'A' && y <= 'Z') y = char(y + 32);
        if (x != y) return false;
    }
    return true;
}

// "timeout:N" -> N clamped to [lo, hi]; -1 when `tok` does not start with `key`.
int option_value(std::string_view tok, std::string_view key, int lo, int hi) {
    if (tok.size() <= key.size() || tok.substr(0, key.size()) != key) return -1;
    int v = 0;
    for (char c : tok.substr(key.size())) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
        if (v > 1000) v = 1000;
    }
    return v < lo ? lo : v > hi ? hi : v;
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text, uint16_t port) {
    ResolvConf conf;
    for_each_line(text, [&](std::string_view* tok, size_t n) {
        if (tok[0] == "nameserver" && n >= 2) {
            if (conf.server_count >= kMaxServers) return;
            auto ip = parse_ip(tok[1]);
            if (!ip) return;  // scoped or malformed addresses are skipped
            ip->port = port;
            conf.servers[conf.server_count++] = *ip;
        } else if (tok[0] == "options") {
            for (size_t i = 1; i < n; ++i) {
                if (int v = option_value(tok[i], "timeout:", 1, 30); v > 0) conf.timeout_s = uint8_t(v);
                if (int v = option_value(tok[i], "attempts:", 1, 5); v > 0) conf.attempts = uint8_t(v);
            }
        }
    });
    if (conf.server_count == 0) {
        IpAddress local;
        local.length = 4;
        local.bytes[0] = 127;
        local.bytes[3] = 1;
        local.port = port;
        conf.servers[conf.server_count++] = local;
    }
    return conf;
}

size_t hosts_lookup(std::string_view text, std::string_view host, Family family, uint16_t port, AddressList& out) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    size_t before = out.count;
    bool v6_first = family == Family::any_ipv6_first || family == Family::ipv6;
    for (int pass = 0; pass < 2; ++pass) {
        bool want_v6 = (pass == 0) == v6_first;
        if (want_v6 && family == Family::ipv4) continue;
        if (!want_v6 && family == Family::ipv6) continue;
        for_each_line(text, [&](std::string_view* tok, size_t n) {
            if (n < 2) return;
            bool named = false;
            for (size_t i = 1; i < n && !named; ++i) named = equal_nocase(tok[i], host);
            if (!named) return;
            auto ip = parse_ip(tok[0]);
            if (!ip || ip->is_ipv6() != want_v6) return;
            ip->port = port;
            (void)out.add(*ip);
        });
    }
    return out.count - before;
}

// ---- Resolver: reading the files when they change -------------------------------------

namespace {

// Reads `path` into buf when its stamp differs from `stamp`; returns true when it changed.
bool refresh(const char* path, uint64_t stamp[3], bool force, char* buf, size_t cap, size_t& len) {
    auto st = port::file_stamp(path);
    uint64_t now[3] = {0, 0, 0};
    if (st) {
        now[0] = uint64_t(st->mtime_ns);
        now[1] = st->size;
        now[2] = st->inode;
    }
    if (!force && std::memcmp(now, stamp, sizeof now) == 0) return false;
    std::memcpy(stamp, now, sizeof now);
    len = 0;
    if (!st) return true;  // missing: empty (defaults)
    auto r = port::read_file(path, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), cap));
    if (!r) {
        log_warn("dns: cannot read %s: %s", path, r.error().message);
        return true;
    }
    len = *r;
    if (len == cap && st->size > cap) {
        log_warn("dns: %s is larger than %zu bytes; only its start is used", path, cap);
        while (len > 0 && buf[len - 1] != '\n') --len;  // drop the cut line
    }
    return true;
}

}  // namespace

void Resolver::check_config() {
    last_check_ = loop_.now();
    bool first = !config_loaded_;
    char text[2048];
    size_t len = 0;
    if (refresh(options_.resolv_conf_path, resolv_stamp_, first, text, sizeof text, len)) {
        conf_ = parse_resolv_conf(std::string_view(text, len), options_.dns_port);
        if (!first) {
            ++stats_.config_reloads;
            clear_cache();  // answers from the old servers no longer apply
        }
    }
    if (hosts_ && refresh(options_.hosts_path, hosts_stamp_, first, hosts_, options_.hosts_bytes, hosts_len_)) {
        if (!first) ++stats_.config_reloads;
    }
    config_loaded_ = true;
}

}  // namespace gust::dns
