#include "upload.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include <gust/executor.hpp>
#include <gust/log.hpp>

using namespace gust;

namespace {

// mbedTLS 3 dropped the _ret suffixes that 2.28 has.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int sha_start(mbedtls_sha256_context* c) { return mbedtls_sha256_starts(c, 0); }
int sha_update(mbedtls_sha256_context* c, const uint8_t* d, size_t n) { return mbedtls_sha256_update(c, d, n); }
int sha_finish(mbedtls_sha256_context* c, uint8_t out[32]) { return mbedtls_sha256_finish(c, out); }
#else
int sha_start(mbedtls_sha256_context* c) { return mbedtls_sha256_starts_ret(c, 0); }
int sha_update(mbedtls_sha256_context* c, const uint8_t* d, size_t n) { return mbedtls_sha256_update_ret(c, d, n); }
int sha_finish(mbedtls_sha256_context* c, uint8_t out[32]) { return mbedtls_sha256_finish_ret(c, out); }
#endif

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
    for (char c : name) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

void to_hex(const uint8_t* in, size_t n, char* out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

struct Sha256 {
    mbedtls_sha256_context ctx;
    Sha256() {
        mbedtls_sha256_init(&ctx);
        sha_start(&ctx);
    }
    ~Sha256() { mbedtls_sha256_free(&ctx); }
};

}  // namespace

Task<> upload(Request& req, Response& res, const char* dir) {
    std::string_view name = req.param("name");
    if (!valid_name(name)) {
        res.status(400).text("name must be 1-128 characters of [A-Za-z0-9._-]\n");
        co_return;
    }
    char path[512];
    int n = std::snprintf(path, sizeof path, "%s/%.*s", dir, int(name.size()), name.data());
    if (n <= 0 || size_t(n) >= sizeof path) {
        res.status(400).text("path too long\n");
        co_return;
    }
    auto opened = co_await run_blocking([dir, &path] {
        ::mkdir(dir, 0755);  // may exist already
        int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        return fd >= 0 ? fd : -errno;  // errno belongs to the worker thread
    });
    if (!opened || *opened < 0) {
        log_error("upload: cannot create %s: %s", path, std::strerror(opened ? -*opened : 0));
        res.status(500).text("cannot create the file\n");
        co_return;
    }
    int fd = *opened;
    Sha256 sha;
    uint64_t total = 0;
    bool failed = false;
    uint8_t chunk[4096];
    for (;;) {
        auto got = co_await req.read(chunk);
        if (!got) {
            failed = true;  // the server answers the body error itself (413, 408, 400)
            break;
        }
        if (*got == 0) break;
        sha_update(&sha.ctx, chunk, *got);
        size_t len = *got;
        auto wrote = co_await run_blocking([fd, &chunk, len] {
            size_t off = 0;
            while (off < len) {
                ssize_t w = ::write(fd, chunk + off, len - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return false;
                off += size_t(w);
            }
            return true;
        });
        if (!wrote || !*wrote) {
            failed = true;
            res.status(500).text("write failed\n");
            break;
        }
        total += len;
    }
    (void)co_await run_blocking([fd] { return ::close(fd); });
    uint8_t digest[32];
    char hex[65];
    sha_finish(&sha.ctx, digest);
    to_hex(digest, sizeof digest, hex);
    std::string_view expected = req.header("X-Expected-SHA256");
    bool mismatch = !failed && expected.data() &&
                    !(expected.size() == 64 && http::iequals(expected, std::string_view(hex, 64)));
    if (failed || mismatch) {
        (void)co_await run_blocking([&path] { return ::unlink(path); });
        if (mismatch) res.status(422).text("SHA-256 does not match X-Expected-SHA256\n");
        co_return;
    }
    res.status(201).json([&](JsonWriter& j) {
        j.kv("name", name);
        j.kv("bytes", total);
        j.kv("sha256", std::string_view(hex, 64));
    });
}
