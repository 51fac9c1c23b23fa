// TLS over TCP through mbedTLS (2.28 LTS or 3.6 LTS): TlsStream is a Stream,
// so the HTTP server and client use it exactly like TcpStream.
//
//   TlsServerConfig tls;                                    // once per listener, at start-up
//   tls.load_self_signed("/var/lib/gust", {.hostname = "router.local"});
//   ...
//   TlsStream s;                                            // per connection
//   s.attach(loop, accepted_fd);
//   s.start_server(tls);
//   if (auto r = co_await s.handshake(10s); !r) ...        // Errc::tls / Errc::timeout
//   auto n = co_await s.read(buf, 5s);                      // 0 = close_notify (or FIN)
//
// The heavy state (mbedtls_ssl_config, CA chain, certificates, keys, the
// CTR-DRBG, the session-ticket keys) lives in a config, built once per listener
// or client profile, never per connection. A TlsStream holds only an
// mbedtls_ssl_context; mbedTLS allocates its record buffers (calloc) when the
// stream starts and they are freed at close(): about 33 KiB per connection with
// stock 2.28, 41 KiB with 3.6 (16 KiB in + 16 KiB out, plus handshake state; a
// board's mbedTLS config can shrink them).
//
// Policy: TLS 1.2 minimum; AEAD suites only (ECDHE-ECDSA/RSA with AES-GCM and
// ChaCha20-Poly1305, plus the TLS 1.3 suites on 3.6); ECDHE groups X25519,
// P-256, P-384 in that order; session tickets on servers; verification on by
// default for clients. Every mbedTLS failure becomes Error(Errc::tls, <static
// message>) and mbedTLS's own text goes to the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <mbedtls/ssl.h>

#include <gust/clock.hpp>
#include <gust/result.hpp>
#include <gust/stream.hpp>
#include <gust/task.hpp>

namespace gust {

// ---- Self-signed device certificate ---------------------------------------------

// Key type of a generated certificate.
enum class TlsKeyType : uint8_t { ec_p256, rsa_2048 };

// What a generated device certificate says about itself.
struct DeviceCertOptions {
    std::string_view hostname;                   // CN and first DNS SAN, e.g. "router.local"
    std::span<const std::string_view> ips = {};  // IP SANs, e.g. "192.168.1.1", "fd00::1"
    int64_t not_before = 0;  // Unix seconds; 0: now minus one day (2024-01-01 if the clock is unset)
    int64_t not_after = 0;   // Unix seconds; 0: not_before plus 825 days (what Apple accepts)
    TlsKeyType key = TlsKeyType::ec_p256;  // RSA 2048 takes seconds to generate on small boards
};

// Generates a new key and self-signed certificate into <state_dir>/cert.pem and
// <state_dir>/key.pem (mode 0600), each written to a temporary file and renamed
// into place; creates state_dir (0700) when missing. Errc::invalid_argument for
// a bad hostname or IP, Errc::io when the files cannot be written.
Result<void> write_self_signed(const char* state_dir, const DeviceCertOptions& opts);

// Reuses <state_dir>/cert.pem + key.pem when they parse, match each other, name
// opts.hostname and are not within 30 days of expiry; otherwise writes new ones
// (write_self_signed). The bytes on disk stay the same across restarts.
Result<void> ensure_self_signed(const char* state_dir, const DeviceCertOptions& opts);

// Shorthand: CN = hostname, SANs = hostname plus `ips`, default validity.
inline Result<void> ensure_self_signed(const char* state_dir, std::string_view hostname,
                                       std::span<const std::string_view> ips = {}) {
    DeviceCertOptions o;
    o.hostname = hostname;
    o.ips = ips;
    return ensure_self_signed(state_dir, o);
}

// ---- Server configuration ---------------------------------------------------------

// Most certificate/key pairs one server config holds (default plus SNI alternatives).
inline constexpr int kTlsMaxCertificates = 4;
// SNI hook results besides a certificate index.
inline constexpr int kTlsDefaultCertificate = -1;  // let mbedTLS pick among all loaded certificates
inline constexpr int kTlsRejectName = -2;          // abort the handshake (unrecognized_name alert)

// Picks the certificate for the name a client asked for (SNI): returns an index
// from add_certificate(), kTlsDefaultCertificate or kTlsRejectName. `server_name`
// lives only during the call. Runs on the loop thread inside the handshake.
using TlsSniHook = int (*)(void* user, std::string_view server_name);

// One per listener. Build it before Loop::run() (it allocates); it must outlive
// every TlsStream started from it. Not copyable or movable. Its streams'
// handshakes run on one thread: on mbedTLS 2.28 an EC key signs through one
// ECDSA context kept here (its base-point table built at load, so signing only
// reads it), and mbedTLS does not promise that two threads may share one.
class TlsServerConfig {
public:
    TlsServerConfig();
    ~TlsServerConfig();
    TlsServerConfig(const TlsServerConfig&) = delete;
    TlsServerConfig& operator=(const TlsServerConfig&) = delete;

