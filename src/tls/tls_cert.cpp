// The self-signed device certificate: a new ECDSA P-256 (or RSA 2048) key and
// an X.509 v3 certificate with CN = hostname, SAN = DNS:hostname plus the
// device's IPs, key usage digitalSignature and extended key usage serverAuth
// (not a CA: Firefox refuses CA certificates used as server certificates).
// SAN and EKU are DER-encoded here because 2.28 has no writer for them.
//
// File writes use POSIX directly: the port contract has no file API yet (a
// port::write_file_atomic() would be the place for this when it does).
#include <gust/tls.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <mbedtls/asn1write.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>

#include <gust/log.hpp>

#include "port.hpp"
#include "../calendar.hpp"
#include "tls_internal.hpp"

namespace gust {

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kClockSane = 1577836800;      // 2020-01-01: earlier means the clock was never set
constexpr int64_t kFallbackStart = 1704067200;  // 2024-01-01
constexpr int64_t kDefaultLifetime = 825 * kDay;
constexpr int64_t kRenewBefore = 30 * kDay;

// ---- Calendar (Howard Hinnant's civil-from-days, no OS call) --------------------------

struct Civil {
    int64_t year;
    unsigned month, day, hour, minute, second;
};

Civil civil_from_unix(int64_t t) {
    int64_t days = gust::detail::unix_day(t);
    int64_t secs = t - days * kDay;
    gust::detail::CivilDate c = gust::detail::civil_from_days(days);
    return {c.year, c.month, c.day, unsigned(secs / 3600), unsigned(secs / 60 % 60), unsigned(secs % 60)};
}

int64_t unix_from_civil(int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss) {
    return gust::detail::days_from_civil(y, m, d) * kDay + hh * 3600 + mm * 60 + ss;
}

// "YYYYMMDDhhmmss", as mbedtls_x509write_crt_set_validity wants it.
bool format_x509_time(int64_t t, char (&out)[16]) {
    Civil c = civil_from_unix(t);
    if (c.year < 1950 || c.year > 9999) return false;
    // Each field is two digits already; % 100 tells the compiler so.
    std::snprintf(out, sizeof out, "%04d%02u%02u%02u%02u%02u", int(c.year), c.month % 100, c.day % 100,
                  c.hour % 100, c.minute % 100, c.second % 100);
    return true;
}

// ---- Names and addresses -------------------------------------------------------------------

// A DNS name we are willing to put in a certificate (also keeps "CN=..." free of escapes).
bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    for (char c : h) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == '_';
        if (!ok) return false;
    }
    return h.front() != '.' && h.front() != '-';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_ipv4(std::string_view s, uint8_t out[4]) {
    int part = 0;
    size_t i = 0;
    while (part < 4) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
        unsigned v = 0;
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + unsigned(s[i] - '0');
            if (v > 255 || i - start > 2) return false;
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

// IPv6 text (RFC 4291 section 2.2 forms 1 and 2; no embedded IPv4, no zone).
bool parse_ipv6(std::string_view s, uint8_t out[16]) {
    uint16_t head[8], tail[8];
    int nhead = 0, ntail = 0;
    bool gap = false;
    size_t i = 0;
    if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        i = 2;
    } else if (!s.empty() && s[0] == ':') {
        return false;
    }
    while (i < s.size()) {
        unsigned v = 0;
        int digits = 0;
        while (i < s.size() && hex_digit(s[i]) >= 0) {
            v = v * 16 + unsigned(hex_digit(s[i++]));
            if (++digits > 4) return false;
        }
        if (digits == 0) return false;
        if (nhead + ntail == 8) return false;
        (gap ? tail[ntail++] : head[nhead++]) = uint16_t(v);
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (gap) return false;
            gap = true;
            ++i;
        } else if (i == s.size()) {
            return false;  // trailing single colon
        }
    }
    if (gap ? nhead + ntail > 7 : nhead != 8) return false;
    uint16_t words[8] = {};
    for (int k = 0; k < nhead; ++k) words[k] = head[k];
    for (int k = 0; k < ntail; ++k) words[8 - ntail + k] = tail[k];
    for (int k = 0; k < 8; ++k) {
        out[2 * k] = uint8_t(words[k] >> 8);
        out[2 * k + 1] = uint8_t(words[k]);
    }
    return true;
}

// IPv4 (4 bytes) or IPv6 (16 bytes); 0 when `s` is neither.
size_t parse_ip_bytes(std::string_view s, uint8_t out[16]) {
    if (parse_ipv4(s, out)) return 4;
    if (parse_ipv6(s, out)) return 16;
    return 0;
}

// ---- DER for the extensions 2.28 cannot write ------------------------------------------

// Writes backwards from `*p` (mbedtls_asn1_write_* style); each step's result is
// a length or a negative error, and the macro stops at the first error.
#define GUST_ASN1(expr)          \
    do {                         \
        int r_ = (expr);         \
        if (r_ < 0) return r_;   \
        len += size_t(r_);       \
    } while (0)

