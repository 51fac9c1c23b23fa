// The WebSocket wire format: frame headers, masking, close codes, UTF-8.
// Pure functions over caller-owned bytes; the fuzz harness links only this.
#include <gust/websocket_frame.hpp>

#include <cstring>

namespace gust::ws {

namespace {

FrameParse fail(const char* reason) {
    FrameParse p;
    p.close_code = close_code::protocol_error;
    p.reason = reason;
    return p;
}

bool known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

}  // namespace

FrameParse parse_frame_header(std::span<const uint8_t> in, Role role, FrameHeader& out) {
    if (in.size() < 2) return {};
    uint8_t b0 = in[0], b1 = in[1];
    // Checked before the length is complete, so a bad frame fails at its first two bytes.
    if (b0 & 0x70) return fail("reserved bits set");
    uint8_t op = b0 & 0x0F;
    if (!known_opcode(op)) return fail("unknown opcode");
    bool fin = (b0 & 0x80) != 0;
    bool masked = (b1 & 0x80) != 0;
    uint8_t len7 = b1 & 0x7F;
    bool control = (op & 0x8) != 0;
    if (control && !fin) return fail("fragmented control frame");
    if (control && len7 > kMaxControlPayload) return fail("control frame over 125 bytes");
    if (role == Role::server && !masked) return fail("unmasked client frame");
    if (role == Role::client && masked) return fail("masked server frame");
    size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (in.size() < need) return {};
    uint64_t length = len7;
    size_t at = 2;
    if (len7 == 126) {
        length = uint64_t(in[2]) << 8 | in[3];
        at = 4;
    } else if (len7 == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = length << 8 | in[2 + i];
        if (length >> 63) return fail("64-bit length with its top bit set");
        at = 10;
    }
    out.fin = fin;
    out.opcode = Opcode(op);
    out.masked = masked;
    out.length = length;
    if (masked) std::memcpy(out.mask, in.data() + at, 4);
    else std::memset(out.mask, 0, 4);
    out.header_size = uint8_t(need);
    FrameParse p;
    p.consumed = need;
    return p;
}

size_t encode_frame_header(uint8_t* out, Opcode opcode, bool fin, uint64_t length, const uint8_t* mask) {
    out[0] = uint8_t((fin ? 0x80 : 0) | uint8_t(opcode));
    uint8_t m = mask ? 0x80 : 0;
    size_t at;
    if (length < 126) {
        out[1] = uint8_t(m | length);
        at = 2;
    } else if (length <= 0xFFFF) {
        out[1] = uint8_t(m | 126);
        out[2] = uint8_t(length >> 8);
        out[3] = uint8_t(length);
        at = 4;
    } else {
        out[1] = uint8_t(m | 127);
        for (int i = 0; i < 8; ++i) out[2 + i] = uint8_t(length >> (56 - 8 * i));
        at = 10;
    }
    if (mask) {
        std::memcpy(out + at, mask, 4);
        at += 4;
    }
    return at;
}

void apply_mask(std::span<uint8_t> data, const uint8_t (&mask)[4], uint64_t offset) {
    size_t phase = size_t(offset & 3);
    size_t i = 0;
    size_t n = data.size();
    uint8_t* p = data.data();
    // Byte by byte up to a word boundary of the mask, then a word at a time.
    while (i < n && phase != 0) {
        p[i++] ^= mask[phase];
        phase = (phase + 1) & 3;
    }
    uint32_t word;
    std::memcpy(&word, mask, 4);
    for (; i + 4 <= n; i += 4) {
        uint32_t v;
        std::memcpy(&v, p + i, 4);
        v ^= word;
        std::memcpy(p + i, &v, 4);
    }
    for (size_t k = 0; i < n; ++i, ++k) p[i] ^= mask[k];
}

bool valid_close_code(uint16_t code) {
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1014) return true;
    return code >= 3000 && code <= 4999;
}

bool Utf8Validator::feed(std::span<const uint8_t> bytes) {
    if (failed_) return false;
    for (uint8_t b : bytes) {
        if (need_ > 0) {
            if (b < lo_ || b > hi_) {
                failed_ = true;
                return false;
            }
            lo_ = 0x80;
            hi_ = 0xBF;
            --need_;
            continue;
        }
        if (b < 0x80) continue;
        // Lead bytes; the first continuation's range excludes overlong forms,
        // surrogates (ED A0..BF) and code points above U+10FFFF.
        if (b >= 0xC2 && b <= 0xDF) {
            need_ = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need_ = 2;
            if (b == 0xE0) lo_ = 0xA0;
            if (b == 0xED) hi_ = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need_ = 3;
            if (b == 0xF0) lo_ = 0x90;
            if (b == 0xF4) hi_ = 0x8F;
        } else {
            failed_ = true;
            return false;
        }
    }
    return true;
}

bool valid_utf8(std::string_view s) {
    Utf8Validator v;
    return v.feed(s) && v.complete();
}

}  // namespace gust::ws
