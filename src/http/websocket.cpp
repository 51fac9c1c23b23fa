// A WebSocket connection: frames in, whole messages out, and frames out under
// the connection's write lock. Idle, it holds only this object: frame
// headers are read into a 16-byte staging area, and a buffer is borrowed only
// once a data frame's header says how much is coming.
#include <gust/websocket.hpp>

#include <cstring>

#include <gust/log.hpp>
#include <gust/when.hpp>

#include "port.hpp"

namespace gust {

using ws::Opcode;

namespace {

constexpr uint64_t kMaxDrain = 4u << 20;  // bytes read and dropped while closing

uint64_t next_random(uint8_t (&state)[8]) {
    // xorshift64*: masks need to be unpredictable to proxies, not secret;
    // the seed comes from the system's random source.
    uint64_t x;
    std::memcpy(&x, state, 8);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    std::memcpy(state, &x, 8);
    return x * 0x2545F4914F6CDD1Dull;
}

}  // namespace

WebSocket::WebSocket(const ws::Transport& t)
    : role_(t.role),
      small_(t.small),
      large_(t.large),
      max_message_(t.max_message),
      io_timeout_(t.io_timeout),
      ping_interval_(t.ping_interval),
      close_timeout_(t.close_timeout),
      subprotocol_(t.subprotocol) {
    bind(t.loop, t.io, Format::websocket);
    if (role_ == ws::Role::client) {
        if (!port::random_bytes(mask_state_)) {
            uint64_t seed = uint64_t(port::monotonic_ns()) | 1;
            std::memcpy(mask_state_, &seed, 8);
        }
        if (mask_state_[0] == 0) mask_state_[0] = 1;  // xorshift must not start at zero
    }
}

WebSocket::~WebSocket() {
    if (close_timer_) loop_->cancel(close_timer_);
}

void WebSocket::carry(Buffer buffer, size_t pos, size_t len) {
    if (pos >= len) return;
    carry_ = static_cast<Buffer&&>(buffer);
    carry_pos_ = uint32_t(pos);
    carry_len_ = uint32_t(len);
}

size_t WebSocket::take_staged(std::span<uint8_t> out) {
    size_t n = size_t(staged_len_ - staged_pos_);
    if (n > out.size()) n = out.size();
    if (n == 0) return 0;
    std::memcpy(out.data(), staged_ + staged_pos_, n);
    staged_pos_ = uint8_t(staged_pos_ + n);
    return n;
}

Task<Result<size_t>> WebSocket::read_into(std::span<uint8_t> out, Duration timeout) {
    if (carry_pos_ < carry_len_) {
        size_t n = carry_len_ - carry_pos_ < out.size() ? carry_len_ - carry_pos_ : out.size();
        std::memcpy(out.data(), carry_.data() + carry_pos_, n);
        carry_pos_ += uint32_t(n);
        if (carry_pos_ == carry_len_) {
            carry_.reset();
            carry_pos_ = carry_len_ = 0;
        }
        co_return n;
    }
    if (broken_ || !io_->is_open()) co_return Error(Errc::closed, "websocket: connection closed");
    co_return co_await io_->read(out, timeout);
}

bool WebSocket::ensure_capacity(uint64_t total) {
    if (total == 0 || (msg_ && total <= msg_.size())) return true;
    BufferPool* pool = small_ && total <= small_->buffer_size() ? small_ : large_;
    if (!pool || total > pool->buffer_size()) return false;
    Buffer b = pool->acquire();
    if (!b) return false;
    if (msg_len_) std::memcpy(b.data(), msg_.data(), size_t(msg_len_));
    msg_ = static_cast<Buffer&&>(b);
    return true;
}

Task<Result<ws::Message>> WebSocket::fail_with(uint16_t code, const char* reason) {
    log_debug("websocket: closing with %u: %s", unsigned(code), reason);
    close_code_ = code;
    close_received_ = true;  // nothing more is read from a peer that broke the protocol
    in_message_ = false;
    msg_.reset();
    msg_len_ = 0;
    if (!close_sent_ && !broken_) {
        uint8_t payload[2 + 64];
        size_t rl = std::strlen(reason);
        if (rl > 64) rl = 64;
        payload[0] = uint8_t(code >> 8);
        payload[1] = uint8_t(code);
        std::memcpy(payload + 2, reason, rl);
        (void)co_await send_frame(Opcode::close, {payload, 2 + rl});
    }
    ws::Message m;
    m.type = Opcode::close;
    m.close_code = code;
    co_return m;
}

Task<Result<ws::Message>> WebSocket::receive() {
    msg_.reset();
    msg_len_ = 0;
    if (close_received_ || broken_) co_return Error(Errc::closed, "websocket: closed");
    bool pinged = false;
    // Violations jump to one co_await at the end: every co_await site costs
    // room in this frame, which an idle connection keeps.
    uint16_t fail_code = 0;
    const char* fail_reason = "";
    for (;;) {
        // A frame header, from bytes staged ahead first.
        ws::FrameHeader h;
        for (;;) {
            ws::FrameParse p = ws::parse_frame_header(
                {staged_ + staged_pos_, size_t(staged_len_ - staged_pos_)}, role_, h);
            if (p.failed()) { fail_code = p.close_code; fail_reason = p.reason; goto violation; }
            if (!p.incomplete()) {
                staged_pos_ = uint8_t(staged_pos_ + p.consumed);
                break;
            }
            if (staged_pos_ > 0) {
                std::memmove(staged_, staged_ + staged_pos_, size_t(staged_len_ - staged_pos_));
                staged_len_ = uint8_t(staged_len_ - staged_pos_);
                staged_pos_ = 0;
            }
            bool idle = staged_len_ == 0 && !in_message_;
            Duration wait = !idle ? io_timeout_ : ping_interval_ > Duration(0) ? ping_interval_ : kNoTimeout;
            auto n = co_await read_into({staged_ + staged_len_, sizeof staged_ - staged_len_}, wait);
            if (!n) {
                if (n.error().code == Errc::timeout && idle && !pinged && !close_sent_) {
                    // Silence: ask for a pong; a second silent interval ends it.
                    pinged = true;
                    if (auto pr = co_await send_frame(Opcode::ping, {}); !pr) co_return pr.error();
                    continue;
                }
                close_code_ = ws::close_code::abnormal;
                fail();
                co_return n.error();
            }
            if (*n == 0) {
                close_code_ = ws::close_code::abnormal;
                close_received_ = true;
                co_return Error(Errc::closed, "websocket: connection closed without a close frame");
            }
            staged_len_ = uint8_t(staged_len_ + *n);
            pinged = false;
        }

        if (!h.is_control()) {
            if (h.opcode == Opcode::continuation && !in_message_)
                { fail_code = ws::close_code::protocol_error; fail_reason = "continuation without a message"; goto violation; }
            if (h.opcode != Opcode::continuation && in_message_)
                { fail_code = ws::close_code::protocol_error; fail_reason = "new message inside a fragmented one"; goto violation; }
            if (msg_len_ + h.length > max_message_)
                { fail_code = ws::close_code::message_too_big; fail_reason = "message too big"; goto violation; }
            if (h.opcode != Opcode::continuation) {
                msg_type_ = h.opcode;
                utf8_.reset();
                in_message_ = true;
            }
            if (!ensure_capacity(msg_len_ + h.length))
                { fail_code = ws::close_code::try_again_later; fail_reason = "no message buffer free"; goto violation; }
            uint64_t got = 0;
            while (got < h.length) {
                std::span<uint8_t> dst(msg_.data() + msg_len_ + got, size_t(h.length - got));
                size_t n = take_staged(dst);
                if (n == 0) {
                    auto r = co_await read_into(dst, io_timeout_);
                    if (!r || *r == 0) {
                        close_code_ = ws::close_code::abnormal;
                        fail();
                        co_return r ? Error(Errc::closed, "websocket: connection closed inside a frame") : r.error();
                    }
                    n = *r;
                }
                std::span<uint8_t> piece = dst.first(n);
                if (h.masked) ws::apply_mask(piece, h.mask, got);
                if (msg_type_ == Opcode::text && !utf8_.feed(piece))
                    { fail_code = ws::close_code::invalid_payload; fail_reason = "text is not UTF-8"; goto violation; }
                got += n;
            }
            msg_len_ += h.length;
            if (!h.fin) continue;
            if (msg_type_ == Opcode::text && !utf8_.complete())
                { fail_code = ws::close_code::invalid_payload; fail_reason = "text is not UTF-8"; goto violation; }
            in_message_ = false;
            ++received_;
            ws::Message m;
            m.type = msg_type_;
            m.data = {msg_.data(), size_t(msg_len_)};
            co_return m;
        }

        // A control frame (at most 125 bytes), possibly between fragments.
        uint8_t ctrl[ws::kMaxControlPayload];
        size_t len = size_t(h.length);
        size_t got = take_staged({ctrl, len});
        while (got < len) {
            auto r = co_await read_into({ctrl + got, len - got}, io_timeout_);
            if (!r || *r == 0) {
                close_code_ = ws::close_code::abnormal;
                fail();
                co_return r ? Error(Errc::closed, "websocket: connection closed inside a frame") : r.error();
            }
            got += *r;
        }
        if (h.masked) ws::apply_mask({ctrl, len}, h.mask, 0);
        if (h.opcode == Opcode::ping) {
            if (close_sent_) continue;
            if (auto r = co_await send_frame(Opcode::pong, {ctrl, len}); !r) co_return r.error();
            continue;
        }
        if (h.opcode == Opcode::pong) continue;
        // Close: echo the code (RFC 6455 §5.5.1), then report it.
        uint16_t code = ws::close_code::no_status;
        if (len == 1) { fail_code = ws::close_code::protocol_error; fail_reason = "close frame of one byte"; goto violation; }
        if (len >= 2) {
            code = uint16_t(ctrl[0] << 8 | ctrl[1]);
            if (!ws::valid_close_code(code))
                { fail_code = ws::close_code::protocol_error; fail_reason = "invalid close code"; goto violation; }
            if (!ws::valid_utf8({reinterpret_cast<const char*>(ctrl + 2), len - 2}))
                { fail_code = ws::close_code::invalid_payload; fail_reason = "close reason is not UTF-8"; goto violation; }
        }
        close_received_ = true;
        close_code_ = code;
        in_message_ = false;
        msg_.reset();
        msg_len_ = 0;
        if (!close_sent_) (void)co_await send_frame(Opcode::close, {ctrl, len >= 2 ? size_t(2) : size_t(0)});
        // The reason stays readable until the next receive(): keep it in a small buffer.
        ws::Message m;
        m.type = Opcode::close;
        m.close_code = code;
        if (len > 2 && ensure_capacity(len - 2)) {
            std::memcpy(msg_.data(), ctrl + 2, len - 2);
            m.data = {msg_.data(), len - 2};
        }
        co_return m;
    }
violation:
    co_return co_await fail_with(fail_code, fail_reason);
}

Task<Result<void>> WebSocket::send_frame(Opcode op, std::span<const uint8_t> payload) {
    auto guard = co_await lock();
    if (broken_ || !io_->is_open()) co_return Error(Errc::closed, "websocket: connection closed");
    if (close_sent_) co_return Error(Errc::closed, "websocket: close frame already sent");
    if (op == Opcode::close) {
        close_sent_ = true;
        // Hub messages must not follow a close frame.
        if (subscribed()) leave_hub();
    }
    uint8_t head[ws::kMaxFrameHeader];
    uint8_t mask[4];
    bool masked = role_ == ws::Role::client;
    if (masked) {
        uint64_t r = next_random(mask_state_);
        std::memcpy(mask, &r, 4);
    }
    size_t hl = ws::encode_frame_header(head, op, true, payload.size(), masked ? mask : nullptr);
    guard.dirty(true);
    Buffer b;
    if (small_ && (masked || hl + payload.size() <= small_->buffer_size())) b = small_->acquire();
    if (masked && !b) co_return Error(Errc::no_memory, "websocket: no buffer to mask a frame");
    if (b) {
        // One write for small frames; masked frames go through the buffer in pieces.
        std::memcpy(b.data(), head, hl);
        size_t at = hl;
        uint64_t done = 0;
        for (;;) {
            size_t room = b.size() - at;
            size_t n = payload.size() - done < room ? size_t(payload.size() - done) : room;
            if (n) std::memcpy(b.data() + at, payload.data() + done, n);
            if (masked) ws::apply_mask({b.data() + at, n}, mask, done);
            auto w = co_await io_->write_all({b.data(), at + n}, io_timeout_);
            if (!w) {
                fail();
                co_return w.error();
            }
            done += n;
            at = 0;
            if (done == payload.size()) break;
        }
    } else {
        auto w = co_await io_->write_all({head, hl}, io_timeout_);
        if (w) w = co_await io_->write_all(payload, io_timeout_);
        if (!w) {
            fail();
            co_return w.error();
        }
    }
    guard.dirty(false);
    if (op == Opcode::text || op == Opcode::binary) ++sent_;
    co_return Result<void>();
}

Task<Result<void>> WebSocket::send(Opcode type, std::span<const uint8_t> data) {
    if (type != Opcode::text && type != Opcode::binary)
        co_return Error(Errc::invalid_argument, "websocket: send() takes text or binary");
    co_return co_await send_frame(type, data);
}

Task<Result<void>> WebSocket::ping(std::span<const uint8_t> data) {
    if (data.size() > ws::kMaxControlPayload) co_return Error(Errc::too_large, "websocket: ping over 125 bytes");
    co_return co_await send_frame(Opcode::ping, data);
}

Task<Result<void>> WebSocket::close(uint16_t code, std::string_view reason) {
    if (!ws::valid_close_code(code) || reason.size() > ws::kMaxControlPayload - 2 || !ws::valid_utf8(reason))
        co_return Error(Errc::invalid_argument, "websocket: bad close code or reason");
    uint8_t payload[ws::kMaxControlPayload];
    payload[0] = uint8_t(code >> 8);
    payload[1] = uint8_t(code);
    std::memcpy(payload + 2, reason.data(), reason.size());
    if (!close_code_) close_code_ = code;
    co_return co_await send_frame(Opcode::close, {payload, 2 + reason.size()});
}

void WebSocket::go_away() {
    if (closing_ || close_sent_ || broken_ || !io_->is_open()) return;
    closing_ = true;
    if (role_ != ws::Role::server || locked()) return;  // finish() closes after the frame being written
    static const uint8_t frame[] = {0x88, 0x02, 0x03, 0xE9};  // close 1001
    if (subscribed()) leave_hub();
    uint8_t need;
    auto r = io_->try_write(frame, need);
    if (r && *r == sizeof frame) {
        close_sent_ = true;
        if (!close_code_) close_code_ = ws::close_code::going_away;
        // A client that does not answer within close_timeout is cut off.
        auto t = loop_->call_later(close_timeout_, [this] {
            close_timer_ = TimerId();
            if (!close_received_) fail();
        });
        if (t) close_timer_ = *t;
    } else if (r && *r > 0) {
        fail();  // half a close frame: nothing sensible can follow
    }
}

Task<> WebSocket::finish(uint16_t code) {
    closing_ = true;
    if (!broken_ && !close_sent_) {
        uint8_t payload[2] = {uint8_t(code >> 8), uint8_t(code)};
        if (!close_code_) close_code_ = code;
        (void)co_await send_frame(Opcode::close, payload);
    }
    TimePoint deadline = loop_->now() + close_timeout_;
    while (!broken_ && !close_received_ && io_->is_open()) {
        Duration left = deadline - loop_->now();
        if (left <= Duration(0)) break;
        auto m = co_await with_timeout(left, receive());
        if (!m) break;
    }
    msg_.reset();
    carry_.reset();
    if (broken_ || !io_->is_open()) co_return;
    (void)io_->shutdown();
    // After a clean closing handshake nothing more is coming: close now.
    // Otherwise read until the peer's FIN, so that our close frame is not
    // destroyed by a reset (closing a socket with unread input sends RST).
    if (close_received_ && close_code_ != ws::close_code::protocol_error &&
        close_code_ != ws::close_code::invalid_payload && close_code_ != ws::close_code::message_too_big &&
        close_code_ != ws::close_code::try_again_later)
        co_return;
    Buffer b = small_ ? small_->acquire() : Buffer();
    uint8_t spare[256];
    std::span<uint8_t> sink = b ? b.span() : std::span<uint8_t>(spare);
    uint64_t dropped = 0;
    while (dropped < kMaxDrain) {
        Duration left = deadline - loop_->now();
        if (left <= Duration(0)) left = Duration(1);
        auto n = co_await io_->read(sink, left);
        if (!n || *n == 0) break;
        dropped += *n;
    }
}

namespace ws {

bool Reply::set(Opcode type, std::string_view payload) {
    if (!pool_ || payload.size() > pool_->buffer_size()) return false;
    if (!buffer_) buffer_ = pool_->acquire();
    if (!buffer_) return false;
    std::memcpy(buffer_.data(), payload.data(), payload.size());
    len_ = payload.size();
    type_ = type;
    return true;
}

Task<> run(WebSocket& ws, Callbacks& cb) {
    if (cb.on_open) cb.on_open(ws);
    for (;;) {
        auto m = co_await ws.receive();
        if (!m || m->is_close()) {
            if (cb.on_close) cb.on_close(ws, m ? m->close_code : close_code::abnormal);
            co_return;
        }
        Reply reply;
        reply.pool_ = ws.small_;
        if (cb.on_message) cb.on_message(ws, *m, reply);
        if (reply.buffer_) {
            auto r = co_await ws.send(reply.type_, {reply.buffer_.data(), reply.len_});
            if (!r) {
                if (cb.on_close) cb.on_close(ws, close_code::abnormal);
                co_return;
            }
        }
    }
}

}  // namespace ws
}  // namespace gust
