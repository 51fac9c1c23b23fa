// WebSocket connections (RFC 6455) on the HTTP server and client: coroutine
// and callback APIs, with backpressure, and no buffer held while idle.
//
//   Task<> echo(WebSocket& ws) {
//       for (;;) {
//           auto m = co_await ws.receive();            // a message, or the close
//           if (!m || m->is_close()) co_return;        // the server finishes the closing handshake
//           (void)co_await ws.send(m->type, m->data);   // waits while the client is slow
//       }
//   }
//   app.websocket("/ws/echo", echo);                    // Router: upgrades GET /ws/echo
//   app.websocket("/ws/chat", chat, {.subprotocols = "chat.v2, chat.v1", .max_message = 16384});
//
// The handshake: GET with "Upgrade: websocket", "Connection: Upgrade",
// "Sec-WebSocket-Version: 13" and a valid Sec-WebSocket-Key. A wrong version
// gets 426 with "Sec-WebSocket-Version: 13"; a bad or missing key or header
// gets 400; an Origin the check refuses gets 403 (default: an Origin header,
// when present, must name the Host the request was sent to). With
// `subprotocols` the first one the client offers that the route accepts is
// chosen. After "101 Switching Protocols" the handler owns the connection;
// when it returns, the server finishes the closing handshake (1000, or 1001
// while draining) and closes the connection.
//
// Receiving: receive() answers pings, enforces the protocol and yields whole
// messages (fragments joined). Violations close the connection with the
// RFC's code, which receive() reports as a close message: an unmasked client
// frame, reserved bits, unknown opcodes, a fragmented or oversized control
// frame or a continuation out of place -> 1002; text that is not UTF-8 ->
// 1007; a message over max_message -> 1009.
//
// Memory: an idle connection holds only its coroutine frames (about 2.8 KiB
// on x86-64, this object's 270 bytes included) and no buffer: frame headers
// are read into a 16-byte staging area. A message borrows a buffer from the
// server's pool while it arrives and until the next receive(): an 8 KiB I/O
// buffer when it fits, else one of ServerOptions::websocket_buffers message
// buffers (websocket_max_message bytes each); with none free the connection
// is closed with 1013 (try again later).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <gust/buffer_pool.hpp>
#include <gust/clock.hpp>
#include <gust/function.hpp>
#include <gust/http_parser.hpp>
#include <gust/hub.hpp>
#include <gust/result.hpp>
#include <gust/stream.hpp>
#include <gust/task.hpp>
#include <gust/websocket_frame.hpp>

namespace gust {

class Request;
class WebSocket;

// A route's WebSocket handler: a coroutine that owns the connection after the
// handshake. It may capture up to GUST_CALLBACK_CAPACITY bytes.
using WebSocketHandler = InplaceFunction<Task<>(WebSocket&)>;

// Per-route WebSocket settings; zero values take the defaults shown.
struct WebSocketOptions {
    // Offered subprotocols this route accepts, comma-separated ("chat.v2, chat.v1");
    // kept as a view, so a string literal. Empty: none is negotiated.
    std::string_view subprotocols = {};
    // Largest message (after joining fragments), at most the server's
    // websocket_max_message; 0: that value.
    uint64_t max_message = 0;
    // Decides whether a handshake may proceed (false: 403). Empty: the
    // same-origin rule above. The request's views live during the call only.
    InplaceFunction<bool(const Request&)> check_origin = {};
    // Sends a ping after this much silence from the client, and drops the
    // connection when another interval passes without a byte (0: never).
    Duration ping_interval{0};
    // Longest wait for the rest of a frame once it started, and for a slow
    // reader to take a frame we send.
    Duration io_timeout = std::chrono::seconds(30);
    // How long the server waits for the client's answer to its close frame.
    Duration close_timeout = std::chrono::seconds(3);
};

namespace ws {

// One received message. `data` points into a buffer the WebSocket keeps until
// the next receive() (or until the WebSocket ends).
struct Message {
    Opcode type = Opcode::close;     // text, binary or close
    std::span<const uint8_t> data;   // the payload; for close, the reason's bytes
    uint16_t close_code = 0;         // for close: the code received (1005 when none) or sent on a violation

