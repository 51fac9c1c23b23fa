// Internals of http::Server shared by server.cpp, request.cpp and response.cpp.
#pragma once

#include <gust/http.hpp>
#include <gust/timeout_queue.hpp>
#include <gust/tls.hpp>

#include "port.hpp"

namespace gust::http {

// Bytes reserved at the front of the output buffer for the status line, which
// is written last (right-aligned against the headers) once the status is final.
inline constexpr size_t kStatusReserve = 48;
// Room kept after the handler's headers for the ones the server adds.
inline constexpr size_t kAutoHeaderReserve = 192;

struct Connection;

// What one request needs while it is served. It lives in the serve
// coroutine's frame (Connection::ex points at it meanwhile), so an idle
// keep-alive connection carries none of it.
struct Exchange {
    explicit Exchange(Connection& c);
    ~Exchange();
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    Connection& conn;
    Request* request = nullptr;
    Response* response = nullptr;

    // Request body.
    Framing framing = Framing::none;
    bool body_done = true;
    bool expect_continue = false;  // 100 Continue not sent yet
    uint16_t body_error_status = 0;  // a body error the server must answer (400, 413)
    uint64_t body_left = 0;   // content-length bytes not yet read
    uint64_t body_read = 0;
    uint64_t max_body = 0;
    Duration body_timeout{0};
    ChunkedDecoder chunked;

    // Output: the response head and body are staged in `out`.
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
};

// The serve coroutine of a connection (requests, or later its WebSocket
// session). It starts when resumed and frees its frame the moment it
// finishes, clearing Connection::running: a burst of requests served within
// one turn reuses one frame. Destroying `running` cancels it where it waits.
struct ConnTask {
    struct promise_type : detail::PooledFrame {
        template <typename... Args>
        promise_type(Server::Impl&, Connection& c, Args&&...) : conn(c) {}
        ~promise_type();
        ConnTask get_return_object() noexcept {
            return ConnTask{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        static ConnTask get_return_object_on_allocation_failure() noexcept { return ConnTask{}; }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::abort(); }
        Connection& conn;
    };
    std::coroutine_handle<promise_type> handle;
};

// A connection slot. Slots are built on first use and kept small: an idle
// keep-alive connection costs this, its loop watch and nothing else (see
// README: Limits).
struct Connection : TimeoutEntry {  // in the server's header, handshake or idle queue while idle
    Server::Impl* server = nullptr;
    TcpStream tcp;
    TlsStream* tls = nullptr;  // from the server's TLS pool, on HTTPS connections
    Stream* io = &tcp;         // what requests and responses read and write
    std::coroutine_handle<> running;  // the serve or WebSocket coroutine, while it runs
    uint32_t idle_callback = 0;  // the watch's readable_version once go_idle installed its callback
    Exchange* ex = nullptr;    // the request being served
    uint32_t index = 0;
    uint32_t next_free = UINT32_MAX;
    bool in_use = false;
    bool serving = false;    // the serve task is running
    bool close_after = false;  // close once the current response is out
    bool handshaking = false;  // counted in tls_handshakes_active
    TimePoint handshake_deadline;
    port::Address peer;

    // Input: [0, body_base) is the current head; [in_pos, in_len) unread bytes.
    Buffer in;
    size_t in_len = 0;
    size_t in_pos = 0;
    size_t body_base = 0;

    // WebSocket: the route whose handshake succeeded (the serve task ends and
    // the session starts on the next turn), then the session's WebSocket.
    const Route* upgrade = nullptr;
    std::string_view ws_subprotocol;
    WebSocket* ws = nullptr;
    EventStream* events = nullptr;  // an SSE response in progress (ended at shutdown)
};

inline Exchange::Exchange(Connection& c) : conn(c) { c.ex = this; }
inline Exchange::~Exchange() { conn.ex = nullptr; }
inline ConnTask::promise_type::~promise_type() { conn.running = nullptr; }

struct Server::Impl {
    Impl(Loop& l, Router& r, const ServerOptions& o)
        : loop(l), router(r), options(o), header_queue(l, o.header_timeout, expire, this),
          handshake_queue(l, o.handshake_timeout, expire, this), idle_queue(l, o.idle_timeout, expire, this),
          upgrade_queue(l, Duration(0), start_upgraded, this) {}

    Loop& loop;
    Router& router;
    ServerOptions options;
    // Idle connections wait in one of these: a new one for its first byte,
    // a TLS one for its handshake, a kept-alive one for its next request.
    static void expire(TimeoutEntry& e, void* self);
    static void start_upgraded(TimeoutEntry& e, void* self);
    TimeoutQueue header_queue;
    TimeoutQueue handshake_queue;
    TimeoutQueue idle_queue;
    // A connection whose WebSocket handshake succeeded waits here for the next
    // turn, when its serve frame is gone and its session starts.
    TimeoutQueue upgrade_queue;
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
    uint32_t tls_made = 0;  // streams built so far (on first use)
    uint32_t max_tls = 0;
    uint32_t max_handshakes = 0;
    bool tls_accept_paused = false;  // the TLS listener waits for a handshake slot

    Connection* conns = nullptr;  // max_conns slots, built on first use
    uint32_t max_conns = 0;
    uint32_t conns_made = 0;
    uint32_t free_conn = UINT32_MAX;
    BufferPool* buffers = nullptr;
    BufferPool* ws_buffers = nullptr;  // WebSocket messages larger than an I/O buffer
    ServerStats stats;

    char date[40] = {};       // "Date: Mon, 23 Nov 2026 04:15:51 GMT\r\n"
    size_t date_len = 0;
    int64_t date_second = -1;
    TimePoint date_until{};   // loop time at which the wall clock's second changes
    // The date line then "Server: <name>\r\n": the lines every response head
    // carries, copied in one piece (names past the room are cut).
    char fixed[160] = {};
    size_t fixed_len = 0;

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
    void go_idle(Connection& c, TimeoutQueue& queue);
    void start_serving(Connection& c);
    void start(Connection& c, ConnTask task);
    ConnTask serve(Connection& c);
    Task<Result<void>> discard_body(Connection& c, const RequestHead& head);
    void check_drained();
    const char* date_header();
    // Date and Server lines for a response head; valid until the next call.
    std::string_view fixed_lines() {
        date_header();
        return std::string_view(fixed, fixed_len);
    }

    // websocket_server.cpp
    void start_websocket(Connection& c);
    ConnTask websocket_session(Connection& c, const Route& route);

    // response.cpp
    // One non-blocking write of the staged response bytes; true when all are out
    // (the usual case: no coroutine frame), false when flush() must wait for the rest.
    Result<bool> try_flush(Connection& c);
    // Waits until the staged bytes that try_flush() left are written.
    Task<Result<void>> flush(Connection& c);
    Task<Result<void>> send_error(Connection& c, uint16_t status, const char* allow = nullptr);
    void count_status(uint16_t status);
};

// Runs the route's handler once its Auth admits the request; otherwise answers 401, 429 or 503 (auth.cpp).
Task<> serve_authorized(Connection& c, const Route& route, Request& req, Response& res);

// "HTTP/1.1 200 OK\r\n" for the status codes gust names; empty for others.
std::string_view status_line(uint16_t status);
// The reason phrase for a status code ("OK", "Not Found", ...; "" when unknown).
std::string_view reason_phrase(uint16_t status);



}  // namespace gust::http
