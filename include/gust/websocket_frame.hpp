// The WebSocket wire format (RFC 6455) without any I/O: frame headers,
// masking, close codes, the handshake key and an incremental UTF-8 validator.
// <gust/websocket.hpp> builds connections on it; the fuzz harness and unit
// tests drive it directly.
//
//   FrameHeader h;
//   FrameParse p = parse_frame_header(bytes, Role::server, h);
//   if (p.incomplete()) read more;  else if (p.failed()) close with p.close_code;
//   else payload is the next h.length bytes, unmasked with apply_mask(payload, h.mask, 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/result.hpp>

namespace gust::ws {

enum class Opcode : uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Close codes (RFC 6455 §7.4.1) gust sends or reports.
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005;        // reported when a close frame carried no code; never sent
inline constexpr uint16_t abnormal = 1006;         // reported when the connection dropped without a close; never sent
inline constexpr uint16_t invalid_payload = 1007;  // text that is not UTF-8
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
inline constexpr uint16_t try_again_later = 1013;
}  // namespace close_code

// Which end we are: a server requires masked frames from its client, a client
// requires unmasked frames from its server (§5.1).
enum class Role : uint8_t { server, client };

// The longest frame header: 2 bytes, 8 of extended length, 4 of mask.
inline constexpr size_t kMaxFrameHeader = 14;
// The longest control frame payload.
inline constexpr size_t kMaxControlPayload = 125;

struct FrameHeader {
    bool fin = false;
    Opcode opcode = Opcode::continuation;
    bool masked = false;
    uint8_t mask[4] = {};
    uint64_t length = 0;      // payload bytes
    uint8_t header_size = 0;  // bytes the header took on the wire

    bool is_control() const { return (uint8_t(opcode) & 0x8) != 0; }
};

// The outcome of parse_frame_header: complete (consumed > 0), incomplete
// (consumed == 0, close_code == 0) or failed (close_code says which code to close with).
struct FrameParse {
    size_t consumed = 0;
    uint16_t close_code = 0;
    const char* reason = "";  // static text for logs and the close frame

    bool incomplete() const { return consumed == 0 && close_code == 0; }
    bool failed() const { return close_code != 0; }
};

// Parses one frame header from the start of `in` (which may hold more).
// Fails with 1002 for reserved bits (no extension is negotiated), unknown
// opcodes, fragmented control frames or control payloads over 125 bytes, a
// 64-bit length with its top bit set, and a mask bit that does not fit `role`.
// Message-level rules (continuation without a start, sizes) are the caller's.
FrameParse parse_frame_header(std::span<const uint8_t> in, Role role, FrameHeader& out);

// Writes a frame header into `out` (at least kMaxFrameHeader bytes) and
// returns its size; `mask` is null for an unmasked (server) frame.
size_t encode_frame_header(uint8_t* out, Opcode opcode, bool fin, uint64_t length, const uint8_t* mask);

// XORs `data` with `mask`, as if `data` started `offset` bytes into the payload
// (so a payload can be unmasked in pieces as it arrives). Its own inverse.
void apply_mask(std::span<uint8_t> data, const uint8_t (&mask)[4], uint64_t offset);

// True for a code a peer may put in a close frame: 1000-1003, 1007-1014 and 3000-4999.
bool valid_close_code(uint16_t code);

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), fed piece by piece as fragments arrive.
class Utf8Validator {
public:
    // Feeds the next bytes; false once the input can no longer be valid
    // (fails at the first bad byte, even in the middle of a fragment).
    bool feed(std::span<const uint8_t> bytes);
    bool feed(std::string_view s) { return feed({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }
    // True when everything fed so far is valid and no sequence is cut short.
    bool complete() const { return !failed_ && need_ == 0; }
    bool failed() const { return failed_; }
    void reset() { *this = Utf8Validator(); }

private:
    uint8_t need_ = 0;  // continuation bytes still expected
    uint8_t lo_ = 0x80, hi_ = 0xBF;  // allowed range of the next continuation byte
    bool failed_ = false;
};

// True when `s` is complete, valid UTF-8.
bool valid_utf8(std::string_view s);

// True when `key` is a Sec-WebSocket-Key: base64 of exactly 16 bytes.
bool valid_client_key(std::string_view key);

// Sec-WebSocket-Accept for `key`: base64(SHA-1(key + the RFC's GUID)),
// 28 characters written into `out`; the view points into `out`.
Result<std::string_view> accept_key(std::string_view key, std::span<char, 32> out);

// A fresh Sec-WebSocket-Key (16 random bytes, base64) into `out`, for clients.
Result<std::string_view> make_client_key(std::span<char, 32> out);

}  // namespace gust::ws
