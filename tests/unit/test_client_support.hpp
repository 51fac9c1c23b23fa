// Helpers for the HTTP client's unit tests: await a fetch from plain test
// code, and a scripted raw HTTP server on the same loop (any bytes back,
// stalls, early closes) for what a well-behaved server never sends.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gust/client.hpp>
#include <gust/http.hpp>
#include <gust/tls.hpp>

#include "test_support.hpp"

namespace gust_test {

using namespace gust;

// Runs `task` on `loop` until it finishes (or `limit` passes: then an Errc::timeout result).
template <typename R>
R await_on(Loop& loop, Task<R> task, Duration limit = std::chrono::seconds(20)) {
    std::optional<R> out;
    auto started = spawn(loop, std::move(task), [&out](R r) { out.emplace(std::move(r)); });
    REQUIRE(started);
    loop.run_until([&] { return out.has_value(); }, limit);
    if (!out) return R(Error(Errc::timeout, "test: the task did not finish in time"));
    return std::move(*out);
}

inline Result<http::ClientResponse> fetch(Loop& loop, http::Client& c, std::string_view url,
                                          http::FetchOptions o = {}) {
    return await_on(loop, c.fetch(url, std::move(o)));
}

// What the raw server does with one request.
struct RawReply {
    std::string bytes;                 // written as they are
    bool close = false;                // close after writing (else wait for the next request)
    Duration delay{0};                 // sleep before writing
    bool hang = false;                 // never answer (the client must time out)
};

// A TCP server on 127.0.0.1:0 (or [::1]) whose answers come from `reply(request)`.
// With `tls` set, it speaks TLS. Requests and connection count are recorded.
class RawServer {
public:
    using Script = std::function<RawReply(const std::string& request)>;
    RawServer(Loop& loop, Script reply, const char* addr = "127.0.0.1:0", TlsServerConfig* tls = nullptr)
        : loop_(loop), reply_(std::move(reply)), tls_(tls) {
        auto a = port::parse_address(addr);
        REQUIRE(a);
        auto fd = port::tcp_listen(*a, 256);
        REQUIRE(fd);
        fd_ = *fd;
        auto local = port::local_address(fd_);
        REQUIRE(local);
        port_ = local->port();
        auto w = loop_.add_watch(fd_);
        REQUIRE(w);
        watch_ = *w;
        REQUIRE(loop_.on_readable(watch_, [this] { accept(); }));
    }
    ~RawServer() {
        conns_.clear();  // destroys the serving tasks before their streams
        loop_.remove_watch(watch_);
        port::close(fd_);
    }
    uint16_t port() const { return port_; }
    int connections() const { return accepted_; }
    int open() const { return open_; }
    const std::vector<std::string>& requests() const { return requests_; }

private:
    struct Conn {
        std::unique_ptr<Stream> stream;
        Task<> task;
    };
    void accept() {
        for (;;) {
            auto fd = port::tcp_accept(fd_, nullptr);
            if (!fd) return;
            ++accepted_;
            auto c = std::make_unique<Conn>();
            if (tls_) c->stream = std::make_unique<TlsStream>();
            else c->stream = std::make_unique<TcpStream>();
            REQUIRE(c->stream->attach(loop_, *fd));
            if (tls_) REQUIRE(static_cast<TlsStream&>(*c->stream).start_server(*tls_));
            c->task = serve(*c->stream);
            Conn& ref = *c;
            conns_.push_back(std::move(c));
            ref.task.start();
        }
    }
    static size_t content_length(const std::string& head) {
        std::string lower;
        for (char ch : head) lower += char(std::tolower(static_cast<unsigned char>(ch)));
        size_t at = lower.find("\r\ncontent-length:");
        return at == std::string::npos ? 0 : std::strtoul(lower.c_str() + at + 17, nullptr, 10);
    }
    static bool chunked(const std::string& head) {
        std::string lower;
        for (char ch : head) lower += char(std::tolower(static_cast<unsigned char>(ch)));
        return lower.find("\r\ntransfer-encoding: chunked") != std::string::npos;
    }
    Task<> serve(Stream& s) {
        ++open_;
        std::string in;
        uint8_t buf[1024];
        for (;;) {
            size_t end;
            bool ok = true;
            while ((end = in.find("\r\n\r\n")) == std::string::npos && ok) {
                auto n = co_await s.read(buf, std::chrono::seconds(20));
                if (!n || *n == 0) ok = false;
                else in.append(reinterpret_cast<char*>(buf), *n);
            }
            if (!ok) break;
            std::string head = in.substr(0, end + 4);
            size_t total = end + 4 + content_length(head);
            if (chunked(head)) {
                while ((total = in.find("\r\n0\r\n\r\n", end)) == std::string::npos && ok) {
                    auto n = co_await s.read(buf, std::chrono::seconds(20));
                    if (!n || *n == 0) ok = false;
                    else in.append(reinterpret_cast<char*>(buf), *n);
                }
                total += 7;
            }
            while (in.size() < total && ok) {
                auto n = co_await s.read(buf, std::chrono::seconds(20));
                if (!n || *n == 0) ok = false;
                else in.append(reinterpret_cast<char*>(buf), *n);
            }
            if (!ok) break;
            requests_.push_back(in.substr(0, total));
            in.erase(0, total);
            RawReply r = reply_(requests_.back());
            if (r.hang) {
                // Answer nothing; notice when the client goes away.
                while (ok) {
                    auto n = co_await s.read(buf, std::chrono::hours(1));
                    ok = n && *n > 0;
                }
                break;
            }
            if (r.delay > Duration(0)) (void)co_await sleep(r.delay);
            auto w = co_await s.write_all(
                std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.bytes.data()), r.bytes.size()),
                std::chrono::seconds(20));
            if (!w || r.close) break;
        }
        if (s.is_open()) {
            (void)s.shutdown();
            s.close();
        }
        --open_;
    }

    Loop& loop_;
    Script reply_;
    TlsServerConfig* tls_;
    int fd_ = -1;
    WatchId watch_;
    uint16_t port_ = 0;
    int accepted_ = 0;
    int open_ = 0;
    std::vector<std::string> requests_;
    std::vector<std::unique_ptr<Conn>> conns_;
};

inline std::string url(uint16_t port, std::string_view path, std::string_view host = "127.0.0.1") {
    return "http://" + std::string(host) + ":" + std::to_string(port) + std::string(path);
}

inline std::string_view text(std::span<const uint8_t> s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

}  // namespace gust_test
