// Internals of http::Server shared by server.cpp, request.cpp and response.cpp.
#pragma once

#include <gust/http.hpp>
#include <gust/tls.hpp>

#include "port.hpp"

namespace gust::http {

// Bytes reserved at the front of the output buffer for the status line, which
// is written last (right-aligned against the headers) once the status is final.
inline constexpr size_t kStatusReserve = 48;
// Room kept after the handler's headers for the ones the server adds.
inline constexpr size_t kAutoHeaderReserve = 192;

struct Connection {
    Server::Impl* server = nullptr;
    TcpStream tcp;
    TlsStream* tls = nullptr;  // from the server's TLS pool, on HTTPS connections
    Stream* io = &tcp;         // what requests and responses read and write
    uint32_t index = 0;
    uint32_t next_free = UINT32_MAX;
    bool in_use = false;
    bool serving = false;    // the serve task is running
    bool close_after = false;  // close once the current response is out
    bool handshaking = false;  // counted in tls_handshakes_active
    TimePoint handshake_deadline;
    port::Address peer;

    Task<> task;             // the serve coroutine while it runs (reaped on the next turn)
    struct Reaper : ReadyNode {
        Connection* conn = nullptr;
    };
    Reaper reap;             // destroys a finished task outside its own frame
    TimerId idle_timer;

    // Input: [0, body_base) is the current head; [in_pos, in_len) unread bytes.
    Buffer in;
    size_t in_len = 0;
    size_t in_pos = 0;
    size_t body_base = 0;

    // Current request body.
    Framing framing = Framing::none;
    uint64_t body_left = 0;   // content-length bytes not yet read
    uint64_t body_read = 0;
    uint64_t max_body = 0;
    Duration body_timeout{0};
    bool body_done = true;
    bool expect_continue = false;  // 100 Continue not sent yet
    uint16_t body_error_status = 0;  // a body error the server must answer (400, 413)
    ChunkedDecoder chunked;

    // Output.
    Buffer out;
    size_t head_len = 0;      // bytes of handler headers after kStatusReserve
    size_t out_len = 0;       // total bytes staged in `out` (from kStatusReserve... see response.cpp)
    size_t out_start = 0;     // where the staged bytes begin (the status line start)
    bool head_only = false;   // HEAD request: no body bytes on the wire
    bool has_content_type = false;  // the handler set Content-Type itself
    bool out_exhausted = false;     // the buffer pool had no output buffer for this response
    Version version = Version::http11;
    detail::Slot<JsonWriter> json;  // Response::json() writes through this
    size_t json_at = 0;       // where the JSON body starts in `out`

    Request* request = nullptr;
    Response* response = nullptr;

    // WebSocket: the route whose handshake succeeded (the serve task ends and
    // the reaper starts the session), then the session's WebSocket.
    const Route* upgrade = nullptr;
    std::string_view ws_subprotocol;
    WebSocket* ws = nullptr;
    EventStream* events = nullptr;  // an SSE response in progress (ended at shutdown)
};

struct Server::Impl {
    Impl(Loop& l, Router& r, const ServerOptions& o) : loop(l), router(r), options(o) {}

    Loop& loop;
    Router& router;
    ServerOptions options;
    Error error;
    struct Listener {
        int fd = -1;
        WatchId watch;
        uint16_t port = 0;
        bool tls = false;
    };
    Listener listeners[2];  // [0] http, [1] https
    TimerId accept_backoff;

    // TLS streams (with their mbedtls_ssl_context) are pooled apart from the
    // connections, so plain connections do not pay for them.
    TlsStream* tls_streams = nullptr;
    TlsStream** tls_free = nullptr;
    uint32_t tls_free_count = 0;
    uint32_t max_tls = 0;
    uint32_t max_handshakes = 0;
    bool tls_accept_paused = false;  // the TLS listener waits for a handshake slot

    Connection* conns = nullptr;
    uint32_t max_conns = 0;
    uint32_t free_conn = UINT32_MAX;
    BufferPool* buffers = nullptr;
    BufferPool* ws_buffers = nullptr;  // WebSocket messages larger than an I/O buffer
    ServerStats stats;

    char date[40] = {};       // "Date: Mon, 23 Nov 2026 04:15:51 GMT\r\n"
    size_t date_len = 0;
    int64_t date_second = -1;

    bool draining = false;
    Callback drain_done;
    TimerId drain_timer;

    // server.cpp
    Result<void> listen(Listener& l, const char* address, bool tls);
    void on_accept(Listener& l);
    void pause_accepting();
    void resume_accepting();
    void update_tls_accepting();
    void close_listeners();
    bool open_connection(int fd, const port::Address& peer, bool tls);
    Task<Result<void>> handshake(Connection& c);
    void close_connection(Connection& c);
    void refuse_connection(Connection& c);
    int busy_response(char* out, size_t size);
    void write_busy(int fd);
    void go_idle(Connection& c, Duration timeout);
    void start_serving(Connection& c);
    Task<> serve(Connection& c);
    Task<Result<void>> read_head(Connection& c, RequestParser& parser, RequestHead& head, std::span<Header> headers,
                                 ParseResult& result);
    Task<Result<void>> discard_body(Connection& c, const RequestHead& head);
    void check_drained();
    void reap_later(Connection& c);
    const char* date_header();

    // websocket_server.cpp
    void start_websocket(Connection& c);
    Task<> websocket_session(Connection& c, const Route& route);

    // response.cpp
    Task<Result<void>> flush(Connection& c);
    Task<Result<void>> send_error(Connection& c, uint16_t status, const char* allow = nullptr);
    void count_status(uint16_t status);
};

// Runs the route's handler once its Auth admits the request; otherwise answers 401, 429 or 503 (auth.cpp).
Task<> serve_authorized(Connection& c, const Route& route, Request& req, Response& res);

// The reason phrase for a status code ("OK", "Not Found", ...; "" when unknown).
const char* reason_phrase(uint16_t status);



}  // namespace gust::http
