// The one place where mbedTLS 2.28 LTS and 3.6 LTS differences are chosen, by
// MBEDTLS_VERSION_NUMBER. Everything else in src/tls/ calls these wrappers and
// the API both versions share. Both are built and tested: 2.28 from Debian 12,
// 3.6 with `make MBEDTLS=3.6` (Debian 13's source, upstream default config).
#pragma once

#include <mbedtls/version.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <mbedtls/build_info.h>
#else
#if defined(MBEDTLS_CONFIG_FILE)
#include MBEDTLS_CONFIG_FILE
#else
#include <mbedtls/config.h>
#endif
#endif

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include <cstddef>
#include <cstdint>

#if MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "gust needs mbedTLS 2.28 LTS or 3.6 LTS"
#endif

// Struct fields that 3.x marks private (MBEDTLS_PRIVATE renames them); 2.28 has plain names.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define GUST_MBEDTLS_PRIVATE(member) MBEDTLS_PRIVATE(member)
#else
#define GUST_MBEDTLS_PRIVATE(member) member
#endif

// 3.x renamed the "bad protocol version" error.
#if defined(MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION)
#define GUST_MBEDTLS_ERR_BAD_VERSION MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
#else
#define GUST_MBEDTLS_ERR_BAD_VERSION MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
#endif

namespace gust::tls_compat {

// Whether this mbedTLS can speak TLS 1.3 (3.6 with MBEDTLS_SSL_PROTO_TLS1_3).
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
inline constexpr bool kHasTls13 = true;
#else
inline constexpr bool kHasTls13 = false;
#endif

// Before any key or TLS use: 3.x with PSA (which TLS 1.3 runs on) needs
// psa_crypto_init(); it is idempotent, so every config may call it.
inline int init_crypto() {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
    return psa_crypto_init() == PSA_SUCCESS ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
#else
    return 0;
#endif
}

// TLS 1.2 is the floor (1.0 and 1.1 are refused); the ceiling is the library's best.
inline void conf_min_tls12(mbedtls_ssl_config* conf) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

// Key-exchange groups in preference order: X25519, P-256, P-384. Without this
// 2.28 takes the client's strongest curve (secp521r1 against OpenSSL), which
// costs about 4.2 ms instead of 2.5 ms per handshake.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
inline constexpr uint16_t kGroups[] = {
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};
inline void conf_groups(mbedtls_ssl_config* conf) { mbedtls_ssl_conf_groups(conf, kGroups); }
#else
inline constexpr mbedtls_ecp_group_id kGroups[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};
inline void conf_groups(mbedtls_ssl_config* conf) { mbedtls_ssl_conf_curves(conf, kGroups); }
#endif

#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
// The max_fragment_length code (RFC 6066) for records that fit an input
// buffer of `in_len` bytes; NONE at TLS's full 16 KiB.
constexpr unsigned char max_fragment_code(unsigned in_len) {
    return in_len >= 16384  ? MBEDTLS_SSL_MAX_FRAG_LEN_NONE
           : in_len >= 4096 ? MBEDTLS_SSL_MAX_FRAG_LEN_4096
           : in_len >= 2048 ? MBEDTLS_SSL_MAX_FRAG_LEN_2048
           : in_len >= 1024 ? MBEDTLS_SSL_MAX_FRAG_LEN_1024
                            : MBEDTLS_SSL_MAX_FRAG_LEN_512;
}
#endif

// AEAD suites only, in server preference order (TLS 1.3 suites first where they
// exist). 3.6 follows it for TLS 1.2 only: for TLS 1.3 it takes the client's
// first suite from this list (OpenSSL's is AES-256-GCM).
inline constexpr int kCiphersuites[] = {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

// Parses a PEM or DER private key; 3.x wants an RNG (used for blinding).
inline int pk_parse_key(mbedtls_pk_context* pk, const unsigned char* key, size_t len,
                        int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_parse_key(pk, key, len, nullptr, 0, f_rng, p_rng);
#else
    (void)f_rng;
    (void)p_rng;
    return mbedtls_pk_parse_key(pk, key, len, nullptr, 0);
#endif
}

// Parses a private key file.
inline int pk_parse_keyfile(mbedtls_pk_context* pk, const char* path,
                            int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_parse_keyfile(pk, path, nullptr, f_rng, p_rng);
#else
    (void)f_rng;
    (void)p_rng;
    return mbedtls_pk_parse_keyfile(pk, path, nullptr);
#endif
}

// 0 when `prv` is the private half of `pub`.
inline int pk_check_pair(const mbedtls_pk_context* pub, const mbedtls_pk_context* prv,
                         int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_check_pair(pub, prv, f_rng, p_rng);
#else
    (void)f_rng;
    (void)p_rng;
    return mbedtls_pk_check_pair(pub, prv);
#endif
}

// Makes a parsed EC private key sign through one ECDSA context kept for the
// server's lifetime. 2.28 signs with an ECKEY context through a throwaway
// ECDSA copy (pk_wrap.c's eckey_sign_wrap) whose freshly loaded group has no
// comb table for the base point, so each ServerKeyExchange signature first
// recomputed it: 192 point doublings and two inversions, 5.0 M of the
// 27.5 M instructions of a P-256 handshake. A kept group keeps its table
// (MBEDTLS_ECP_FIXED_POINT_OPTIM, on by default). Here d*G fills it once, at
// load, and must give the key's public point back; a signature then only
// reads the table. 3.x needs none of this: its NIST curves have static
// tables and its ECKEY contexts sign in place. RSA keys are left as they are.
// Call after the key/certificate match check (the ECDSA type no longer
// compares equal to the certificate's ECKEY type there).
inline int keep_signing_table(mbedtls_pk_context* key, int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECDSA_C)
    if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY) return 0;
    mbedtls_pk_context ecdsa;
    mbedtls_pk_init(&ecdsa);
    int ret = mbedtls_pk_setup(&ecdsa, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA));
    mbedtls_ecdsa_context* ctx = mbedtls_pk_ec(ecdsa);
    if (ret == 0) ret = mbedtls_ecdsa_from_keypair(ctx, mbedtls_pk_ec(*key));
    mbedtls_ecp_point q;
    mbedtls_ecp_point_init(&q);
    if (ret == 0) ret = mbedtls_ecp_mul(&ctx->grp, &q, &ctx->d, &ctx->grp.G, f_rng, p_rng);
    if (ret == 0 && mbedtls_ecp_point_cmp(&q, &ctx->Q) != 0) ret = MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    mbedtls_ecp_point_free(&q);
    if (ret != 0) {
        mbedtls_pk_free(&ecdsa);
        return ret;
    }
    mbedtls_pk_free(key);
    *key = ecdsa;  // the context's two pointers: ownership moves
    return 0;
