// gust::http::Client: Tornado's AsyncHTTPClient on the loop. One await per
// request, DNS included; nothing blocks.
//
//   http::Client http(loop);                                      // pools sized here, once
//   auto r = co_await http.fetch("http://10.0.0.2/api/status");   // Result<ClientResponse>
//   if (r && r->status() == 200) use(r->body());
//   auto [a, b] = co_await when_all(http.fetch(x), http.fetch(y)); // concurrently
//   http.fetch(url).then([](Result<http::ClientResponse> r) { ... });  // callback style
//
// Memory: ClientOptions sizes everything at construction: connection slots
// (max_connections, each with a TCP and a TLS stream), I/O buffers and the
// wait queue. A fetch borrows one buffer for its request and response; the
// ClientResponse keeps it (its views point into it) and gives it back when
// destroyed. Coroutine frames come from the frame pool. A keep-alive fetch on
// a pooled connection allocates nothing. The exceptions are one-time: the TLS
// trust store is loaded on the first https fetch, and mbedTLS allocates its
// record buffers per TLS connection (see tls.hpp).
//
// Connections are pooled per origin (scheme, host, port): at most
// max_per_origin to one origin and max_connections in all. A fetch reuses an
// idle connection to its origin, else opens one within the caps (closing an
// idle connection to another origin if that is what stands in the way), else
// waits in a FIFO queue (at most `queue` fetches; beyond, Errc::no_memory).
// A connection goes back to the pool only when its response was read to the
// end and both sides allow keep-alive; an idle one is closed after
// pool_idle_timeout or as soon as the server closes it. A request that fails
// on a reused connection before any response byte (the server closed it
// meanwhile) is retried on another one when its method is idempotent.
//
// Responses: bodies framed by Content-Length, chunked (extensions and
// trailers are read and ignored) or connection close; 1xx responses are
// skipped; 204, 304 and answers to HEAD have no body. A body cut short is an
// error, never a short success. The body either stays in the buffer
// (ClientResponse::body(); too_large when it does not fit or is over
// max_body) or goes to on_chunk as it arrives, so its size is not bounded.
//
// Redirects (RFC 9110 §15.4), up to max_redirects (default 5; then an error):
// 301 and 302 turn POST into GET, 303 turns everything but HEAD into GET
// (dropping the body), 307 and 308 keep method and body. Relative Location
// values are resolved against the current URL. After a redirect to another
// origin, Authorization, Cookie and Proxy-Authorization are no longer sent.
//
// Cancelling: destroying the task that awaits a fetch (with_timeout, when_any,
// or destroying the Task) closes its connection and frees its slot and buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <gust/config.hpp>
#include <gust/buffer_pool.hpp>
#include <gust/clock.hpp>
#include <gust/dns.hpp>
#include <gust/function.hpp>
#include <gust/http_parser.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>
#include <gust/tls.hpp>
#include <gust/url.hpp>

// Client defaults; a board header or -D overrides them, ClientOptions per client.
#ifndef GUST_CLIENT_MAX_CONNECTIONS
#define GUST_CLIENT_MAX_CONNECTIONS 32
#endif
#ifndef GUST_CLIENT_MAX_PER_ORIGIN
#define GUST_CLIENT_MAX_PER_ORIGIN 8
#endif
#ifndef GUST_CLIENT_QUEUE
#define GUST_CLIENT_QUEUE 256
#endif
#ifndef GUST_CLIENT_BUFFER_SIZE
#define GUST_CLIENT_BUFFER_SIZE 16384
#endif
#ifndef GUST_CLIENT_MAX_HEADERS
#define GUST_CLIENT_MAX_HEADERS 32
#endif