int write_san(mbedtls_x509write_cert* crt, std::string_view host, std::span<const std::string_view> ips) {
    unsigned char buf[1024];
    unsigned char* p = buf + sizeof buf;
    size_t len = 0;
    for (size_t k = ips.size(); k-- > 0;) {  // backwards: the last entry is written first
        uint8_t ip[16];
        size_t n = parse_ip_bytes(ips[k], ip);
        if (n == 0) return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
        GUST_ASN1(mbedtls_asn1_write_raw_buffer(&p, buf, ip, n));
        GUST_ASN1(mbedtls_asn1_write_len(&p, buf, n));
        GUST_ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));  // iPAddress
    }
    GUST_ASN1(mbedtls_asn1_write_raw_buffer(&p, buf, reinterpret_cast<const unsigned char*>(host.data()),
                                            host.size()));
    GUST_ASN1(mbedtls_asn1_write_len(&p, buf, host.size()));
    GUST_ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));  // dNSName
    GUST_ASN1(mbedtls_asn1_write_len(&p, buf, len));
    GUST_ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
}

int write_eku_server_auth(mbedtls_x509write_cert* crt) {
    unsigned char buf[32];
    unsigned char* p = buf + sizeof buf;
    size_t len = 0;
    GUST_ASN1(mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
    GUST_ASN1(mbedtls_asn1_write_len(&p, buf, len));
    GUST_ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len);
}

#undef GUST_ASN1

// ---- Files -----------------------------------------------------------------------------------------

bool join(char (&out)[512], const char* dir, const char* name) {
    int n = std::snprintf(out, sizeof out, "%s/%s", dir, name);
    return n > 0 && size_t(n) < sizeof out;
}

// Writes `data` to path.tmp with `mode`, fsyncs and renames it over `path`.
Result<void> write_file_atomic(const char* path, const unsigned char* data, size_t len, mode_t mode) {
    char tmp[520];
    int n = std::snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || size_t(n) >= sizeof tmp) return Error(Errc::invalid_argument, "tls: path too long");
    int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return Error(Errc::io, "tls: cannot create certificate file", errno);
    bool ok = ::fchmod(fd, mode) == 0;  // O_CREAT's mode is filtered by umask; an old tmp kept its mode
    size_t done = 0;
    while (ok && done < len) {
        ssize_t w = ::write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = false;
        else done += size_t(w);
    }
    int err = errno;
    if (ok && ::fsync(fd) != 0) {
        ok = false;
        err = errno;
    }
    ::close(fd);
    if (ok && ::rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        ::unlink(tmp);
        return Error(Errc::io, "tls: cannot write certificate file", err);
    }
    return {};
}

void sync_dir(const char* dir) {
    int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
}

// ---- Generation ------------------------------------------------------------------------------------

struct Generated {
    unsigned char cert_pem[4096];
    unsigned char key_pem[4096];
    ~Generated() { mbedtls_platform_zeroize(key_pem, sizeof key_pem); }
};

int generate(const DeviceCertOptions& o, int64_t not_before, int64_t not_after, Generated& out) {
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);

    char subject[300];
    std::snprintf(subject, sizeof subject, "CN=%.*s", int(o.hostname.size()), o.hostname.data());
    char from[16], until[16];
    format_x509_time(not_before, from);
    format_x509_time(not_after, until);

    int ret = tls_detail::seed_drbg(&drbg, "gust tls certificate");
    if (ret == 0) {
        if (o.key == TlsKeyType::rsa_2048) {
            ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
            if (ret == 0) ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, &drbg, 2048, 65537);
        } else {
            ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
            if (ret == 0) ret = tls_compat::ec_gen_key(&key, MBEDTLS_ECP_DP_SECP256R1, mbedtls_ctr_drbg_random, &drbg);
        }
    }
    if (ret == 0) {
        mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&crt, &key);
        mbedtls_x509write_crt_set_issuer_key(&crt, &key);
        unsigned char serial[16];
        ret = mbedtls_ctr_drbg_random(&drbg, serial, sizeof serial);
        serial[0] = uint8_t((serial[0] & 0x7f) | 0x40);  // positive, full length, never zero
        if (ret == 0) ret = tls_compat::x509write_crt_set_serial(&crt, serial, sizeof serial);
    }
    if (ret == 0) ret = mbedtls_x509write_crt_set_subject_name(&crt, subject);
    if (ret == 0) ret = mbedtls_x509write_crt_set_issuer_name(&crt, subject);
    if (ret == 0) ret = mbedtls_x509write_crt_set_validity(&crt, from, until);
    if (ret == 0) ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
    if (ret == 0) {
        unsigned usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
        if (o.key == TlsKeyType::rsa_2048) usage |= MBEDTLS_X509_KU_KEY_ENCIPHERMENT;
        ret = mbedtls_x509write_crt_set_key_usage(&crt, usage);
    }
    if (ret == 0) ret = write_eku_server_auth(&crt);
    if (ret == 0) ret = write_san(&crt, o.hostname, o.ips);
#if defined(MBEDTLS_SHA1_C)
    if (ret == 0) ret = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