#else
    (void)key;
    (void)f_rng;
    (void)p_rng;
    return 0;
#endif
}

// SHA-256 of `data` into out[32] (2.28 calls it mbedtls_sha256_ret).
inline int sha256(const unsigned char* data, size_t len, unsigned char out[32]) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_sha256(data, len, out, 0);
#else
    return mbedtls_sha256_ret(data, len, out, 0);
#endif
}

// PBKDF2-HMAC-SHA256 (RFC 8018) of `password` into out[len]; 0 on success.
// 3.3+ has the _ext form (3.6 deprecates the md-context one 2.28 offers).
// Either way mbedTLS allocates an HMAC context for the run.
inline int pbkdf2_sha256(const unsigned char* password, size_t password_len, const unsigned char* salt,
                         size_t salt_len, unsigned iterations, unsigned char* out, size_t len) {
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
    return mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, password, password_len, salt, salt_len, iterations,
                                         uint32_t(len), out);
#else
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int ret = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (ret == 0)
        ret = mbedtls_pkcs5_pbkdf2_hmac(&md, password, password_len, salt, salt_len, iterations, uint32_t(len), out);
    mbedtls_md_free(&md);
    return ret;
#endif
}

// Sets a certificate's serial from big-endian bytes (3.x: set_serial_raw; 2.28: an MPI).
inline int x509write_crt_set_serial(mbedtls_x509write_cert* crt, unsigned char* serial, size_t len) {
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
    return mbedtls_x509write_crt_set_serial_raw(crt, serial, len);
#else
    mbedtls_mpi mpi;
    mbedtls_mpi_init(&mpi);
    int ret = mbedtls_mpi_read_binary(&mpi, serial, len);
    if (ret == 0) ret = mbedtls_x509write_crt_set_serial(crt, &mpi);
    mbedtls_mpi_free(&mpi);
    return ret;
#endif
}

// Generates an EC key on `group` into a pk context already set up for MBEDTLS_PK_ECKEY.
inline int ec_gen_key(mbedtls_pk_context* pk, mbedtls_ecp_group_id group,
                      int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
    return mbedtls_ecp_gen_key(group, mbedtls_pk_ec(*pk), f_rng, p_rng);
}

// True for the mbedtls_ssl_read() results that only mean "call again"
// (3.x TLS 1.3 reports post-handshake tickets this way).
inline bool read_retry(int ret) {
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) return true;
#endif
    (void)ret;
    return false;
}

}  // namespace gust::tls_compat