    bool is_close() const { return type == Opcode::close; }
    bool is_text() const { return type == Opcode::text; }
    std::string_view text() const { return {reinterpret_cast<const char*>(data.data()), data.size()}; }
};

struct Callbacks;

// An answer a callback may give to the message it was called with: copied
// into a borrowed I/O buffer, sent by run() once the callback returns.
class Reply {
public:
    // False when the payload does not fit an I/O buffer (or none is free).
    bool text(std::string_view payload) { return set(Opcode::text, payload); }
    bool binary(std::span<const uint8_t> payload) {
        return set(Opcode::binary, {reinterpret_cast<const char*>(payload.data()), payload.size()});
    }

private:
    friend Task<> run(WebSocket&, Callbacks&);
    bool set(Opcode type, std::string_view payload);
    BufferPool* pool_ = nullptr;
    Buffer buffer_;
    size_t len_ = 0;
    Opcode type_ = Opcode::text;
};

// Callbacks for code that is not a coroutine (Tornado's open/on_message/on_close):
//   app.websocket("/ws/cb", [&cb](WebSocket& ws) { return ws::run(ws, cb); });
struct Callbacks {
    InplaceFunction<void(WebSocket&)> on_open = {};
    InplaceFunction<void(WebSocket&, const Message&, Reply&)> on_message = {};
    InplaceFunction<void(WebSocket&, uint16_t code)> on_close = {};
};

// Receives on `ws` until it closes, calling `cb` (which must outlive it);
// a Reply set by on_message is sent before the next message is read.
Task<> run(WebSocket& ws, Callbacks& cb);

// How a WebSocket reaches its connection (set up by the server and the client).
struct Transport {
    Loop* loop = nullptr;
    Stream* io = nullptr;
    Role role = Role::server;
    BufferPool* small = nullptr;    // I/O buffers for messages and frames that fit
    BufferPool* large = nullptr;    // message buffers for larger ones (may be null)
    uint64_t max_message = 65536;
    Duration io_timeout = std::chrono::seconds(30);
    Duration ping_interval{0};
    Duration close_timeout = std::chrono::seconds(3);
    std::string_view subprotocol = {};
};

}  // namespace ws

class WebSocket : public detail::Outbox {
public:
    explicit WebSocket(const ws::Transport& t);
    ~WebSocket();

    // The next message, the close (is_close(); the closing handshake is
    // answered here), or an error when the connection failed (Errc::closed,
    // Errc::timeout, ...). The previous message's data is released first.
    // One receive() at a time.
    Task<Result<ws::Message>> receive();