#endif
    if (ret == 0)
        ret = mbedtls_x509write_crt_pem(&crt, out.cert_pem, sizeof out.cert_pem, mbedtls_ctr_drbg_random, &drbg);
    if (ret == 0) ret = mbedtls_pk_write_key_pem(&key, out.key_pem, sizeof out.key_pem);

    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    return ret;
}

}  // namespace

Result<void> write_self_signed(const char* state_dir, const DeviceCertOptions& o) {
    if (!state_dir || !*state_dir) return Error(Errc::invalid_argument, "tls: no state directory");
    if (!valid_hostname(o.hostname)) return Error(Errc::invalid_argument, "tls: bad hostname for a certificate");
    for (std::string_view ip : o.ips) {
        uint8_t bytes[16];
        if (parse_ip_bytes(ip, bytes) == 0) return Error(Errc::invalid_argument, "tls: bad IP address for a certificate");
    }
    int64_t now = port::wall_clock_s();
    int64_t not_before = o.not_before ? o.not_before : (now >= kClockSane ? now - kDay : kFallbackStart);
    int64_t not_after = o.not_after ? o.not_after : not_before + kDefaultLifetime;
    char check[16];
    if (not_after <= not_before || !format_x509_time(not_before, check) || !format_x509_time(not_after, check))
        return Error(Errc::invalid_argument, "tls: bad certificate validity");

    char cert_path[512], key_path[512];
    if (!join(cert_path, state_dir, "cert.pem") || !join(key_path, state_dir, "key.pem"))
        return Error(Errc::invalid_argument, "tls: state directory path too long");
    if (::mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return Error(Errc::io, "tls: cannot create the state directory", errno);

    static Generated g;  // 8 KiB off the stack; start-up only, loop thread only
    int ret = generate(o, not_before, not_after, g);
    if (ret != 0) return tls_detail::tls_error(ret, "generating the certificate", "tls: certificate generation failed");
    // Key first: a crash between the renames leaves a pair that ensure_self_signed() rejects and replaces.
    auto r = write_file_atomic(key_path, g.key_pem, std::strlen(reinterpret_cast<char*>(g.key_pem)), 0600);
    mbedtls_platform_zeroize(g.key_pem, sizeof g.key_pem);
    if (r) r = write_file_atomic(cert_path, g.cert_pem, std::strlen(reinterpret_cast<char*>(g.cert_pem)), 0644);
    if (!r) {
        log_error("tls: cannot write %s: %s", key_path, std::strerror(r.error().sys));
        return r;
    }
    sync_dir(state_dir);
    log_info("tls: generated a self-signed certificate for %.*s in %s", int(o.hostname.size()), o.hostname.data(),
             state_dir);
    return {};
}

namespace {

// Why the stored pair cannot be reused, or nullptr when it can.
const char* reuse_problem(const char* cert_path, const char* key_path, std::string_view hostname) {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
    mbedtls_ctr_drbg_init(&drbg);
    const char* problem = nullptr;
    if (tls_detail::seed_drbg(&drbg, "gust tls check") != 0) problem = "no random numbers";
    else if (mbedtls_x509_crt_parse_file(&crt, cert_path) != 0) problem = "certificate unreadable";
    else if (tls_compat::pk_parse_keyfile(&key, key_path, mbedtls_ctr_drbg_random, &drbg) != 0) problem = "key unreadable";
    else if (tls_compat::pk_check_pair(&crt.pk, &key, mbedtls_ctr_drbg_random, &drbg) != 0) problem = "key does not match";
    if (!problem) {
        char dn[300], want[300];
        std::snprintf(want, sizeof want, "CN=%.*s", int(hostname.size()), hostname.data());
        if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt.subject) < 0 || std::strcmp(dn, want) != 0)
            problem = "hostname changed";
    }
    if (!problem) {
        int64_t now = port::wall_clock_s();
        const mbedtls_x509_time& t = crt.valid_to;
        int64_t until = unix_from_civil(t.year, unsigned(t.mon), unsigned(t.day), unsigned(t.hour),
                                        unsigned(t.min), unsigned(t.sec));
        if (now >= kClockSane && until - now < kRenewBefore) problem = "expired or about to expire";
    }
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&crt);
    return problem;
}

}  // namespace

Result<void> ensure_self_signed(const char* state_dir, const DeviceCertOptions& o) {
    if (!state_dir || !*state_dir) return Error(Errc::invalid_argument, "tls: no state directory");
    char cert_path[512], key_path[512];
    if (!join(cert_path, state_dir, "cert.pem") || !join(key_path, state_dir, "key.pem"))
        return Error(Errc::invalid_argument, "tls: state directory path too long");
    struct stat st;
    if (::stat(cert_path, &st) == 0 && ::stat(key_path, &st) == 0) {
        const char* problem = reuse_problem(cert_path, key_path, o.hostname);
        if (!problem) return {};
        log_warn("tls: replacing the certificate in %s: %s", state_dir, problem);
    }
    return write_self_signed(state_dir, o);
}

}  // namespace gust
