// TLS configurations: one mbedtls_ssl_config, one CTR-DRBG and the long-lived
// key material per listener or client profile, built at start-up and shared by
// every connection (mongoose builds and parses these per connection; we don't).
#include <gust/tls.hpp>

#include <cstdio>
#include <cstring>
#include <new>

#include <gust/log.hpp>

#include "port.hpp"
#include "tls_internal.hpp"

namespace gust {

// ---- Shared helpers ------------------------------------------------------------------

namespace tls_detail {

int port_entropy(void*, unsigned char* out, size_t len) {
    auto r = port::random_bytes(std::span<uint8_t>(out, len));
    return r ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

int seed_drbg(mbedtls_ctr_drbg_context* drbg, const char* personalization) {
    int ret = tls_compat::init_crypto();
    if (ret != 0) return ret;
    return mbedtls_ctr_drbg_seed(drbg, port_entropy, nullptr,
                                 reinterpret_cast<const unsigned char*>(personalization),
                                 std::strlen(personalization));
}

void log_mbedtls(const char* what, int ret, LogLevel level) {
    char text[128];
#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(ret, text, sizeof text);
#else
    text[0] = '\0';
#endif
    if (level == LogLevel::info) log_info("tls: %s: %s (-0x%04x)", what, text, unsigned(-ret));
    else log_warn("tls: %s: %s (-0x%04x)", what, text, unsigned(-ret));
}

Error tls_error(int ret, const char* what, const char* message, LogLevel level) {
    log_mbedtls(what, ret, level);
    return Error(Errc::tls, message);
}

}  // namespace tls_detail

using tls_detail::tls_error;

namespace {

// Both configs: defaults for the role, TLS 1.2 floor, AEAD suites, group order, RNG.
int base_setup(mbedtls_ssl_config* conf, mbedtls_ctr_drbg_context* drbg, int endpoint) {
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return ret;
    tls_compat::conf_min_tls12(conf);
    mbedtls_ssl_conf_ciphersuites(conf, tls_compat::kCiphersuites);
    tls_compat::conf_groups(conf);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
    return 0;
}

// A board whose mbedTLS config shrinks the input record buffer below TLS's
// 16 KiB asks servers for records that fit it (RFC 6066 max_fragment_length);
// a server that ignores the extension can still send records it cannot take.
void request_fitting_records(mbedtls_ssl_config* conf) {
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    constexpr unsigned char code = tls_compat::max_fragment_code(MBEDTLS_SSL_IN_CONTENT_LEN);
    if (code != MBEDTLS_SSL_MAX_FRAG_LEN_NONE) (void)mbedtls_ssl_conf_max_frag_len(conf, code);
#else
    (void)conf;
#endif
}

}  // namespace

// ---- Server ----------------------------------------------------------------------------

struct TlsServerConfig::Impl {
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
#if defined(MBEDTLS_SSL_TICKET_C)
    mbedtls_ssl_ticket_context ticket;
#endif
    struct Cert {
        mbedtls_x509_crt chain;
        mbedtls_pk_context key;
    } certs[kTlsMaxCertificates];
    int cert_count = 0;
    TlsSniHook sni = nullptr;
    void* sni_user = nullptr;

    Impl() {
        mbedtls_ssl_config_init(&conf);
        mbedtls_ctr_drbg_init(&drbg);
#if defined(MBEDTLS_SSL_TICKET_C)
        mbedtls_ssl_ticket_init(&ticket);
#endif
        for (Cert& c : certs) {
            mbedtls_x509_crt_init(&c.chain);
            mbedtls_pk_init(&c.key);
        }
    }
    ~Impl() {
        for (Cert& c : certs) {
            mbedtls_x509_crt_free(&c.chain);
            mbedtls_pk_free(&c.key);
        }
#if defined(MBEDTLS_SSL_TICKET_C)
        mbedtls_ssl_ticket_free(&ticket);
#endif
        mbedtls_ssl_config_free(&conf);
        mbedtls_ctr_drbg_free(&drbg);
    }

