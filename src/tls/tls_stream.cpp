// TlsStream: an mbedtls_ssl_context over a non-blocking socket. The BIO
// callbacks turn the port's Errc::again into MBEDTLS_ERR_SSL_WANT_READ/WRITE,
// and try_read/try_write turn those back into Errc::again plus the readiness
// to wait for (a TLS read may need the socket writable, and the reverse).
#include <gust/tls.hpp>

#include <cstring>

#include <gust/log.hpp>
#include <gust/when.hpp>

#include "port.hpp"
#include "tls_internal.hpp"

namespace gust {

TlsStream::TlsStream() { mbedtls_ssl_init(&ssl_); }

TlsStream::~TlsStream() {
    close();
    mbedtls_ssl_free(&ssl_);
}

int TlsStream::bio_send(void* self, const unsigned char* buf, size_t len) {
    TlsStream* s = static_cast<TlsStream*>(self);
    auto r = port::write(s->fd_, std::span<const uint8_t>(buf, len));
    if (r) return int(*r);
    if (r.error().code == Errc::again) return MBEDTLS_ERR_SSL_WANT_WRITE;
    s->io_error_ = r.error();
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

int TlsStream::bio_recv(void* self, unsigned char* buf, size_t len) {
    TlsStream* s = static_cast<TlsStream*>(self);
    auto r = port::read(s->fd_, std::span<uint8_t>(buf, len));
    if (r) return int(*r);  // 0: the peer closed TCP
    if (r.error().code == Errc::again) return MBEDTLS_ERR_SSL_WANT_READ;
    s->io_error_ = r.error();
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

Result<void> TlsStream::start(const mbedtls_ssl_config* conf) {
    if (fd_ < 0) return Error(Errc::closed, "tls: attach a socket first");
    if (started_) return Error(Errc::invalid_argument, "tls: stream already started");
    int ret = mbedtls_ssl_setup(&ssl_, conf);
    if (ret != 0) {
        mbedtls_ssl_free(&ssl_);
        mbedtls_ssl_init(&ssl_);
        if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) return Error(Errc::no_memory, "tls: no memory for connection buffers");
        return tls_detail::tls_error(ret, "connection setup", "tls: connection setup failed");
    }
    mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
    // Without it the handshake's small flights wait for delayed ACKs (~45 ms instead of ~5 ms).
    if (auto r = port::tcp_set_nodelay(fd_, true); !r) log_debug("tls: TCP_NODELAY: %s", r.error().message);
    started_ = true;
    return {};
}

Result<void> TlsStream::start_server(TlsServerConfig& config) {
    if (!config.ready()) return Error(Errc::invalid_argument, "tls: server config has no certificate");
    server_ = true;
    return start(config.native());
}

Result<void> TlsStream::start_client(TlsClientConfig& config, std::string_view hostname) {
    if (!config.ready()) return Error(Errc::invalid_argument, "tls: client config not initialised");
    if (hostname.empty() && !config.insecure())
        return Error(Errc::invalid_argument, "tls: a hostname is needed to verify the server");
    char name[256];
    if (hostname.size() >= sizeof name) return Error(Errc::invalid_argument, "tls: hostname too long");
    std::memcpy(name, hostname.data(), hostname.size());
    name[hostname.size()] = '\0';
    if (auto r = start(config.native()); !r) return r;
    if (!hostname.empty()) {
        int ret = mbedtls_ssl_set_hostname(&ssl_, name);  // SNI and the certificate name check
        if (ret != 0) {
            release();
            return tls_detail::tls_error(ret, "setting the hostname", "tls: bad hostname");
        }
    }
    return {};
}

Error TlsStream::fail(int ret, const char* what) {
    if ((ret == MBEDTLS_ERR_NET_SEND_FAILED || ret == MBEDTLS_ERR_NET_RECV_FAILED) && io_error_.code != Errc::ok) {
        log_debug("tls: %s: socket error: %s", what, io_error_.message);
        return io_error_;
    }
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
        char info[512];
        int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        for (int i = 0; i < n && info[i]; ++i) {
            if (info[i] == '\n') info[i] = (i + 1 < n && info[i + 1]) ? ';' : '\0';
        }
        log_warn("tls: %s: server certificate rejected: %s", what, n > 0 ? info : "?");
        if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return Error(Errc::tls, "certificate not trusted");
        if (flags & MBEDTLS_X509_BADCERT_EXPIRED) return Error(Errc::tls, "certificate expired");
        if (flags & MBEDTLS_X509_BADCERT_FUTURE) return Error(Errc::tls, "certificate not yet valid");
        if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) return Error(Errc::tls, "hostname mismatch");
        return Error(Errc::tls, "certificate rejected");
    }
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        log_debug("tls: %s: the peer closed the connection", what);
        return Error(Errc::closed, "tls: connection closed by the peer");
    }
    const char* message = "tls: handshake failed";
    if (ret == GUST_MBEDTLS_ERR_BAD_VERSION) message = "tls: protocol version refused";
    else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) message = "tls: the peer sent a fatal alert";
