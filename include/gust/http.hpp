// The HTTP/1.1 server: coroutine handlers over a fixed pool of connections.
//
//   Task<> hello(Request& req, Response& res) { res.text("Hello, world!"); co_return; }
//   Router app;  app.get("/hello", hello);
//   http::Server server(loop, app, {.http = "0.0.0.0:8080"});
//   return loop.run();
//
// HTTPS: build a TlsServerConfig once (<gust/tls.hpp>) and name a second
// listener; both listeners share the connection pool and the router:
//
//   TlsServerConfig tls;  tls.load("/etc/gust/cert.pem", "/etc/gust/key.pem");
//   http::Server server(loop, app, {.http = "0.0.0.0:80", .https = "0.0.0.0:443", .tls = &tls});
//
// Memory: max_connections connection slots and a BufferPool are reserved at
// construction. A connection borrows an input buffer while a request is in
// flight and an output buffer while a response is built; an idle keep-alive
// connection holds neither. Every view a Request hands out lives until the
// handler returns. Bad input gets its 4xx and the connection is closed when
// its framing can no longer be trusted; nothing else is affected.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <gust/buffer_pool.hpp>
#include <gust/clock.hpp>
#include <gust/http_parser.hpp>
#include <gust/json.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/router.hpp>
#include <gust/stream.hpp>
#include <gust/task.hpp>

#ifndef GUST_HTTP_BUFFER_SIZE
#define GUST_HTTP_BUFFER_SIZE 8192
#endif
#ifndef GUST_HTTP_MAX_HEADERS
#define GUST_HTTP_MAX_HEADERS 32
#endif
#ifndef GUST_HTTP_MAX_RESPONSE_HEADERS
#define GUST_HTTP_MAX_RESPONSE_HEADERS 16
#endif
// Largest WebSocket message, and how many messages above an I/O buffer's size
// may be arriving at once (ServerOptions::websocket_*).
#ifndef GUST_WS_MAX_MESSAGE
#define GUST_WS_MAX_MESSAGE 65536
#endif
#ifndef GUST_WS_BUFFERS
#define GUST_WS_BUFFERS 4
#endif

namespace gust {

class TlsServerConfig;
class TlsStream;
class EventStream;
struct EventStreamOptions;

namespace http {
class Server;
struct Connection;
struct ResponseAccess;  // the response cache (cache_middleware.cpp)
struct WebSocketAccess;  // the WebSocket handshake (websocket_server.cpp)
}  // namespace http

// What a handler sees of a request. Views point into the connection's input
// buffer and stay valid until the handler returns.
class Request {
public:
    http::Method method() const { return head_->method; }
    std::string_view method_name() const { return head_->method_name; }
    std::string_view target() const { return head_->target; }
    std::string_view path() const { return head_->path; }
    // The raw query string (after '?'), still percent-encoded.
    std::string_view query_string() const { return head_->query; }
    // The decoded value of query parameter `name` into `out` (see query_value()).
    Result<std::string_view> query(std::string_view name, std::span<char> out) const {
        return query_value(head_->query, name, out);
    }
    // A path parameter ("{id}"), raw; empty view with data()==nullptr when absent.
    std::string_view param(std::string_view name) const { return params_->get(name); }
    // A header value (case-insensitive name), or an empty view with data()==nullptr.
    std::string_view header(std::string_view name) const { return http::find_header(head_->headers, name); }
    std::span<const http::Header> headers() const { return head_->headers; }
    http::Version version() const { return head_->version; }
    // True when the request has a body (Content-Length > 0 or chunked).
    bool has_body() const;
    // The declared body length, or -1 for chunked bodies.
    int64_t content_length() const;
    // The parsed head (framing, keep-alive, ...).
    const http::RequestHead& head() const { return *head_; }
    // The client's IP address as text ("192.0.2.7", "2001:db8::1") written into `out`
    // (46 bytes hold any); the view points into `out`, empty when it does not fit.
    std::string_view peer_ip(std::span<char> out) const;

    // Reads the next body bytes into `out` (sending 100 Continue first when the
    // client asked for it); 0 means the body is complete. Over the route's
    // max_body: Errc::too_large (the server answers 413); a stalled client: Errc::timeout.
    Task<Result<size_t>> read(std::span<uint8_t> out);
    // The whole body as one view, when it fits the free part of the input
    // buffer (Errc::too_large otherwise; stream larger bodies with read()).
    Task<Result<std::string_view>> body();

private:
    friend class http::Server;
    friend struct http::Connection;
    friend struct http::WebSocketAccess;
    friend class EventStream;
    http::Connection* conn_ = nullptr;
    const http::RequestHead* head_ = nullptr;
    const PathParams* params_ = nullptr;
};

// What a handler builds. Either a whole body at once (text/send/json, which
// must fit the response buffer) or a stream (write... finish), never both.
class Response {
public:
    // Sets the status code (default 200).
    Response& status(uint16_t code);
    // Adds a header; names and values are copied. Errors (too many, too large,
    // CR/LF in a value, after the head was sent) are kept and turn into a 500.
    Response& header(std::string_view name, std::string_view value);
    // Sends `body` with Content-Length (copied into the response buffer).
    void send(std::string_view body, std::string_view content_type);
    // send() with text/plain; charset=utf-8.
    void text(std::string_view body) { send(body, "text/plain; charset=utf-8"); }
    // Writes a JSON object through `fill(JsonWriter&)` straight into the response buffer.
    template <typename F>
    void json(F&& fill) {
        JsonWriter* j = begin_json();
        if (!j) return;
        j->begin_object();
        fill(*j);
        j->end_object();
        end_json();
    }