    // mbedTLS's SNI callback: lets the hook swap in another certificate.
    static int on_sni(void* p, mbedtls_ssl_context* ssl, const unsigned char* name, size_t len) {
        Impl* self = static_cast<Impl*>(p);
        if (!self->sni) return 0;
        int pick = self->sni(self->sni_user, std::string_view(reinterpret_cast<const char*>(name), len));
        if (pick == kTlsRejectName) return -1;
        if (pick < 0 || pick >= self->cert_count) return 0;
        Cert& c = self->certs[pick];
        return mbedtls_ssl_set_hs_own_cert(ssl, &c.chain, &c.key);
    }
};

TlsServerConfig::TlsServerConfig() = default;

TlsServerConfig::~TlsServerConfig() { delete impl_; }

Result<void> TlsServerConfig::init() {
    if (impl_) return {};
    Impl* impl = new (std::nothrow) Impl;
    if (!impl) return Error(Errc::no_memory, "tls: no memory for the server config");
    int ret = tls_detail::seed_drbg(&impl->drbg, "gust tls server");
    if (ret != 0) {
        delete impl;
        return tls_error(ret, "seeding the DRBG", "tls: random number generator failed");
    }
    ret = base_setup(&impl->conf, &impl->drbg, MBEDTLS_SSL_IS_SERVER);
    if (ret != 0) {
        delete impl;
        return tls_error(ret, "server config defaults", "tls: server configuration failed");
    }
#if defined(MBEDTLS_SSL_TICKET_C) && defined(MBEDTLS_SSL_SESSION_TICKETS)
    // Stateless resumption: the ticket key rotates inside mbedTLS every lifetime.
    ret = mbedtls_ssl_ticket_setup(&impl->ticket, mbedtls_ctr_drbg_random, &impl->drbg,
                                   MBEDTLS_CIPHER_AES_256_GCM, 86400);
    if (ret != 0) {
        delete impl;
        return tls_error(ret, "session ticket setup", "tls: session ticket setup failed");
    }
    mbedtls_ssl_conf_session_tickets_cb(&impl->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                        &impl->ticket);
#endif
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
    mbedtls_ssl_conf_sni(&impl->conf, Impl::on_sni, impl);
#endif
    impl_ = impl;
    return {};
}

Result<int> TlsServerConfig::add_certificate(const char* cert_path, const char* key_path) {
    if (!cert_path || !key_path) return Error(Errc::invalid_argument, "tls: certificate and key paths needed");
    if (auto r = init(); !r) return r.error();
    if (impl_->cert_count == kTlsMaxCertificates) return Error(Errc::no_memory, "tls: too many certificates");
    Impl::Cert& c = impl_->certs[impl_->cert_count];
    int ret = mbedtls_x509_crt_parse_file(&c.chain, cert_path);
    if (ret != 0) {
        mbedtls_x509_crt_free(&c.chain);
        mbedtls_x509_crt_init(&c.chain);
        log_warn("tls: cannot load certificate %s", cert_path);
        return tls_error(ret, "parsing the certificate", "tls: cannot load certificate");
    }
    ret = tls_compat::pk_parse_keyfile(&c.key, key_path, mbedtls_ctr_drbg_random, &impl_->drbg);
    if (ret == 0) ret = tls_compat::pk_check_pair(&c.chain.pk, &c.key, mbedtls_ctr_drbg_random, &impl_->drbg);
    if (ret == 0) ret = tls_compat::keep_signing_table(&c.key, mbedtls_ctr_drbg_random, &impl_->drbg);
    if (ret == 0) ret = mbedtls_ssl_conf_own_cert(&impl_->conf, &c.chain, &c.key);
    if (ret != 0) {
        mbedtls_x509_crt_free(&c.chain);
        mbedtls_x509_crt_init(&c.chain);
        mbedtls_pk_free(&c.key);
        mbedtls_pk_init(&c.key);
        log_warn("tls: cannot use key %s with %s", key_path, cert_path);
        return tls_error(ret, "loading the private key", "tls: cannot load private key");
    }
    if (mbedtls_x509_time_is_past(&c.chain.valid_to)) log_warn("tls: certificate %s has expired", cert_path);
    return impl_->cert_count++;
}

Result<void> TlsServerConfig::load(const char* cert_path, const char* key_path) {
    auto r = add_certificate(cert_path, key_path);
    if (!r) return r.error();
    return {};
}

Result<void> TlsServerConfig::load_self_signed(const char* state_dir, const DeviceCertOptions& opts) {
    if (auto r = ensure_self_signed(state_dir, opts); !r) return r;
    char cert[512], key[512];
    int n1 = std::snprintf(cert, sizeof cert, "%s/cert.pem", state_dir);
    int n2 = std::snprintf(key, sizeof key, "%s/key.pem", state_dir);
    if (n1 < 0 || n2 < 0 || size_t(n1) >= sizeof cert || size_t(n2) >= sizeof key)
        return Error(Errc::invalid_argument, "tls: state directory path too long");
    auto r = add_certificate(cert, key);
    if (!r) return r.error();
    char fp[96];
    if (fingerprint(fp) > 0) log_info("tls: device certificate %s, SHA-256 %s", cert, fp);
    return {};
}

void TlsServerConfig::set_sni_hook(TlsSniHook hook, void* user) {
    if (!init()) return;
    impl_->sni = hook;
    impl_->sni_user = user;
}

bool TlsServerConfig::ready() const { return impl_ && impl_->cert_count > 0; }

size_t TlsServerConfig::fingerprint(std::span<char> out) const {
    if (!ready() || out.size() < 96) return 0;
    const mbedtls_x509_crt& crt = impl_->certs[0].chain;
    unsigned char digest[32];
    if (tls_compat::sha256(crt.raw.p, crt.raw.len, digest) != 0) return 0;
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (int i = 0; i < 32; ++i) {
        if (i) out[n++] = ':';
        out[n++] = hex[digest[i] >> 4];
        out[n++] = hex[digest[i] & 15];
    }
    out[n] = '\0';
    return n;
}

mbedtls_ssl_config* TlsServerConfig::native() {
    if (!init()) return nullptr;
    return &impl_->conf;
}

// ---- Client ----------------------------------------------------------------------------

struct TlsClientConfig::Impl {
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    bool insecure = false;