#if defined(MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN)
    else if (ret == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN) message = "tls: no common cipher suite";
#endif
    else if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) message = "tls: out of memory";
    else if (handshake_done_) message = "tls: record layer error";
    // A server sees every scanner and every browser that dislikes a self-signed
    // certificate: its per-connection failures are info, not warnings.
    return tls_detail::tls_error(ret, what, message, server_ ? LogLevel::info : LogLevel::warn);
}

Task<Result<void>> TlsStream::handshake(Duration timeout) {
    if (!started_) co_return Error(Errc::invalid_argument, "tls: start_server/start_client first");
    Loop* loop = loop_;
    const bool bounded = timeout != kNoTimeout;
    const TimePoint deadline = bounded ? loop->now() + timeout : TimePoint::max();
    while (!handshake_done_) {
        if (fd_ < 0) co_return Error(Errc::closed, "tls: stream closed during the handshake");
        int64_t t0 = port::monotonic_ns();
        int ret = mbedtls_ssl_handshake(&ssl_);
        handshake_time_ += Duration(port::monotonic_ns() - t0);
        if (ret == 0) {
            handshake_done_ = true;
            break;
        }
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) co_return fail(ret, "handshake");
        FdAwaiter ready(watch_, ret == MBEDTLS_ERR_SSL_WANT_WRITE);
        Result<void> r;
        if (!bounded) {
            r = co_await std::move(ready);
        } else {
            Duration left = deadline - loop->now();
            if (left <= Duration(0)) co_return Error(Errc::timeout, "tls: handshake timed out");
            r = co_await with_timeout(left, std::move(ready));
        }
        if (!r) {
            if (r.error().code == Errc::timeout) co_return Error(Errc::timeout, "tls: handshake timed out");
            co_return r.error();
        }
    }
    log_debug("tls: handshake done: %s %s", protocol(), ciphersuite());
    co_return Result<void>();
}

const char* TlsStream::protocol() const { return handshake_done_ ? mbedtls_ssl_get_version(&ssl_) : ""; }

const char* TlsStream::ciphersuite() const {
    const char* s = handshake_done_ ? mbedtls_ssl_get_ciphersuite(&ssl_) : nullptr;
    return s ? s : "";
}

Result<size_t> TlsStream::try_read(std::span<uint8_t> out, uint8_t& need) {
    need = port::kReadable;
    if (!started_) return Error(Errc::invalid_argument, "tls: stream not started");
    if (out.empty()) return size_t(0);
    for (;;) {
        int ret = mbedtls_ssl_read(&ssl_, out.data(), out.size());
        if (ret > 0) {
            handshake_done_ = true;
            return size_t(ret);
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return size_t(0);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ) return Error(Errc::again, "tls: want read");
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            need = port::kWritable;
            return Error(Errc::again, "tls: want write");
        }
        if (tls_compat::read_retry(ret)) continue;
        if (ret == MBEDTLS_ERR_SSL_CONN_EOF && handshake_done_) {
            // TCP FIN without close_notify: a truncation attack or a sloppy peer; report end of stream.
            log_debug("tls: peer closed without close_notify");
            return size_t(0);
        }
        return fail(ret, "read");
    }
}

Result<size_t> TlsStream::try_write(std::span<const uint8_t> data, uint8_t& need) {
    need = port::kWritable;
    if (!started_) return Error(Errc::invalid_argument, "tls: stream not started");
    // After WANT_WRITE mbedTLS must be called again with the same data: IoAwaiter does so.
    int ret = mbedtls_ssl_write(&ssl_, data.data(), data.size());
    if (ret >= 0) {
        handshake_done_ = true;
        return size_t(ret);
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Error(Errc::again, "tls: want write");
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        need = port::kReadable;
        return Error(Errc::again, "tls: want read");
    }
    return fail(ret, "write");
}

bool TlsStream::has_buffered() const {
    return started_ && (mbedtls_ssl_get_bytes_avail(&ssl_) > 0 || mbedtls_ssl_check_pending(&ssl_) != 0);
}

Result<void> TlsStream::shutdown() {
    if (fd_ < 0) return Error(Errc::closed, "stream: not open");
    if (started_ && !close_notify_sent_) {
        int ret = mbedtls_ssl_close_notify(&ssl_);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
            return Error(Errc::again, "tls: close_notify pending; call shutdown() again when writable");
        if (ret != 0) tls_detail::log_mbedtls("sending close_notify", ret);
        close_notify_sent_ = true;
    }
    return port::shutdown_write(fd_);
}

void TlsStream::release() {
    if (!started_) return;
    mbedtls_ssl_free(&ssl_);  // returns the record buffers to the heap
    mbedtls_ssl_init(&ssl_);
    started_ = false;
    server_ = false;
    handshake_done_ = false;
    close_notify_sent_ = false;
    io_error_ = Error();
    handshake_time_ = Duration(0);
}

void TlsStream::close() {
    Stream::close();
    release();
}

}  // namespace gust