    // Loads a PEM certificate chain (leaf first) and its unencrypted PEM private key
    // (ECDSA or RSA); returns its index. The first one loaded is the default.
    Result<int> add_certificate(const char* cert_path, const char* key_path);
    // add_certificate() for the usual single-certificate server.
    Result<void> load(const char* cert_path, const char* key_path);
    // ensure_self_signed(state_dir, opts), then load() the result; logs its fingerprint.
    Result<void> load_self_signed(const char* state_dir, const DeviceCertOptions& opts);
    // Installs (or with nullptr removes) the SNI hook.
    void set_sni_hook(TlsSniHook hook, void* user);

    // True once a certificate is loaded.
    bool ready() const;
    // Writes the default certificate's SHA-256 fingerprint ("AB:CD:...", 95 chars)
    // into `out` (NUL-terminated); returns its length, 0 when none or too small.
    size_t fingerprint(std::span<char> out) const;
    // The underlying mbedTLS config, for board-specific tuning before the first stream.
    mbedtls_ssl_config* native();

    struct Impl;

private:
    Result<void> init();
    Impl* impl_ = nullptr;
};

// ---- Client configuration -----------------------------------------------------------

// Where a client's trust comes from.
struct TlsClientOptions {
    const char* ca_file = nullptr;  // PEM bundle; first choice
    const char* ca_dir = nullptr;   // directory of PEM/DER certificates; when no ca_file
    // Neither: the system bundle /etc/ssl/certs/ca-certificates.crt (or /etc/ssl/cert.pem).
    bool insecure = false;  // no verification at all (MBEDTLS_SSL_VERIFY_NONE): labs only
};

// One per client profile (trust store). Build it at start-up; it must outlive
// every TlsStream started from it. Not copyable or movable.
class TlsClientConfig {
public:
    TlsClientConfig();
    ~TlsClientConfig();
    TlsClientConfig(const TlsClientConfig&) = delete;
    TlsClientConfig& operator=(const TlsClientConfig&) = delete;

    // Builds the config and loads the trust store; Errc::tls when no CA could be loaded.
    Result<void> init(const TlsClientOptions& opts = {});
    // True after a successful init().
    bool ready() const;
    // True when verification is off.
    bool insecure() const;
    // The underlying mbedTLS config, for board-specific tuning before the first stream.
    mbedtls_ssl_config* native();

    struct Impl;

private:
    Impl* impl_ = nullptr;
};

// ---- The stream ---------------------------------------------------------------------

// A TLS connection over a TCP socket. attach() the socket, call start_server()
// or start_client(), then co_await handshake(). A lone read or write also runs
// the handshake (under that operation's timeout), but a read and a write that
// are pending together must not both drive it: the handshake may make both
// wait for readability, and a Stream's watch holds one callback per direction.
class TlsStream final : public Stream {
public:
    TlsStream();
    ~TlsStream() override;

    // Prepares the server side of the connection (after attach); sets TCP_NODELAY.
    Result<void> start_server(TlsServerConfig& config);
    // Prepares the client side: `hostname` is sent as SNI and checked against the
    // certificate (required unless the config is insecure); sets TCP_NODELAY.
    Result<void> start_client(TlsClientConfig& config, std::string_view hostname);

    // Runs the handshake to completion, waiting for readiness on the loop, for at
    // most `timeout`: Errc::timeout, Errc::tls (verification failures say
    // "certificate not trusted", "certificate expired" or "hostname mismatch"),
    // Errc::closed/reset/io from the socket. Do not close() while it is pending:
    // destroy the awaiting task first.
    Task<Result<void>> handshake(Duration timeout = kNoTimeout);
    // True once the handshake has completed.
    bool handshake_done() const { return handshake_done_; }
    // Wall time spent inside mbedTLS handshake steps on this side (the CPU cost
    // of the handshake, excluding waits for the peer).
    Duration handshake_time() const { return handshake_time_; }
    // Negotiated protocol ("TLSv1.2") and suite names; static strings, "" before the handshake.
    const char* protocol() const;
    const char* ciphersuite() const;

    // True when mbedTLS holds received bytes not read yet (a pipelined request
    // inside an already-read record): readiness on the socket will not show them.
    bool has_buffered() const override;
    // Sends close_notify, then FIN. Errc::again when the socket cannot take the
    // alert right now (call again once writable); reading stays possible.
    Result<void> shutdown() override;
    // Closes the socket and frees mbedTLS's per-connection buffers.
    void close() override;

    Result<size_t> try_read(std::span<uint8_t> out, uint8_t& need) override;
    Result<size_t> try_write(std::span<const uint8_t> data, uint8_t& need) override;

    // The mbedTLS context (valid between start_*() and close()).
    mbedtls_ssl_context* native() { return &ssl_; }

private:
    static int bio_send(void* self, const unsigned char* buf, size_t len);
    static int bio_recv(void* self, unsigned char* buf, size_t len);
    Result<void> start(const mbedtls_ssl_config* conf);
    Error fail(int ret, const char* what);
    void release();

    mbedtls_ssl_context ssl_;
    Error io_error_;  // the socket error behind MBEDTLS_ERR_NET_*_FAILED
    Duration handshake_time_{0};
    bool started_ = false;
    bool server_ = false;
    bool handshake_done_ = false;
    bool close_notify_sent_ = false;
};

}  // namespace gust