    Impl() {
        mbedtls_ssl_config_init(&conf);
        mbedtls_ctr_drbg_init(&drbg);
        mbedtls_x509_crt_init(&ca);
    }
    ~Impl() {
        mbedtls_x509_crt_free(&ca);
        mbedtls_ssl_config_free(&conf);
        mbedtls_ctr_drbg_free(&drbg);
    }
};

TlsClientConfig::TlsClientConfig() = default;

TlsClientConfig::~TlsClientConfig() { delete impl_; }

namespace {

// Loads trust anchors: the CA file, else the directory, else the system bundle.
Result<void> load_trust(mbedtls_x509_crt* ca, const TlsClientOptions& opts) {
    int ret;
    const char* what;
    if (opts.ca_file) {
        what = opts.ca_file;
        ret = mbedtls_x509_crt_parse_file(ca, what);
    } else if (opts.ca_dir) {
        what = opts.ca_dir;
        ret = mbedtls_x509_crt_parse_path(ca, what);
    } else {
        static const char* const kBundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"};
        what = kBundles[0];
        ret = MBEDTLS_ERR_X509_FILE_IO_ERROR;
        for (const char* b : kBundles) {
            what = b;
            ret = mbedtls_x509_crt_parse_file(ca, b);
            if (ret >= 0 || ca->raw.len > 0) break;
        }
    }
    // A positive count means some entries of a bundle were skipped; fine if any loaded.
    if (ret > 0 && ca->raw.len > 0) {
        log_debug("tls: %s: %d certificates skipped", what, ret);
        ret = 0;
    }
    if (ret != 0 || ca->raw.len == 0) {
        log_warn("tls: cannot load trusted certificates from %s", what);
        return tls_error(ret < 0 ? ret : MBEDTLS_ERR_X509_FILE_IO_ERROR, "loading CA certificates",
                         "tls: cannot load trusted certificates");
    }
    return {};
}

}  // namespace

Result<void> TlsClientConfig::init(const TlsClientOptions& opts) {
    if (impl_) return Error(Errc::invalid_argument, "tls: client config already initialised");
    Impl* impl = new (std::nothrow) Impl;
    if (!impl) return Error(Errc::no_memory, "tls: no memory for the client config");
    int ret = tls_detail::seed_drbg(&impl->drbg, "gust tls client");
    if (ret != 0) {
        delete impl;
        return tls_error(ret, "seeding the DRBG", "tls: random number generator failed");
    }
    ret = base_setup(&impl->conf, &impl->drbg, MBEDTLS_SSL_IS_CLIENT);
    if (ret != 0) {
        delete impl;
        return tls_error(ret, "client config defaults", "tls: client configuration failed");
    }
    request_fitting_records(&impl->conf);
    impl->insecure = opts.insecure;
    if (opts.insecure) {
        log_warn("tls: client certificate verification is OFF");
        mbedtls_ssl_conf_authmode(&impl->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        if (auto r = load_trust(&impl->ca, opts); !r) {
            delete impl;
            return r;
        }
        mbedtls_ssl_conf_ca_chain(&impl->conf, &impl->ca, nullptr);
        mbedtls_ssl_conf_authmode(&impl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
    impl_ = impl;
    return {};
}

bool TlsClientConfig::ready() const { return impl_ != nullptr; }

bool TlsClientConfig::insecure() const { return impl_ && impl_->insecure; }

mbedtls_ssl_config* TlsClientConfig::native() { return impl_ ? &impl_->conf : nullptr; }

}  // namespace gust