    // Streaming: fixes the body length in advance (else chunked, or close-delimited for HTTP/1.0).
    void content_length(uint64_t n);
    // Sends the head if needed, then `data`; waits while the client is slow (backpressure).
    Task<Result<void>> write(std::span<const uint8_t> data);
    Task<Result<void>> write(std::string_view data) {
        return write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    }
    // Ends a streamed body (the last chunk); called by the server if the handler did not.
    Task<Result<void>> finish();
    // Answers with Server-Sent Events (<gust/sse.hpp>, which callers include):
    // sets the head and returns the stream to send events on.
    EventStream event_stream();
    EventStream event_stream(const EventStreamOptions& options);

    uint16_t status_code() const { return status_; }
    // True once the head has gone to the client.
    bool head_sent() const { return head_sent_; }
    // True once a whole body was set or a stream finished.
    bool complete() const { return complete_; }

private:
    friend class http::Server;
    friend struct http::Connection;
    friend struct http::ResponseAccess;
    friend struct http::WebSocketAccess;
    friend class EventStream;
    JsonWriter* begin_json();
    void end_json();

    http::Connection* conn_ = nullptr;
    uint16_t status_ = 200;
    bool head_sent_ = false;
    bool complete_ = false;
    bool streaming_ = false;
    bool chunked_ = false;
    bool has_length_ = false;
    bool failed_ = false;  // a header error: the server answers 500 instead
    uint64_t length_ = 0;
    uint64_t written_ = 0;
};

namespace http {

// Server settings. Zero/empty values take the defaults shown.
struct ServerOptions {
    const char* http = nullptr;           // plain-HTTP "ADDR:PORT", e.g. "0.0.0.0:8080" or "[::1]:0"; may be null with https
    const char* https = nullptr;          // HTTPS "ADDR:PORT"; needs `tls`
    TlsServerConfig* tls = nullptr;       // certificate and policy for `https`; must outlive the server
    uint32_t max_connections = 0;         // 0: Limits::max_connections of the loop (plain and TLS together)
    // TLS connections at once, and handshakes in progress at once (0: the
    // loop's Limits). Past the first, a new TLS connection is closed at accept
    // (no bytes written) and counted in ServerStats::tls_refused; at the
    // second, the HTTPS listener stops accepting until a handshake ends, so
    // new clients wait in the kernel's listen backlog.
    uint32_t max_tls_connections = 0;
    uint32_t max_tls_handshakes = 0;
    Duration handshake_timeout = std::chrono::seconds(10);  // from accept to a finished TLS handshake
    uint32_t buffers = 0;                 // I/O buffers; 0: 2 per connection, at most 2048
    uint32_t buffer_size = GUST_HTTP_BUFFER_SIZE;  // bytes per buffer: bounds the request head and whole-body responses
    uint64_t max_body = 1u << 20;         // largest request body (413 above); routes may override
    uint32_t max_target = 2048;           // longest request target (414 above)
    Duration header_timeout = std::chrono::seconds(10);  // to receive a complete head
    Duration idle_timeout = std::chrono::seconds(60);    // keep-alive connection with no request
    Duration body_timeout = std::chrono::seconds(30);    // longest pause inside a body
    Duration write_timeout = std::chrono::seconds(30);   // longest wait for a slow reader
    Duration drain_timeout = std::chrono::seconds(5);    // graceful shutdown deadline
    const char* server_name = "gust";     // the Server header
    // WebSocket messages larger than an I/O buffer are joined in one of
    // `websocket_buffers` buffers of `websocket_max_message` bytes (reserved
    // at start-up, pages touched on first use); also the largest message a
    // WebSocket route accepts (1009 above).
    uint64_t websocket_max_message = GUST_WS_MAX_MESSAGE;
    uint32_t websocket_buffers = GUST_WS_BUFFERS;
};

// Counters for status pages; all since start.
struct ServerStats {
    uint64_t connections_accepted = 0;
    uint64_t connections_refused = 0;  // at the connection limit (503; TLS ones closed)
    uint32_t connections_open = 0;
    uint32_t connections_high_water = 0;
    uint64_t requests = 0;
    uint64_t responses_4xx = 0;
    uint64_t responses_5xx = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint32_t buffers_in_use = 0;
    uint32_t buffers_high_water = 0;
    uint32_t buffers_capacity = 0;
    uint64_t tls_handshakes = 0;          // completed
    uint64_t tls_handshake_failures = 0;  // failed or timed out (scanners, plain HTTP on the TLS port, ...)
    uint64_t tls_refused = 0;             // closed at accept: the TLS connection cap was reached
    uint64_t tls_handshake_ns = 0;        // time spent inside mbedTLS handshake steps (server CPU)
    uint32_t tls_connections_open = 0;
    uint32_t tls_handshakes_active = 0;
    uint64_t websockets_accepted = 0;     // successful WebSocket handshakes
    uint32_t websockets_open = 0;
};

class Server {
public:
    // Listens and serves `router` on `loop`. Check status(); port() tells the bound port.
    Server(Loop& loop, Router& router, const ServerOptions& options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    Result<void> status() const;
    // The plain-HTTP listening port (useful after binding port 0); 0 when none.
    uint16_t port() const;
    // The HTTPS listening port; 0 when none.
    uint16_t tls_port() const;
    // Counters for status pages and tests.
    ServerStats stats() const;
    // Stops accepting, closes idle connections, lets requests in flight finish
    // until drain_timeout, then closes the rest and calls `done` (e.g. loop.stop()).
    void shutdown(Callback done);

    // ---- internals shared with Request/Response (not for applications) ----
    struct Impl;
    Impl* impl() const { return impl_; }

private:
    Impl* impl_ = nullptr;
};

}  // namespace http
}  // namespace gust
