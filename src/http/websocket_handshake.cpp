// The handshake's keys: SHA-1 and base64 come from mbedTLS.
#include <gust/websocket_frame.hpp>

#include <cstring>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#include "port.hpp"

namespace gust::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int sha1(const unsigned char* data, size_t len, unsigned char out[20]) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_sha1(data, len, out);
#else
    return mbedtls_sha1_ret(data, len, out);
#endif
}

}  // namespace

bool valid_client_key(std::string_view key) {
    // 16 bytes encode to 22 characters and "==".
    if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
    unsigned char raw[18];
    size_t n = 0;
    int r = mbedtls_base64_decode(raw, sizeof raw, &n, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    return r == 0 && n == 16;
}

Result<std::string_view> accept_key(std::string_view key, std::span<char, 32> out) {
    unsigned char joined[128];
    if (key.size() + kGuid.size() > sizeof joined) return Error(Errc::invalid_argument, "websocket: key too long");
    std::memcpy(joined, key.data(), key.size());
    std::memcpy(joined + key.size(), kGuid.data(), kGuid.size());
    unsigned char digest[20];
    if (sha1(joined, key.size() + kGuid.size(), digest) != 0) return Error(Errc::io, "websocket: SHA-1 failed");
    size_t n = 0;
    if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &n, digest, sizeof digest) != 0)
        return Error(Errc::io, "websocket: base64 failed");
    return std::string_view(out.data(), n);
}

Result<std::string_view> make_client_key(std::span<char, 32> out) {
    uint8_t raw[16];
    if (auto r = port::random_bytes(raw); !r) return r.error();
    size_t n = 0;
    if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &n, raw, sizeof raw) != 0)
        return Error(Errc::io, "websocket: base64 failed");
    return std::string_view(out.data(), n);
}

}  // namespace gust::ws
