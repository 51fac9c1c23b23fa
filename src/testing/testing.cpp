// The test kit's client: one connection per request, "Connection: close",
// read to EOF, then parse. Simple on purpose: it tests the server, not itself.
#include <gust/testing.hpp>

#include <cstdlib>
#include <cstring>

#include <gust/task.hpp>

#include "port.hpp"

namespace gust::testing {

namespace {

Task<> exchange(uint16_t port, std::string_view request, std::string* out, std::string* error, bool* done) {
    auto addr = port::parse_ip("127.0.0.1", port);
    auto fd = port::tcp_connect(*addr);
    if (!fd) {
        *error = fd.error().message;
        *done = true;
        co_return;
    }
    TcpStream s;
    if (auto a = s.attach(*Loop::current(), *fd); !a) {
        port::close(*fd);
        *error = a.error().message;
        *done = true;
        co_return;
    }
    auto w = co_await s.write_all(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()),
                                                           request.size()));
    if (!w) *error = std::string("write: ") + w.error().message;
    uint8_t buf[1024];  // frames come from the pool: keep them small
    for (;;) {
        auto n = co_await s.read(buf);
        if (!n) {
            if (n.error().code != Errc::reset) *error = std::string("read: ") + n.error().message;
            break;
        }
        if (*n == 0) break;
        out->append(reinterpret_cast<char*>(buf), *n);
    }
    *done = true;
}

}  // namespace

std::string TestResponse::header(std::string_view name) const {
    for (auto& h : headers)
        if (http::iequals(h.first, name)) return h.second;
    return {};
}

bool TestResponse::has_header(std::string_view name) const {
    for (auto& h : headers)
        if (http::iequals(h.first, name)) return true;
    return false;
}

TestServer::TestServer(Router& app, TestOptions options) : options_(options) {
    if (options_.fake_clock) port::fake_clock_enable(1'000'000'000);
    loop_ = new Loop(options_.limits);
    options_.server.http = "127.0.0.1:0";
    server_ = new http::Server(*loop_, app, options_.server);
}

TestServer::~TestServer() {
    delete server_;
    delete loop_;
    if (options_.fake_clock) port::fake_clock_disable();
}

std::string TestServer::raw(std::string_view raw_request) {
    std::string out, error;
    bool done = false;
    std::string request(raw_request);  // kept alive while the client runs
    // Owned here, so a client still running at the timeout is destroyed
    // (cancelled) before the locals it points at go away.
    Task<> client = exchange(port(), request, &out, &error, &done);
    client.start();
    loop_->run_until([&] { return done; }, options_.timeout);
    return out;
}

TestResponse TestServer::request(std::string_view method, std::string_view target, std::string_view body,
                                 const std::vector<std::string>& headers) {
    std::string req;
    req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    bool has_length = false;
    for (auto& h : headers) {
        req.append(h).append("\r\n");
        if (http::iequals(std::string_view(h).substr(0, 15), "content-length:") ||
            http::iequals(std::string_view(h).substr(0, 18), "transfer-encoding:"))
            has_length = true;
    }
    if (!body.empty() && !has_length) req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    req.append("\r\n").append(body);
    std::string out, error;
    bool done = false;
    Task<> client = exchange(port(), req, &out, &error, &done);
    client.start();
    loop_->run_until([&] { return done; }, options_.timeout);
    TestResponse r = parse(out, method == "HEAD");
    if (!done) r.error = "timed out";
    else if (!error.empty() && r.status == 0) r.error = error;
    return r;
}

TestResponse TestServer::parse(std::string_view raw, bool head_request) {
    TestResponse r;
    // Skip interim 1xx responses.
    for (;;) {
        size_t end = raw.find("\r\n\r\n");
        if (end == std::string_view::npos || raw.substr(0, 9).find("HTTP/1.") != 0) {
            r.error = raw.empty() ? "no response" : "malformed response";
            return r;
        }
        int status = std::atoi(std::string(raw.substr(9, 3)).c_str());
        if (status >= 200 || status < 100) break;
        raw.remove_prefix(end + 4);
    }
    size_t head_end = raw.find("\r\n\r\n");
    r.status = std::atoi(std::string(raw.substr(9, 3)).c_str());
    std::string_view head = raw.substr(0, head_end);
    std::string_view rest = raw.substr(head_end + 4);
    size_t line_end = head.find("\r\n");
    while (line_end != std::string_view::npos) {
        head.remove_prefix(line_end + 2);
        line_end = head.find("\r\n");
        std::string_view line = head.substr(0, line_end);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    if (head_request || r.status == 204 || r.status == 304) return r;
    if (http::iequals(r.header("Transfer-Encoding"), "chunked")) {
        for (;;) {
            size_t eol = rest.find("\r\n");
            if (eol == std::string_view::npos) {
                r.error = "truncated chunked body";
                break;
            }
            size_t size = std::strtoul(std::string(rest.substr(0, eol)).c_str(), nullptr, 16);
            rest.remove_prefix(eol + 2);
            if (size == 0) break;
            if (rest.size() < size + 2) {
                r.error = "truncated chunk";
                break;
            }
            r.body.append(rest.substr(0, size));
            rest.remove_prefix(size + 2);
        }
    } else if (r.has_header("Content-Length")) {
        size_t len = std::strtoul(r.header("Content-Length").c_str(), nullptr, 10);
        if (rest.size() < len) r.error = "truncated body";
        r.body = std::string(rest.substr(0, len));
    } else {
        r.body = std::string(rest);
    }
    return r;
}

}  // namespace gust::testing