namespace gust::http {

// Sizes and policies of one Client; zero values take the defaults shown.
struct ClientOptions {
    uint32_t max_connections = GUST_CLIENT_MAX_CONNECTIONS;  // open connections, all origins
    uint32_t max_per_origin = GUST_CLIENT_MAX_PER_ORIGIN;    // open connections to one origin
    uint32_t queue = GUST_CLIENT_QUEUE;          // fetches waiting for a connection
    uint32_t buffers = 0;                        // 0: 2 * max_connections (responses held count)
    uint32_t buffer_size = GUST_CLIENT_BUFFER_SIZE;  // URLs, request head, response head and buffered body
    uint32_t max_url = 2048;                     // longest URL, redirects included (too_large beyond)
    uint32_t max_headers = GUST_CLIENT_MAX_HEADERS;  // response header lines (too_large beyond)
    Duration pool_idle_timeout = std::chrono::seconds(30);  // idle keep-alive connections are closed after
    const char* user_agent = "gust";             // sent unless the request sets its own
    TlsClientOptions tls = {};                   // trust for https; verification is on by default
    TlsClientConfig* tls_config = nullptr;       // or a config of your own (must outlive the Client)
    dns::Resolver* resolver = nullptr;           // null: the Client makes its own from `dns`
    dns::ResolverOptions dns = {};
};

// Fills `out` with the next bytes of a streamed request body; yields how many, 0 at the end.
using BodyProducer = InplaceFunction<Task<Result<size_t>>(std::span<uint8_t> out)>;
// Takes the next piece of a streamed response body (valid during the call); an error aborts the fetch.
using ChunkSink = InplaceFunction<Result<void>(std::span<const uint8_t> data)>;
// Sees the final response's head before its body (views valid during the call); an error aborts the fetch.
using HeadSink = InplaceFunction<Result<void>(const ResponseHead& head)>;

// One request. Views (headers, body) must stay valid until the fetch finishes.
struct FetchOptions {
    Method method = Method::get;
    std::string_view method_name = {};  // when set, sent instead of `method` (e.g. "PROPFIND")
    std::span<const Header> headers = {};  // extra request headers; Host, Content-Length and
                                        // Transfer-Encoding are the client's own
    std::string_view body = {};         // request body (sent with Content-Length)
    BodyProducer producer = {};         // or a streamed body; such a fetch is not retried
                                        // and 307/308 are returned instead of followed
    int64_t body_length = -1;           // with a producer: its exact length, or -1 for chunked
    ChunkSink on_chunk = {};            // stream the response body here instead of buffering it
    HeadSink on_head = {};              // called with the final response's head, before its body
    Duration connect_timeout = std::chrono::seconds(10);  // DNS, TCP connect and TLS handshake
    Duration request_timeout = std::chrono::seconds(60);  // the whole fetch, redirects included
    Duration idle_timeout = std::chrono::seconds(30);     // longest wait for the server's next byte
    int max_redirects = 5;              // 0: return 3xx responses as they are
    uint64_t max_body = UINT64_MAX;     // largest body accepted (too_large beyond); also bounded by the buffer when buffering
};

// A complete response. Every view (reason, headers, body, url) points into the
// response's buffer and lives until this object is destroyed; moving it keeps
// them valid. The buffer goes back to the Client's pool when it is destroyed,
// so the Client must outlive it.
class ClientResponse {
public:
    ClientResponse() = default;
    ClientResponse(ClientResponse&&) = default;
    ClientResponse& operator=(ClientResponse&&) = default;

    uint16_t status() const { return status_; }
    Version version() const { return version_; }
    std::string_view reason() const { return reason_; }
    std::span<const Header> headers() const { return {headers_, header_count_}; }
    // The first header named `name` (case-insensitive), or an empty view with data()==nullptr.
    std::string_view header(std::string_view name) const { return find_header(headers(), name); }
    // The body; empty when it went to on_chunk.
    std::string_view body() const { return body_; }
    // Body bytes received, buffered or streamed.
    uint64_t body_size() const { return body_size_; }
    // The URL that answered (after redirects).
    std::string_view url() const { return url_; }
    // Redirects followed.
    int redirects() const { return redirects_; }
    // True when the final request went over a pooled (reused) connection.
    bool reused_connection() const { return reused_; }

private:
    friend class Client;
    Buffer buffer_;
    const Header* headers_ = nullptr;
    size_t header_count_ = 0;
    std::string_view reason_, body_, url_;
    uint64_t body_size_ = 0;
    uint16_t status_ = 0;
    Version version_ = Version::http11;
    uint8_t redirects_ = 0;
    bool reused_ = false;
};

// Counters since construction, for tests and status pages.
struct ClientStats {
    uint64_t requests = 0;            // requests sent (each redirect hop and retry counts)
    uint64_t connections_opened = 0;  // TCP connections established
    uint64_t connections_reused = 0;  // requests sent on a pooled connection
    uint64_t retries = 0;             // requests repeated after a stale pooled connection
    uint64_t queued = 0;              // fetches that had to wait for a connection
    uint64_t queue_refused = 0;       // fetches refused because the queue was full
    uint32_t connections_open = 0;    // now (busy and idle)
    uint32_t connections_idle = 0;    // now
    uint32_t connections_high_water = 0;
    uint32_t per_origin_high_water = 0;  // most connections open to one origin at once
    uint32_t waiting = 0;             // fetches in the queue now
    uint32_t waiting_high_water = 0;
    uint32_t buffers_in_use = 0;
};

class Client {
public:
    // Reserves every pool from `options` on `loop`. Check status().
    explicit Client(Loop& loop, const ClientOptions& options = ClientOptions());
    // Closes every connection. Fetches still running must be destroyed first.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Success, or why construction failed (no_memory, invalid_argument).
    Result<void> status() const;

    // `co_await fetch(url, options)` yields the response or an error:
    // invalid_argument / not_supported (bad URL or header), not_found (host not
    // found), refused, reset, closed, timeout, tls (verification: "certificate
    // not trusted", "certificate expired", "hostname mismatch"), protocol
    // (malformed or truncated response, too many redirects), too_large (body or
    // head over a limit), no_memory (queue, buffers or frames exhausted).
    // Any HTTP status is a success. `url` and the views in `options` must stay
    // valid until the fetch finishes (the task is lazy: it starts when awaited).
    Task<Result<ClientResponse>> fetch(std::string_view url, FetchOptions options = FetchOptions());

    ClientStats stats() const;
    // Closes every idle pooled connection now.
    void close_idle();

    // ---- internals shared with the WebSocket client (not for applications) ----
    struct Impl;
    Impl* impl() const { return impl_; }

private:
    Impl* impl_ = nullptr;
};

// The method's token ("GET", "DELETE", ...); "" for Method::other.
std::string_view method_token(Method m);

}  // namespace gust::http