    // Send one message as a single frame; they wait while the peer is slow
    // (up to io_timeout) and may be called from several coroutines at once
    // (frames are written whole, one after another). Errc::closed once a
    // close frame was sent or the connection failed.
    Task<Result<void>> send_text(std::string_view text) {
        return send(ws::Opcode::text, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
    Task<Result<void>> send_binary(std::span<const uint8_t> data) { return send(ws::Opcode::binary, data); }
    Task<Result<void>> send(ws::Opcode type, std::span<const uint8_t> data);
    // A ping (at most 125 bytes); the pong is swallowed by receive().
    Task<Result<void>> ping(std::span<const uint8_t> data = {});
    // Starts the closing handshake: sends a close frame with `code` (1000,
    // 1001, 1003, 1007-1011 or 3000-4999) and `reason` (at most 123 bytes of
    // UTF-8). receive() then yields the peer's answer.
    Task<Result<void>> close(uint16_t code = ws::close_code::normal, std::string_view reason = {});

    // True until a close frame was sent or received, or the connection failed.
    bool is_open() const { return !close_sent_ && !close_received_ && !broken_; }
    // The code of the close frame received (or sent on a violation); 0 before.
    uint16_t close_code() const { return close_code_; }
    // The subprotocol the handshake chose; empty when none.
    std::string_view subprotocol() const { return subprotocol_; }
    ws::Role role() const { return role_; }
    // Messages received and sent so far.
    uint64_t messages_received() const { return received_; }
    uint64_t messages_sent() const { return sent_; }

    // ---- for the server and client that own the connection ----
    // Bytes that arrived behind the handshake; the WebSocket reads them first
    // and gives the buffer back when they are used up.
    void carry(Buffer buffer, size_t pos, size_t len);
    // The end of a session: sends a close frame unless one was sent, waits up
    // to close_timeout for the peer's, then half-closes and waits for the
    // peer's FIN (so the peer reads our close frame rather than a reset).
    Task<> finish(uint16_t code);
    // Server shutdown: a best-effort close frame with 1001, written only if the
    // socket takes it at once; receive() then sees the client's answer.
    void go_away();

private:
    friend Task<> ws::run(WebSocket&, ws::Callbacks&);
    Task<Result<ws::Message>> fail_with(uint16_t code, const char* reason);
    Task<Result<void>> send_frame(ws::Opcode op, std::span<const uint8_t> payload);
    Task<Result<size_t>> read_into(std::span<uint8_t> out, Duration timeout);
    bool ensure_capacity(uint64_t total);
    size_t take_staged(std::span<uint8_t> out);

    ws::Role role_;
    bool close_sent_ = false;
    bool close_received_ = false;
    bool in_message_ = false;  // a fragmented message is being joined
    bool closing_ = false;     // go_away() or finish() began
    uint16_t close_code_ = 0;
    ws::Opcode msg_type_ = ws::Opcode::text;
    BufferPool* small_ = nullptr;
    BufferPool* large_ = nullptr;
    uint64_t max_message_ = 0;
    Duration io_timeout_{0}, ping_interval_{0}, close_timeout_{0};
    std::string_view subprotocol_;
    uint64_t received_ = 0, sent_ = 0;
    ws::Utf8Validator utf8_;
    Buffer msg_;               // the message being joined or last returned
    uint64_t msg_len_ = 0;
    Buffer carry_;             // bytes that came behind the handshake
    uint32_t carry_pos_ = 0, carry_len_ = 0;
    uint8_t staged_[16];       // frame header bytes read ahead
    uint8_t staged_pos_ = 0, staged_len_ = 0;
    uint8_t mask_state_[8] = {};  // the client's mask generator
    TimerId close_timer_;         // go_away(): how long the client has to answer
};

namespace http {
class Client;
struct Conn;
}  // namespace http

// Settings of one client connection; zero values take the defaults shown.
struct WebSocketConnectOptions {
    std::string_view subprotocols = {};       // offered, comma-separated, in order of preference
    std::span<const http::Header> headers = {};  // extra handshake headers (Origin, Authorization, ...)
    Duration connect_timeout = std::chrono::seconds(10);  // DNS, TCP, TLS and the handshake
    // Largest message received: at most the Client's buffer_size, or the
    // size of `message_buffers`' buffers when given (0: the larger of the two).
    uint64_t max_message = 0;
    BufferPool* message_buffers = nullptr;    // for messages over an I/O buffer (yours; must outlive the connection)
    Duration io_timeout = std::chrono::seconds(30);
    Duration ping_interval{0};                // ping after this much silence; drop after another (0: never)
    Duration close_timeout = std::chrono::seconds(3);
};

// A WebSocket client connection on an http::Client's pool: its DNS resolver,
// connection caps and TLS trust (wss:// verifies the server like https://).
// The connection is taken out of the pool for as long as this object holds it.
//
//   http::Client http(loop);
//   WebSocketClient link(http);
//   if (auto r = co_await link.connect("wss://cloud.example/device", {.subprotocols = "v1"}); !r) ...
//   (void)co_await link.socket().send_text(hello);
//   auto m = co_await link.socket().receive();
//   co_await link.close();                 // closing handshake; also done (abruptly) by the destructor
class WebSocketClient {
public:
    explicit WebSocketClient(http::Client& client) : client_(client) {}
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    // Connects to a ws:// or wss:// URL (the views in `options` must stay
    // valid until it returns). Errors: the http::Client's (not_found, refused,
    // timeout, tls, ...), Errc::protocol when the server does not answer 101
    // with the right Sec-WebSocket-Accept (the status is then in status()),
    // Errc::invalid_argument for a bad URL.
    Task<Result<void>> connect(std::string_view url, const WebSocketConnectOptions& options = {});
    // The open connection; only after connect() succeeded.
    WebSocket& socket() { return ws_.get(); }
    bool connected() const { return connected_; }
    // The handshake's HTTP status (101 on success; 0 before an answer).
    uint16_t status() const { return status_; }
    // Closes with `code` (closing handshake, then the TCP connection).
    Task<> close(uint16_t code = ws::close_code::normal);

private:
    void drop();
    http::Client& client_;
    http::Conn* conn_ = nullptr;
    detail::Slot<WebSocket> ws_;
    char subprotocol_[64] = {};
    uint16_t status_ = 0;
    bool connected_ = false;
};

}  // namespace gust
